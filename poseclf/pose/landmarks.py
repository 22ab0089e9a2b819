"""BlazePose topology as plain data: landmark names, skeleton connections, mirror permutation.

Also the :class:`Pose` type that carries one person's landmarks between the stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

N_LANDMARKS = 33  # BlazePose topology (MediaPipe's PoseLandmark has 33 members)
LANDMARK_DIMS = 4  # x, y (normalised to the image), z (same scale as x), visibility
WORLD_DIMS = 3  # x, y, z in metres, origin at the hip centre
VISIBILITY_THRESHOLD = 0.5  # MediaPipe drawing_utils' _VISIBILITY_THRESHOLD
NO_PERSON = "no_person"  # reason of a row, label of a photo or frame: BlazePose found nobody

#: The 33 BlazePose landmark names, in model output order.
LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)

PoseLandmark = IntEnum("PoseLandmark", {n.upper(): i for i, n in enumerate(LANDMARK_NAMES)})
PoseLandmark.__doc__ = "Index of each BlazePose landmark, e.g. ``PoseLandmark.LEFT_HIP == 23``."

#: Skeleton edges as index pairs (the 35 connections BlazePose draws).
POSE_CONNECTIONS: tuple[tuple[int, int], ...] = (
    # face
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    # torso
    (11, 12), (11, 23), (12, 24), (23, 24),
    # left arm and hand
    (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    # right arm and hand
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    # left leg and foot
    (23, 25), (25, 27), (27, 29), (29, 31), (27, 31),
    # right leg and foot
    (24, 26), (26, 28), (28, 30), (30, 32), (28, 32),
)  # fmt: skip


def _mirror_name(name: str) -> str:
    """Swap the body side in a landmark name (``left_hip`` <-> ``right_hip``)."""
    if name.startswith("left_"):
        return "right_" + name[len("left_"):]
    if name.startswith("right_"):
        return "left_" + name[len("right_"):]
    if name.endswith("_left"):
        return name[: -len("_left")] + "_right"
    if name.endswith("_right"):
        return name[: -len("_right")] + "_left"
    return name


#: ``landmarks[MIRROR_PERMUTATION]`` relabels left as right and right as left. Together with
#: ``x -> 1 - x`` (image) or ``x -> -x`` (world) it gives the pose of the mirrored picture.
MIRROR_PERMUTATION: tuple[int, ...] = tuple(
    LANDMARK_NAMES.index(_mirror_name(n)) for n in LANDMARK_NAMES
)


@dataclass(frozen=True)
class Pose:
    """One person's BlazePose landmarks in one image.

    Attributes
    ----------
    landmarks : ndarray of shape (33, 4), float32
        x, y normalised to the image width and height, z on the scale of x (hip-centred depth),
        visibility in [0, 1].
    world_landmarks : ndarray of shape (33, 3), float32, or None
        Metric 3D coordinates (metres), origin between the hips. ``None`` if the backend gave none.
    image_size : (width, height)
        Size in pixels of the image the pose was found in; embeddings need it to make x and y
        aspect-correct.
    """

    landmarks: np.ndarray
    world_landmarks: np.ndarray | None
    image_size: tuple[int, int]

    def __post_init__(self) -> None:
        lm = np.asarray(self.landmarks, dtype=np.float32)
        if lm.shape != (N_LANDMARKS, LANDMARK_DIMS):
            raise ValueError(
                f"landmarks must have shape ({N_LANDMARKS}, {LANDMARK_DIMS}), got {lm.shape}"
            )
        object.__setattr__(self, "landmarks", lm)
        if self.world_landmarks is not None:
            wl = np.asarray(self.world_landmarks, dtype=np.float32)
            if wl.shape != (N_LANDMARKS, WORLD_DIMS):
                raise ValueError(
                    f"world_landmarks must have shape ({N_LANDMARKS}, {WORLD_DIMS}), got {wl.shape}"
                )
            object.__setattr__(self, "world_landmarks", wl)
        width, height = (int(v) for v in self.image_size)
        if width <= 0 or height <= 0:
            raise ValueError(f"image_size must be positive (width, height), got {self.image_size}")
        object.__setattr__(self, "image_size", (width, height))

    @property
    def visibility(self) -> np.ndarray:
        """Per-landmark visibility, shape (33,)."""
        return self.landmarks[:, 3]

    @property
    def pixels(self) -> np.ndarray:
        """Landmark x, y in pixels, shape (33, 2), float32."""
        return self.landmarks[:, :2] * np.asarray(self.image_size, dtype=np.float32)

    def mirrored(self) -> Pose:
        """The pose of the horizontally flipped image (left and right swapped)."""
        lm = self.landmarks[list(MIRROR_PERMUTATION)].copy()
        lm[:, 0] = 1.0 - lm[:, 0]
        world = None
        if self.world_landmarks is not None:
            world = self.world_landmarks[list(MIRROR_PERMUTATION)].copy()
            world[:, 0] = -world[:, 0]
        return Pose(lm, world, self.image_size)
