"""BlazePose extraction: an RGB image (or video frame) in, one :class:`Pose` per person out.

This is the only module that runs MediaPipe. Two backends:

* ``"solutions"`` (default): ``mediapipe.solutions.pose``, the legacy graph, on the landmark
  model in mediapipe's folder (the ``mediapipe==0.10.21`` wheel bundles Full only, so it runs
  offline). One person per image. Lite and Heavy installed elsewhere
  (:mod:`poseclf.pose.blazepose`) run on the Tasks API instead: :func:`resolve_engine`.
* ``"tasks"``: the Tasks ``PoseLandmarker`` on a ``.task`` file (``task_path``, or one built
  for ``model_complexity`` by :func:`~poseclf.pose.blazepose.task_file`), with ``num_poses``
  for several people.

Image mode (``static_image_mode=True``) runs the person detector on every image; video mode
tracks the pose from frame to frame and runs the detector only when the person is lost.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelNotAvailableError
from .blazepose import (
    LANDMARK_MODEL_FILES,  # noqa: F401 (re-exported: poseclf.pose.extraction's old name)
    MODEL_NAMES,
    build_task_file,
    find_landmark_model,
    in_mediapipe_folder,
    mediapipe_model_path,
    model_name,
    task_file,
)
from .landmarks import N_LANDMARKS, Pose

BACKENDS = ("solutions", "tasks")
_VIDEO_FRAME_STEP_MS = 33  # timestamp step fed to the Tasks API in video mode (about 30 fps)


def mediapipe_module_dir() -> Path:
    """Folder of the ``mediapipe/modules`` directory inside the installed wheel."""
    return mediapipe_model_path(1).parent.parent


def bundled_model_path(model_complexity: int) -> Path:
    """Path where MediaPipe keeps the BlazePose landmark model of ``model_complexity``."""
    return mediapipe_model_path(model_complexity)


def resolve_engine(model_complexity: int = 1, backend: str = "solutions",
                   task_path: str | os.PathLike | None = None,
                   landmark_model: str | os.PathLike | None = None) -> tuple[str, Path | None]:
    """The backend that runs and its ``.task`` file (None for the legacy graph).

    ``solutions`` runs mediapipe's legacy graph when the model file is in mediapipe's folder;
    a file found elsewhere (the poseclf user folder, ``landmark_model``) runs through the Tasks
    API on a ``.task`` built from it (:func:`~poseclf.pose.blazepose.task_file`). ``tasks``
    without ``task_path`` builds that ``.task`` too.
    """
    if backend == "tasks" and task_path is not None:
        return "tasks", Path(task_path)
    path = find_landmark_model(model_complexity, landmark_model)
    if backend == "solutions" and in_mediapipe_folder(path):
        return "solutions", None
    return "tasks", task_file(model_complexity, landmark_model)


def check_extractor_options(model_complexity: int = 1, min_detection_confidence: float = 0.5,
                            backend: str = "solutions",
                            task_path: str | os.PathLike | None = None, *, num_poses: int = 1,
                            min_tracking_confidence: float = 0.5,
                            landmark_model: str | os.PathLike | None = None) -> None:
    """Raise :class:`~poseclf.errors.InputError` (a ``ValueError``) for settings that cannot work.

    Checked without starting BlazePose: the ranges, the backend, that the chosen model file is
    here (:func:`~poseclf.pose.blazepose.find_landmark_model`) or that the ``.task`` file
    exists and is a model bundle (``tasks`` with ``task_path``).
    """
    model_name(model_complexity)
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {', '.join(BACKENDS)} (--backend), got "
                         f"{backend!r}")
    for name, value in (
        ("min_detection_confidence", min_detection_confidence),
        ("min_tracking_confidence", min_tracking_confidence),
    ):
        if not 0.0 <= value <= 1.0:
            raise InputError(f"{name} must be in [0, 1], got {value!r}")
    if not isinstance(num_poses, int) or num_poses < 1:
        raise InputError(f"--num-poses {num_poses!r}: give 1 or more people per image")
    if backend == "solutions" and num_poses != 1:
        raise InputError("--num-poses: the 'solutions' backend finds one person per image; use "
                         "--backend tasks for num_poses > 1")
    if task_path is None:
        find_landmark_model(model_complexity, landmark_model)
        return
    if landmark_model is not None:
        raise InputError("--landmark-model and --task-file both give the model: keep one")
    path = Path(task_path)
    if not path.is_file():
        raise ModelNotAvailableError(f"--task-file {path}: no such .task file; check the path")
    if not zipfile.is_zipfile(path):
        raise ModelNotAvailableError(
            f"--task-file {path}: not a pose_landmarker .task file (a .task is a zip of "
            "two .tflite models); give the file from MediaPipe's model page")


@dataclass(frozen=True)
class ExtractOptions:
    """BlazePose settings of an extraction run (picklable; shipped to the workers).

    Parameters mirror :class:`PoseExtractor`; :meth:`check` refuses settings that cannot work.
    """

    model_complexity: int = 1
    min_detection_confidence: float = 0.5
    backend: str = "solutions"
    task_path: str | None = None
    landmark_model: str | None = None

    @property
    def tag(self) -> str:
        """Short text stored in the ``extractor`` column, e.g. ``solutions:1:0.5``; the second
        field is the BlazePose model (:func:`~poseclf.pose.blazepose.blazepose_of_tag`)."""
        base = f"{self.backend}:{self.model_complexity}:{self.min_detection_confidence:g}"
        return base if self.task_path is None else f"{base}:{Path(self.task_path).name}"

    @property
    def blazepose(self) -> str:
        """``"lite"``, ``"full"`` or ``"heavy"``: the landmark model these options run."""
        return MODEL_NAMES[self.model_complexity]

    def check(self) -> ExtractOptions:
        """These options after :func:`check_extractor_options` (before any work starts), with
        the backend that will run (:func:`resolve_engine`): a Lite or Heavy file outside
        mediapipe's folder gives ``tasks`` and its built ``.task``."""
        check_extractor_options(self.model_complexity, self.min_detection_confidence,
                                self.backend, self.task_path, landmark_model=self.landmark_model)
        backend, task = resolve_engine(self.model_complexity, self.backend, self.task_path,
                                       self.landmark_model)
        return replace(self, backend=backend, task_path=None if task is None else str(task),
                       landmark_model=None)

    def for_people(self, people: int) -> ExtractOptions:
        """These options for up to ``people`` people per image: above 1 on the Tasks backend
        (the legacy graph finds one person), its ``.task`` built and checked here."""
        if people == 1 or self.backend == "tasks":
            return self
        return replace(self, backend="tasks", task_path=None).check()

    def extractor(self, static_image_mode: bool = True, **kwargs) -> PoseExtractor:
        """A new :class:`PoseExtractor` with these settings (``kwargs``: its other ones)."""
        return PoseExtractor(static_image_mode, self.model_complexity,
                             min_detection_confidence=self.min_detection_confidence,
                             backend=self.backend, task_path=self.task_path,
                             landmark_model=self.landmark_model, **kwargs)



