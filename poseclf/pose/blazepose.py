"""The three BlazePose landmark models: where poseclf finds them, installs them, builds ``.task``.

The mediapipe wheel bundles only Full (``model_complexity=1``); its legacy API would download Lite
(0) and Heavy (2) at first use, which poseclf never lets it do. A model file is looked for in:

1. ``--landmark-model FILE`` (``landmark_model=``), checked by its sha256;
2. mediapipe's own ``modules/pose_landmark/`` folder (the legacy API reads it there);
3. the poseclf user folder, :func:`user_folder`: ``$POSECLF_HOME/blazepose``, else
   ``$XDG_DATA_HOME/poseclf/blazepose``, else ``~/.local/share/poseclf/blazepose``.
   ``poseclf models --install-blazepose FILE`` copies a file there.

A file outside mediapipe's folder runs through the Tasks API, on a ``.task`` bundle built here
(:func:`task_file`, cached in the user folder) with the normalisation metadata the Tasks API
needs; for Full, its landmarks match the legacy API's to about 1e-4.

This module imports nothing heavy: mediapipe only inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ..errors import BlazePoseMismatchWarning, InputError, ModelNotAvailableError
from ..files import replace_atomically

#: ``model_complexity`` -> BlazePose model name.
MODEL_NAMES = {0: "lite", 1: "full", 2: "heavy"}
#: BlazePose landmark model file per ``model_complexity`` (MediaPipe's names).
LANDMARK_MODEL_FILES = {c: f"pose_landmark_{name}.tflite" for c, name in MODEL_NAMES.items()}
#: sha256 of the files MediaPipe publishes (Full: the one the mediapipe 0.10.21 wheel bundles).
LANDMARK_MODEL_SHA256 = {
    0: "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61",
    1: "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
    2: "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe",
}
HOME_ENV = "POSECLF_HOME"
DOWNLOAD_URL = "https://storage.googleapis.com/mediapipe-assets/"  # where MediaPipe publishes
#: Input normalisation of the two models in a pose_landmarker ``.task``: (mean, std).
DETECTOR_NORMALISATION = (127.5, 127.5)  # pixels to [-1, 1]
LANDMARKS_NORMALISATION = (0.0, 255.0)  # pixels to [0, 1]


def blazepose_of_tag(tag: object) -> str:
    """The BlazePose model an ``extractor`` tag (``solutions:2:0.5``) names; ``"full"`` when it
    names none (tables made before the tag, or by other tools)."""
    parts = str(tag).split(":")
    if len(parts) > 1 and parts[1] in ("0", "1", "2"):
        return MODEL_NAMES[int(parts[1])]
    return "full"


def table_blazepose(table) -> str:
    """The BlazePose model of a landmark table's detected rows, from its ``extractor`` column
    (``"full"`` without one); several models are joined: ``"full+heavy"``."""
    if "extractor" not in table.columns:
        return "full"
    tags = table.loc[table["detected"].astype(bool), "extractor"].fillna("").unique()
    names = {blazepose_of_tag(tag) for tag in tags} or {"full"}
    return "+".join(n for n in MODEL_NAMES.values() if n in names)


def warn_if_mismatched(trained: str, used: str, what: str = "") -> bool:
    """Warn (:class:`~poseclf.errors.BlazePoseMismatchWarning`) when a model trained on
    ``trained`` landmarks labels ``used`` ones; True when it warned. A warning, not an error:
    the models mostly agree (bench/blazepose.py measures what it costs)."""
    if trained == used:
        return False
    import warnings

    warnings.warn(BlazePoseMismatchWarning(
        f"{what + ': ' if what else ''}the model was trained on BlazePose {trained} landmarks "
        f"and labels BlazePose {used} ones; results may be a little worse (use --complexity "
        f"{_complexity_of_name(trained)} or retrain on {used} landmarks)"), stacklevel=2)
    return True


def _complexity_of_name(name: str) -> str:
    return next((str(c) for c, n in MODEL_NAMES.items() if n == name), "1")


def user_folder() -> Path:
    """The poseclf folder for BlazePose files (``$POSECLF_HOME/blazepose``, see module doc)."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser() / "blazepose"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "poseclf" / "blazepose"


def model_name(model_complexity: int) -> str:
    """``"lite"``, ``"full"`` or ``"heavy"``; an InputError for anything else."""
    if model_complexity not in MODEL_NAMES or isinstance(model_complexity, bool):
        raise InputError(f"model_complexity (--complexity) must be 0, 1 or 2, got "
                         f"{model_complexity!r}")
    return MODEL_NAMES[model_complexity]


