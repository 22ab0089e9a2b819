"""Writing and reading poseclf model files: the payload a ``.skops`` file holds, and its trust rule.

A model file is a skops archive of one dict: the format marker and version, the metadata, the
fitted ``embed`` + classifier pipeline and, for models that reject, the novelty scorers, their
features and the visibility settings. :func:`write_model` writes it atomically;
:func:`read_model` refuses anything but :data:`TRUSTED_TYPES` (checked from the file's schema
before skops reads an array, after the checks of :mod:`poseclf.classify.model_file`) and returns
a fitted :class:`~poseclf.classify.pose_classifier.PoseClassifier` and the metadata. joblib/pickle
files load only with ``trusted=True``.

Imports: :mod:`poseclf.classify.model_file` and the checks it lists
(:mod:`~poseclf.classify.skops_archive`, :mod:`~poseclf.classify.model_metadata`,
:mod:`~poseclf.classify.loaded_model_checks`), :mod:`poseclf.classify.pose_classifier`,
:mod:`poseclf.classify.novelty`, :mod:`poseclf.files`, :mod:`poseclf.shipped`; skops and joblib
when a file is read or written.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelBinarizer, StandardScaler
from sklearn.svm import SVC
from sklearn.utils import Bunch

from ..errors import InputError, ModelFileError, RunError
from ..files import replace_atomically
from .calibrated_svc import PlattSVC
from .classifiers import PoseKNNClassifier
from .embedding import PoseEmbedder
from .loaded_model_checks import check_novelty_scorer, check_pipeline
from .model_file import (
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    REMAKE,
    TRUST_HINT,
    check_model_output,
    sniff,
)
from .model_metadata import check_format, check_metadata
from .novelty import NoveltyEmbedder, NoveltyScorer
from .pose_classifier import PoseClassifier
from .skops_archive import inspect_skops
from .visibility import VisibilityCheck

log = logging.getLogger(__name__)

def type_name(cls: type) -> str:
    """The name a skops file gives a type: ``module.qualname`` where the class is defined
    (e.g. ``sklearn.svm._classes.SVC`` for ``sklearn.svm.SVC``)."""
    return f"{cls.__module__}.{cls.__qualname__}"


#: Types named through their public import, so that a class scikit-learn or NumPy moves to another
#: private module is still trusted (under the new name it is written with).
_PUBLIC_TYPES: tuple[type, ...] = (
    PoseEmbedder, PoseKNNClassifier, PlattSVC, NoveltyScorer, NoveltyEmbedder,
    Pipeline, StandardScaler, SVC, CalibratedClassifierCV, LogisticRegression, MLPClassifier,
    GridSearchCV, StratifiedKFold, LabelBinarizer, Bunch,
    np.ndarray, np.str_, np.dtype, np.float64, np.float32, np.int64, np.int32, np.intp, np.bool_,
    np.random.RandomState, np.ma.MaskedArray,
    slice, tuple, dict, list, str, int, float, bool, type(None), object,
)
#: Types scikit-learn keeps private, which fitted estimators hold: only their names can be given.
#: ``CalibratedClassifierCV`` and its two parts are the SVM of model files written before
#: :class:`~poseclf.classify.calibrated_svc.PlattSVC`; the optimizers are inside ``MLPClassifier``.
#: ``tests/test_model_files.py`` checks that each still names a class.
PRIVATE_TYPE_NAMES: tuple[str, ...] = (
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
)
#: Types a poseclf model file may contain (skops refuses everything else).
TRUSTED_TYPES: tuple[str, ...] = tuple(dict.fromkeys(
    [type_name(t) for t in _PUBLIC_TYPES] + list(PRIVATE_TYPE_NAMES)))


#: The modules of poseclf 0.1.0 and before, which files saved then name (e.g.
#: ``poseclf.embedding.PoseEmbedder``), and where each is now that the modules sit in the stage
#: packages. Reading maps the old names to the new ones (in a skops file's schema, in a pickle);
#: files are written with the new names.
#: Names a flat module held that now live in another module than the one it maps to:
#: ``VisibilityCheck`` (pickled inside model files) moved from novelty to its own module.
MOVED_NAMES: dict[str, dict] = {"poseclf.novelty": {"VisibilityCheck": VisibilityCheck}}
MOVED_MODULES: dict[str, str] = {
    "poseclf.landmarks": "poseclf.pose.landmarks",
    "poseclf.images": "poseclf.pose.images",
    "poseclf.video_sources": "poseclf.pose.video_sources",
    "poseclf.extraction": "poseclf.pose.extraction",
    "poseclf.poses": "poseclf.pose.poses",
    "poseclf.table": "poseclf.pose.table",
    "poseclf.draw": "poseclf.pictures.draw",
    "poseclf.plots": "poseclf.pictures.plots",
    "poseclf.sheets": "poseclf.pictures.sheets",
    "poseclf.detect": "poseclf.pictures.detect",
    "poseclf.embedding": "poseclf.classify.embedding",
    "poseclf.classifiers": "poseclf.classify.classifiers",
    "poseclf.novelty": "poseclf.classify.novelty",
    "poseclf.lean_predict": "poseclf.classify.lean_predict",
    "poseclf.pose_classifier": "poseclf.classify.pose_classifier",
    "poseclf.model_file": "poseclf.classify.model_file",
    "poseclf.model_io": "poseclf.classify.model_io",
    "poseclf.model": "poseclf.classify.model",
    "poseclf.model_card": "poseclf.classify.model_card",
    "poseclf.predict": "poseclf.classify.predict",
    "poseclf.cluster": "poseclf.tables.cluster",
    "poseclf.engine": "poseclf.tables.engine",
    "poseclf.dataset": "poseclf.tables.dataset",
    "poseclf.exclusions": "poseclf.tables.exclusions",
    "poseclf.review": "poseclf.tables.review",
    "poseclf.video_segments": "poseclf.video.segments",
    "poseclf.video_outputs": "poseclf.video.outputs",
    "poseclf.video": "poseclf.video.run",
    "poseclf.smoothing": "poseclf.video.smoothing",
    "poseclf.counting": "poseclf.video.counting",
}


def write_model(estimator: PoseClassifier, metadata: dict, path: str | os.PathLike, *,
                inputs=()) -> Path:
    """Write a fitted estimator and its metadata with ``skops.io`` (atomic: temporary file,
    then rename).

    ``path`` must end in ``.skops`` and must not be a folder nor one of ``inputs`` (e.g. the
    training tables); a folder that cannot be written is refused with
    :class:`~poseclf.errors.InputError`, and a failed write (disk full) raises
    :class:`~poseclf.errors.RunError`, leaving any previous file at ``path`` as it was.
    """
    import skops.io as sio

    path = check_model_output(path, inputs=inputs)
    payload = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "metadata": metadata,
        "pipeline": estimator.pipeline_,
    }
    if estimator.novelty_ is not None:
        payload["novelty"] = estimator.novelty_
        payload["visibility"] = estimator.visibility_.get_params()
        if estimator.novelty_features_ is not None:
            payload["novelty_features"] = estimator.novelty_features_
        if estimator.novelty_image_ is not None:
            payload["novelty_image"] = estimator.novelty_image_
    try:
        return replace_atomically(path, lambda tmp: sio.dump(payload, tmp))
    except (PermissionError, IsADirectoryError, NotADirectoryError) as err:
        raise InputError(f"{path}: cannot write the model there ({err.strerror or err}); "
                         "choose another folder or change its permissions") from None
    except OSError as err:
        if err.errno == errno.EROFS:
            raise InputError(f"{path}: cannot write the model there (read-only file "
                             "system); choose another folder") from None
        raise RunError(f"{path}: could not write the model ({err.strerror or err}); any "
                       "previous file there is unchanged: free some disk space or choose "
                       "another folder, then save again") from None


def read_model(path: str | os.PathLike, trusted: bool = False
               ) -> tuple[Path, PoseClassifier, dict]:
    """The resolved path, fitted estimator and metadata of a model file or shipped model name.

    Everything is checked before the arrays are read (:mod:`poseclf.classify.model_file`), then the
    loaded parts; any refusal is one :class:`~poseclf.errors.ModelFileError` naming the file and
    the fix. ``trusted=True`` also accepts joblib/pickle files and skops files with other types
    or above the size limits.
    """
    from ..shipped import resolve_model  # a bare name such as "yoga" is a shipped model

    path = resolve_model(path)
    if sniff(path, trusted) == "zip":
        payload = _load_skops(path, trusted)
    else:  # only with trusted=True
        import joblib

        try:
            with _moved_modules_importable():
                payload = joblib.load(path)
        except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
            raise ModelFileError(f"{path}: cannot read as joblib/pickle ({err}); "
                                 f"{REMAKE}") from err
    if type(payload).__name__ == "PoseModel" and hasattr(payload, "__dict__"):
        payload = _pickled_payload(payload)
    pipeline, meta = _check_payload(payload, path)
    return path, PoseClassifier.from_parts(pipeline, *_check_rejection(payload, path)), meta


def _pickled_payload(model) -> dict:
    """The file payload of a pickled :class:`PoseModel` (any poseclf version's layout)."""
    state = model.__dict__
    if "estimator" in state:  # the estimator's parts, as a skops file stores them
        est = state["estimator"]
        state = {"pipeline": est.__dict__.get("pipeline_"), "novelty_": est.novelty_,
                 "visibility_": est.visibility_, "novelty_features_": est.novelty_features_,
                 "novelty_image_": est.novelty_image_}
    visibility = state.get("visibility_")
    return {"format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION,
            "metadata": state.get("metadata", model.__dict__.get("metadata")),
            "pipeline": state.get("pipeline"), "novelty": state.get("novelty_"),
            "visibility": visibility.get_params() if visibility is not None else None,
            "novelty_features": state.get("novelty_features_"),
            "novelty_image": state.get("novelty_image_")}


def _load_skops(path: Path, trusted: bool):
    schema = inspect_skops(path, trusted)  # sizes, metadata: nothing of the arrays read yet
    import skops.io as sio  # after the checks: importing it takes ~1 s

    data = _moved_archive(path, schema)  # a file saved before the stage packages, renamed
    source = {"file": path} if data is None else {"data": data}
    # skops trusts many scikit-learn types by default; poseclf's list is the whole rule, so
    # every type named in the file's schema is checked against it (before skops reads arrays).
    found = _schema_types(path, schema)
    unknown = [t for t in found if t not in TRUSTED_TYPES]
    if not unknown:
        try:
            found = list(dict.fromkeys([*found, *sio.get_untrusted_types(**source)]))
        except Exception as err:  # noqa: BLE001 - skops raises many types for a corrupt archive
            raise ModelFileError(f"{path}: damaged skops model file ({err}); "
                                 f"{REMAKE}") from err
        unknown = [t for t in found if t not in TRUSTED_TYPES]
    if unknown and not trusted:
        raise ModelFileError(
            f"{path}: refused, the file contains types poseclf does not trust: "
            f"{', '.join(unknown)}. {TRUST_HINT[0].upper()}{TRUST_HINT[1:]}."
        )
    trusted_types = list(dict.fromkeys([*found, *TRUSTED_TYPES]))
    try:
        if data is None:
            return sio.load(path, trusted=trusted_types)
        return sio.loads(data, trusted=trusted_types)
    except Exception as err:  # noqa: BLE001
        raise ModelFileError(f"{path}: cannot load the skops model ({err}); {REMAKE}") from err


def _renamed_modules(schema: dict) -> bool:
    """Rename, in place, the :data:`MOVED_MODULES` a skops schema names (classes, functions);
    whether it named any."""
    renamed = False
    stack: list = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in ("__module__", "module_path"):
                value = node.get(key)
                if isinstance(value, str) and value in MOVED_MODULES:
                    node[key] = MOVED_MODULES[value]
                    renamed = True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return renamed


def _moved_archive(path: Path, schema: dict) -> bytes | None:
    """The skops archive, in memory, with today's module names when its schema (renamed in
    place) names :data:`MOVED_MODULES`; None when it names none (the file is read as it is)."""
    if not _renamed_modules(schema):
        return None
    buffer = io.BytesIO()
    try:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w") as target:
            for info in source.infolist():
                member = (json.dumps(schema).encode() if info.filename == "schema.json"
                          else source.read(info))
                target.writestr(info, member)
    except Exception as err:  # noqa: BLE001 - a member that does not decompress
        raise ModelFileError(f"{path}: damaged skops model file ({err}); {REMAKE}") from err
    return buffer.getvalue()


@contextlib.contextmanager
def _moved_modules_importable():
    """While a pickle is read: the old names of :data:`MOVED_MODULES` are today's modules in
    ``sys.modules``, for the modules already imported (everything a model is made of: the
    caller, :meth:`PoseModel.load <poseclf.classify.model.PoseModel.load>`, imports them all);
    the old names are gone again afterwards."""
    aliases = [old for old, new in MOVED_MODULES.items()
               if old not in sys.modules and new in sys.modules]
    for old in aliases:
        module = sys.modules[MOVED_MODULES[old]]
        if old in MOVED_NAMES:  # the old module held names that now live elsewhere
            module = types.ModuleType(old)
            module.__dict__.update(sys.modules[MOVED_MODULES[old]].__dict__)
            module.__dict__.update(MOVED_NAMES[old])
        sys.modules[old] = module
    try:
        yield
    finally:
        for old in aliases:
            sys.modules.pop(old, None)


def _schema_types(path: Path, schema: dict | None = None) -> list[str]:
    """Every ``module.Class`` named in the ``schema.json`` of a skops file."""
    if schema is None:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    types: dict[str, None] = {}
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                types[f"{node['__module__']}.{node['__class__']}"] = None
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return list(types)


def _check_payload(payload, path: Path) -> tuple[Pipeline, dict]:
    if not isinstance(payload, dict):
        held = f"{type(payload).__module__}.{type(payload).__qualname__}"
        raise ModelFileError(f"{path}: not a poseclf model file: it holds a {held} (no "
                             f"'{MODEL_FORMAT}' marker); give a model saved by `poseclf train`")
    check_format(payload.get("format"), payload.get("format_version"), path)
    meta = payload.get("metadata")
    check_metadata(meta, path)
    pipeline = payload.get("pipeline")
    check_pipeline(pipeline, meta, path)
    return pipeline, meta


def _check_rejection(payload: dict, path: Path) -> tuple:
    """Novelty scorer, visibility check, novelty features and image-only scorer of a payload;
    all None for files saved before rejection."""
    novelty = payload.get("novelty")
    if novelty is None:
        log.warning("%s: the model file has no novelty data (saved before poseclf rejected "
                    "unknown and partial poses): rejection is disabled for it; retrain with "
                    "`poseclf train` to enable it", path)
        return None, None, None, None
    check_novelty_scorer(novelty, path, "novelty data")
    try:
        visibility = VisibilityCheck(**(payload.get("visibility") or {}))
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"{path}: bad visibility settings in the model file ({err}); "
                             "retrain it with `poseclf train`.") from err
    features, image = payload.get("novelty_features"), payload.get("novelty_image")
    if features is not None and not (isinstance(features, NoveltyEmbedder)
                                     and hasattr(features, "image_embedder_")):
        raise ModelFileError(f"{path}: the model file's novelty features are not a fitted "
                             "NoveltyEmbedder; retrain it with `poseclf train`.")
    if image is not None:
        if features is None:
            raise ModelFileError(f"{path}: the model file has image-only novelty data but no "
                                 "novelty features; retrain it with `poseclf train`.")
        check_novelty_scorer(image, path, "image-only novelty data")
    return novelty, visibility, features, image