class PoseExtractor:
    """Find BlazePose landmarks in RGB images.

    Parameters
    ----------
    static_image_mode : bool, default=True
        True: every image is independent (photos). False: video mode, the pose is tracked
        from frame to frame and the detector runs only when it is lost.
    model_complexity : {0, 1, 2}, default=1
        BlazePose lite, full or heavy. Only 1 is bundled; 0 and 2 need their file
        (:mod:`poseclf.pose.blazepose`: mediapipe's folder, the poseclf user folder or
        ``landmark_model``). Outside mediapipe's folder they run on the Tasks API, and
        :attr:`backend` then reads ``"tasks"``.
    smooth_landmarks : bool, default=True
        Filter landmarks across frames to reduce jitter (video mode only).
    min_detection_confidence : float, default=0.5
        Minimum person-detector score for a detection to count.
    min_tracking_confidence : float, default=0.5
        Minimum landmark score to keep tracking; below it the detector runs again (video mode).
    backend : {"solutions", "tasks"}, default="solutions"
    task_path : path, optional
        ``.task`` model bundle for the ``tasks`` backend (default: one built for
        ``model_complexity`` and cached in the poseclf user folder).
    landmark_model : path, optional
        The ``pose_landmark_<lite|full|heavy>.tflite`` to use, checked by its sha256.
    num_poses : int, default=1
        Maximum number of people (``tasks`` backend only).

    Examples
    --------
    >>> from skimage.data import astronaut
    >>> with PoseExtractor() as extract:
    ...     pose = extract(astronaut())
    >>> pose.landmarks.shape
    (33, 4)
    """

    def __init__(
        self,
        static_image_mode: bool = True,
        model_complexity: int = 1,
        *,
        smooth_landmarks: bool = True,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        backend: str = "solutions",
        task_path: str | os.PathLike | None = None,
        num_poses: int = 1,
        landmark_model: str | os.PathLike | None = None,
    ) -> None:
        check_extractor_options(model_complexity, min_detection_confidence, backend, task_path,
                                num_poses=num_poses,
                                min_tracking_confidence=min_tracking_confidence,
                                landmark_model=landmark_model)
        backend, task_path = resolve_engine(model_complexity, backend, task_path, landmark_model)
        self.static_image_mode = static_image_mode
        self.model_complexity = model_complexity
        self.smooth_landmarks = smooth_landmarks
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.backend = backend
        self.task_path = Path(task_path) if task_path is not None else None
        self.num_poses = num_poses
        self._timestamp_ms = 0
        if backend == "solutions":
            self._graph = self._open_solutions()
        else:
            self._graph = self._open_tasks()

    # -- backends --------------------------------------------------------------------------
    def _open_solutions(self):
        from mediapipe.python.solutions import pose as mp_pose

        return mp_pose.Pose(
            static_image_mode=self.static_image_mode,
            model_complexity=self.model_complexity,
            smooth_landmarks=self.smooth_landmarks,
            min_detection_confidence=self.min_detection_confidence,
            min_tracking_confidence=self.min_tracking_confidence,
        )

    def _open_tasks(self):
        if not self.task_path.is_file():
            raise ModelNotAvailableError(f"{self.task_path}: no such .task file")
        from mediapipe.tasks.python import BaseOptions
        from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions
        from mediapipe.tasks.python.vision.core.vision_task_running_mode import (
            VisionTaskRunningMode,
        )

        modes = VisionTaskRunningMode
        mode = modes.IMAGE if self.static_image_mode else modes.VIDEO
        options = PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=self.task_path.read_bytes()),
            running_mode=mode,
            num_poses=self.num_poses,
            min_pose_detection_confidence=self.min_detection_confidence,
            min_pose_presence_confidence=self.min_detection_confidence,
            min_tracking_confidence=self.min_tracking_confidence,
        )
        try:
            return PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as err:
            raise ModelNotAvailableError(
                f"{self.task_path}: not a usable pose_landmarker .task file ({err})"
            ) from err

    # -- public API ------------------------------------------------------------------------
    def __call__(self, image_rgb: np.ndarray) -> Pose | None:
        """The most prominent person's pose in ``image_rgb``, or None when nobody is found."""
        poses = self.detect_all(image_rgb)
        return poses[0] if poses else None

    def detect_all(self, image_rgb: np.ndarray) -> list[Pose]:
        """Every person found (at most ``num_poses``), most prominent first."""
        image = _check_rgb(image_rgb)
        height, width = image.shape[:2]
        if self._graph is None:
            raise RuntimeError("this PoseExtractor is closed")
        if self.backend == "solutions":
            result = self._graph.process(image)
            if result.pose_landmarks is None:
                return []
            world = result.pose_world_landmarks
            return [
                Pose(
                    _landmark_array(result.pose_landmarks.landmark, with_visibility=True),
                    _landmark_array(world.landmark, with_visibility=False) if world else None,
                    (width, height),
                )
            ]
        return self._detect_tasks(image, width, height)

    def _detect_tasks(self, image: np.ndarray, width: int, height: int) -> list[Pose]:
        import mediapipe as mp

        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=image)
        if self.static_image_mode:
            result = self._graph.detect(mp_image)
        else:
            self._timestamp_ms += _VIDEO_FRAME_STEP_MS
            result = self._graph.detect_for_video(mp_image, self._timestamp_ms)
        poses = []
        for i, landmarks in enumerate(result.pose_landmarks):
            world = result.pose_world_landmarks[i] if i < len(result.pose_world_landmarks) else None
            poses.append(
                Pose(
                    _landmark_array(landmarks, with_visibility=True),
                    _landmark_array(world, with_visibility=False) if world else None,
                    (width, height),
                )
            )
        return poses

    def close(self) -> None:
        """Release the MediaPipe graph. The extractor cannot be used afterwards."""
        if self._graph is not None:
            self._graph.close()
            self._graph = None

    def __enter__(self) -> PoseExtractor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def blazepose(self) -> str:
        """``"lite"``, ``"full"`` or ``"heavy"``: the landmark model this extractor runs."""
        return MODEL_NAMES[self.model_complexity]

    def __repr__(self) -> str:
        return (
            f"PoseExtractor(static_image_mode={self.static_image_mode}, "
            f"model_complexity={self.model_complexity}, backend={self.backend!r})"
        )


def _check_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:  # the Tasks API rejects single-channel images: make it RGB
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (height, width, 3), got {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}; use poseclf.read_image")
    return np.ascontiguousarray(image)


def _landmark_array(landmarks, *, with_visibility: bool) -> np.ndarray:
    if len(landmarks) != N_LANDMARKS:
        raise RuntimeError(f"BlazePose returned {len(landmarks)} landmarks, expected {N_LANDMARKS}")
    if with_visibility:
        rows = [(p.x, p.y, p.z, p.visibility or 0.0) for p in landmarks]
    else:
        rows = [(p.x, p.y, p.z) for p in landmarks]
    return np.asarray(rows, dtype=np.float32)


def build_full_task_file(path: str | os.PathLike) -> Path:
    """Assemble a Tasks ``pose_landmarker`` file from the BlazePose Full models in the wheel
    (:func:`~poseclf.pose.blazepose.build_task_file`). Offline; takes about a second."""
    return build_task_file(mediapipe_model_path(1), path)