def mediapipe_model_path(model_complexity: int) -> Path:
    """Where mediapipe's legacy API reads the landmark model of ``model_complexity``."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")  # without importing mediapipe (~1 s)
    if spec is None or spec.origin is None:
        raise ModelNotAvailableError("mediapipe is not installed; pip install mediapipe==0.10.21")
    return (Path(spec.origin).parent / "modules" / "pose_landmark"
            / LANDMARK_MODEL_FILES[model_complexity])


def sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def complexity_of(path: str | os.PathLike) -> int | None:
    """The ``model_complexity`` whose published file ``path`` is (by sha256), or None."""
    found = sha256(path)
    return next((c for c, known in LANDMARK_MODEL_SHA256.items() if known == found), None)


def _readable_file(path: Path, option: str) -> Path:
    if not path.is_file():
        raise InputError(f"{option} {path}: no such file; check the path")
    try:
        with open(path, "rb"):
            return path
    except OSError as err:
        raise InputError(f"{option} {path}: cannot read it ({err.strerror})") from None


def _how_to_get(model_complexity: int) -> str:
    file = LANDMARK_MODEL_FILES[model_complexity]
    return (f"put MediaPipe's {file} (from {DOWNLOAD_URL}{file}, sha256 "
            f"{LANDMARK_MODEL_SHA256[model_complexity][:12]}...) in {user_folder()} with "
            f"`poseclf models --install-blazepose {file}`, or pass --landmark-model {file}; "
            "poseclf never downloads it")


def find_landmark_model(model_complexity: int,
                        landmark_model: str | os.PathLike | None = None) -> Path:
    """The landmark model file of ``model_complexity`` (see the module doc for the order).

    Raises :class:`~poseclf.errors.ModelNotAvailableError` (one line: where to put the file)
    when it is nowhere, :class:`~poseclf.errors.InputError` when ``landmark_model`` is not
    the published file of that model.
    """
    name = model_name(model_complexity)
    if landmark_model is not None:
        path = _readable_file(Path(landmark_model), "--landmark-model")
        found = complexity_of(path)
        if found != model_complexity:
            what = ("is not a BlazePose landmark model poseclf knows (sha256 differs from "
                    "MediaPipe's published files)" if found is None
                    else f"is BlazePose {MODEL_NAMES[found]}, not {name}")
            raise InputError(f"--landmark-model {path}: {what}; give "
                             f"{LANDMARK_MODEL_FILES[model_complexity]} or use --complexity "
                             f"{found if found is not None else model_complexity}")
        return path
    for path in (mediapipe_model_path(model_complexity),
                 user_folder() / LANDMARK_MODEL_FILES[model_complexity]):
        if path.is_file():
            return path
    raise ModelNotAvailableError(
        f"BlazePose {name} (--complexity {model_complexity}) is not installed: "
        + _how_to_get(model_complexity))


def in_mediapipe_folder(path: Path) -> bool:
    """True when ``path`` is the file mediapipe's legacy API would read itself."""
    found = complexity_of_name(path)
    return found is not None and path == mediapipe_model_path(found)


def complexity_of_name(path: str | os.PathLike) -> int | None:
    """The ``model_complexity`` whose MediaPipe file name ``path`` has, or None."""
    name = Path(path).name
    return next((c for c, file in LANDMARK_MODEL_FILES.items() if file == name), None)


def install_landmark_model(file: str | os.PathLike) -> tuple[Path, bool]:
    """Copy a published BlazePose landmark model into :func:`user_folder`.

    The file is identified by its sha256 (whatever its name). Returns the installed path and
    whether it was copied (False: the same file was already there). Never replaces a
    different file of the same name: that is an InputError naming it.
    """
    source = _readable_file(Path(file), "--install-blazepose")
    complexity = complexity_of(source)
    if complexity is None:
        known = ", ".join(f"{MODEL_NAMES[c]} {h[:12]}..." for c, h in LANDMARK_MODEL_SHA256.items())
        raise InputError(f"--install-blazepose {source}: sha256 {sha256(source)[:12]}... is not "
                         f"one of MediaPipe's BlazePose landmark models ({known}); give "
                         "pose_landmark_lite.tflite or pose_landmark_heavy.tflite as published")
    target = user_folder() / LANDMARK_MODEL_FILES[complexity]
    if target.exists():
        if target.is_file() and complexity_of(target) == complexity:
            return target, False
        raise InputError(f"--install-blazepose: {target} already exists and is not BlazePose "
                         f"{MODEL_NAMES[complexity]} as published; remove it, then install again")
    try:
        replace_atomically(target, lambda tmp: shutil.copyfile(source, tmp))
    except OSError as err:
        raise InputError(f"--install-blazepose: cannot write {target} ({err.strerror}); set "
                         f"{HOME_ENV} to a folder you can write") from None
    return target, True


def task_file(model_complexity: int, landmark_model: str | os.PathLike | None = None) -> Path:
    """A pose_landmarker ``.task`` for ``model_complexity``, built once and cached in
    :func:`user_folder` (``pose_landmarker_<name>.task``)."""
    source = find_landmark_model(model_complexity, landmark_model)
    target = user_folder() / f"pose_landmarker_{MODEL_NAMES[model_complexity]}.task"
    if not target.is_file():
        try:
            replace_atomically(target, lambda tmp: build_task_file(source, tmp))
        except OSError as err:
            raise ModelNotAvailableError(
                f"cannot write the BlazePose .task file {target} ({err.strerror}); set "
                f"{HOME_ENV} to a folder you can write") from None
    return target


def build_task_file(landmark_model: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Assemble a Tasks ``pose_landmarker`` bundle: the wheel's person detector and
    ``landmark_model``, each with the image-input metadata the Tasks API needs
    (:data:`DETECTOR_NORMALISATION`, :data:`LANDMARKS_NORMALISATION`). Offline, about a second.
    """
    from mediapipe.tasks.python.metadata.metadata_writers import (
        metadata_writer,
        model_asset_bundle_utils,
        writer_utils,
    )

    detector = mediapipe_model_path(1).parent.parent / "pose_detection" / "pose_detection.tflite"
    parts = {
        "pose_detector.tflite": (detector, DETECTOR_NORMALISATION),
        "pose_landmarks_detector.tflite": (Path(landmark_model), LANDMARKS_NORMALISATION),
    }
    models = {}
    for name, (source, (mean, std)) in parts.items():
        model = bytearray(source.read_bytes())
        writer = metadata_writer.MetadataWriter.create(model)
        writer.add_general_info(name.removesuffix(".tflite"), f"BlazePose, from {source.name}")
        writer.add_image_input(norm_mean=[mean], norm_std=[std])
        for _ in writer_utils.get_output_tensor_types(model):
            writer.add_feature_output()
        models[name] = bytes(writer.populate()[0])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model_asset_bundle_utils.create_model_asset_bundle(models, str(path))
    return path
