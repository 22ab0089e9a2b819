"""A trained pose classifier as one object and one file: a fitted PoseClassifier + metadata.

The arithmetic (embedding, classifier, rejection) is the estimator
:class:`~poseclf.pose_classifier.PoseClassifier`; this module trains it the way ``poseclf train``
does (label checks, cross-validated report), records the metadata, and writes and reads the
model file.

Model files are written with ``skops.io`` and loaded with an explicit list of trusted types, so
loading a file never runs code from it. joblib/pickle files load only with ``trusted=True``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import logging
import os
import zipfile
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from ._version import __version__
from .embedding import pose_matrix
from .errors import InputError, ModelFileError, RunError
from .files import replace_atomically
from .landmarks import Pose
from .model_file import (
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    REMAKE,
    TRUST_HINT,
    check_format,
    check_metadata,
    check_model_output,
    check_novelty_scorer,
    check_pipeline,
    check_predicts,
    inspect_skops,
    sniff,
)
from .novelty import (
    PARTIAL_LABEL,
    UNKNOWN_LABEL,
    NoveltyEmbedder,
    NoveltyScorer,
    VisibilityCheck,
)
from .pose_classifier import PoseClassifier, Predictions, plain_params, pose_rows
from .table import SCHEMA_VERSION

log = logging.getLogger(__name__)

MODEL_SUFFIX = ".skops"
CV_RANDOM_STATE = 0  # fold shuffling seed: same folds every run

#: Types a poseclf model file may contain (skops refuses everything else).
TRUSTED_TYPES: tuple[str, ...] = (
    "poseclf.embedding.PoseEmbedder",
    "poseclf.classifiers.PoseKNNClassifier",
    "poseclf.novelty.NoveltyScorer",
    "poseclf.novelty.NoveltyEmbedder",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.svm._classes.SVC",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.model_selection._search.GridSearchCV",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.preprocessing._label.LabelBinarizer",
    "sklearn.utils._bunch.Bunch",
    "numpy.ndarray",
    "numpy.str_",
    "numpy.dtype",
    "numpy.float64",
    "numpy.float32",
    "numpy.int64",
    "numpy.int32",
    "numpy.intp",
    "numpy.bool_",
    "numpy.random.mtrand.RandomState",
    "numpy.ma.core.MaskedArray",
    "builtins.slice",
    "builtins.tuple",
    "builtins.dict",
    "builtins.list",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.NoneType",
    "builtins.object",
)


def evaluation_report(y_true, y_pred, classes=None) -> dict:
    """Accuracy, macro-F1, n, per-class precision/recall/F1/support and the confusion matrix."""
    y_true = np.asarray(y_true, dtype=object).astype(str)
    y_pred = np.asarray(y_pred, dtype=object).astype(str)
    labels = sorted(set(classes or ()) | set(y_true) | set(y_pred))
    present = sorted(set(y_true))
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return {
        "n": len(y_true),
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else float("nan"),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro",
                                   zero_division=0)),
        "per_class": {
            c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                "support": int(s[i])}
            for i, c in enumerate(labels)
        },
        "labels": labels,
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def cross_validate_model(landmarks, image_sizes, labels, classifier: str = "svm", *,
                         cv: int = 5, mirror: bool = True, embedder_params: dict | None = None,
                         classifier_params: dict | None = None,
                         random_state: int = CV_RANDOM_STATE) -> dict:
    """Stratified K-fold evaluation; mirror augmentation only on the training folds.

    ``cv`` is lowered to the size of the smallest class (at least 2). Returns
    :func:`evaluation_report` of the out-of-fold predictions plus ``cv`` (folds used).
    """
    landmarks = np.asarray(landmarks, dtype=np.float32)
    labels = np.asarray(labels, dtype=object).astype(str)
    _, counts = np.unique(labels, return_counts=True)
    folds = min(int(cv), int(counts.min()))
    if folds < 2:
        raise ValueError(
            f"cross-validation needs at least 2 samples per class; smallest class has "
            f"{counts.min()}"
        )
    if folds < cv:
        log.warning("cv lowered from %d to %d folds (smallest class has %d samples)",
                    cv, folds, counts.min())
    estimator = PoseClassifier(classifier, classifier_params=classifier_params,
                               embedder_params=embedder_params, mirror=mirror, rejection=False)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    proba = cross_val_predict(estimator, pose_rows(landmarks, image_sizes), labels, cv=splitter,
                              method="predict_proba")
    pred = np.unique(labels)[np.argmax(proba, axis=1)]
    report = evaluation_report(labels, pred)
    report["cv"] = folds
    return report


#: Fewest detected poses of a class that training accepts: cross-validation, the SVM's
#: probability calibration and the 'unknown' threshold all hold some poses out.
MIN_POSES_PER_CLASS = 4


def check_training_labels(labels) -> None:
    """Raise :class:`~poseclf.errors.InputError` (a ``ValueError``) unless there are at least
    two classes of at least :data:`MIN_POSES_PER_CLASS` poses each."""
    classes, counts = np.unique(np.asarray(labels, dtype=object).astype(str),
                                return_counts=True)
    if len(classes) < 2:
        found = f"only {classes[0]!r}" if len(classes) else "no pose"
        raise InputError(f"training needs at least 2 classes and the data has {found}: add "
                         "the photos of another class (one sub-folder per class)")
    small = [f"{c!r} ({n})" for c, n in zip(classes, counts, strict=True)
             if n < MIN_POSES_PER_CLASS]
    if small:
        raise InputError(f"every class needs at least {MIN_POSES_PER_CLASS} detected poses to "
                         f"train, cross-validate and calibrate 'unknown'; too few in "
                         f"{', '.join(small)}: add photos of those classes or leave them out")


#: Below this many poses in a class, a scikit-learn error while training means that the
#: folds of cross-validation, calibration or the grid search have too few poses of it.
SMALL_CLASS = 20


@contextlib.contextmanager
def small_classes_as_input_error(labels: np.ndarray):
    """Turn scikit-learn's fold-size errors on small classes into an error that says the fix."""
    try:
        yield
    except ValueError as err:
        if isinstance(err, InputError):
            raise
        classes, counts = np.unique(labels, return_counts=True)
        if counts.min() >= SMALL_CLASS:
            raise
        smallest = classes[np.argmin(counts)]
        raise InputError(
            f"too few poses per class for these settings (smallest class {smallest!r} has "
            f"{counts.min()}; scikit-learn: {err}): add photos, or try another --cv, "
            "no --search, or keep the mirror augmentation") from err


class PoseModel:
    """A trained pose classifier and its file: a fitted :class:`PoseClassifier`, its classes
    and metadata.

    Make one with :meth:`train` or :meth:`load`; the arithmetic is the estimator's
    (:attr:`estimator`), this class adds the training report, the metadata and the safe file.

    Attributes
    ----------
    estimator : PoseClassifier
        Fitted; its input is :func:`~poseclf.pose_classifier.pose_rows`.
    classes_ : list of str
    metadata : dict
        poseclf version, landmark schema, classifier name and parameters, training-set size and
        per-class counts, cross-validated scores, training date.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> lm = rng.random((20, 33, 4)).astype("float32")
    >>> model = PoseModel.train(lm, None, ["a", "b"] * 10, classifier="knn", cv=0)
    >>> model.predict(lm[:2]).shape
    (2,)
    """

    def __init__(self, estimator: PoseClassifier, metadata: dict):
        self.estimator = estimator
        self.metadata = metadata
        self.classes_ = [str(c) for c in estimator.classes_]

    # The fitted parts, as the model file stores them.
    pipeline = property(lambda self: self.estimator.pipeline_,
                        doc="``embed`` then ``classify``, fitted; input is a pose matrix.")
    novelty_ = property(lambda self: self.estimator.novelty_,
                        doc="Novelty scorer (None: the file predates rejection).")
    visibility_ = property(lambda self: self.estimator.visibility_,
                           doc="The ``partial`` rule (None without novelty data).")
    novelty_features_ = property(lambda self: self.estimator.novelty_features_,
                                 doc="Novelty features (None: files from before them).")
    novelty_image_ = property(lambda self: self.estimator.novelty_image_,
                              doc="Image-only scorer when :attr:`novelty_` uses world landmarks.")

    @classmethod
    def train(cls, landmarks, image_sizes, labels, classifier: str = "svm", *, cv: int = 5,
              mirror: bool = True, embedder_params: dict | None = None,
              classifier_params: dict | None = None, novelty_params: dict | None = None,
              visibility_params: dict | None = None, world_landmarks=None) -> PoseModel:
        """Fit on ``(n, 33, 4)`` landmarks, ``(n, 2)`` sizes (None: square) and labels.

        ``cv`` > 1 also records stratified K-fold scores in the metadata (0 skips it).
        ``mirror`` adds the left-right mirrored poses to the training set.
        ``novelty_params`` (:class:`~poseclf.novelty.NoveltyScorer`: ``n_neighbors``,
        ``percentile``, ``cv``) and ``visibility_params``
        (:class:`~poseclf.novelty.VisibilityCheck`) set the open-set rejection; its threshold is
        always calibrated by cross-validation on the training set (mirror images included in
        the reference poses whatever ``mirror`` is: a mirrored pose is never novel).
        ``world_landmarks`` ``(n, 33, 3)`` (BlazePose world landmarks, e.g.
        ``Poses.from_table(rows).world_landmarks``) add 3D limb directions to the novelty
        features; without them, or when some are missing, novelty uses the image landmarks only.
        """
        landmarks = np.asarray(landmarks, dtype=np.float32)
        labels = np.asarray(labels, dtype=object).astype(str)
        if len(labels) != len(landmarks):
            raise ValueError(f"{len(landmarks)} landmark sets but {len(labels)} labels")
        check_training_labels(labels)
        rows = pose_rows(landmarks, image_sizes, world_landmarks)
        estimator = PoseClassifier(classifier, classifier_params=classifier_params,
                                   embedder_params=embedder_params, mirror=mirror,
                                   novelty_params=novelty_params,
                                   visibility_params=visibility_params)
        with small_classes_as_input_error(labels):
            scores = None
            if cv and cv > 1:
                report = cross_validate_model(
                    landmarks, image_sizes, labels, classifier, cv=cv, mirror=mirror,
                    embedder_params=embedder_params, classifier_params=classifier_params)
                scores = _cv_scores(report)
            estimator.fit(rows, labels)
        return cls(estimator, _training_metadata(estimator, labels, scores))

    # -- prediction -----------------------------------------------------------------------
    def predict_proba(self, landmarks, image_sizes=None) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` in the order of :attr:`classes_`."""
        return self.estimator.predict_proba(pose_rows(landmarks, image_sizes))

    @property
    def can_reject(self) -> bool:
        """Whether the model carries novelty data (files saved before rejection do not)."""
        return self.novelty_ is not None

    @property
    def rejection_threshold(self) -> float | None:
        """Novelty above which a pose is ``unknown`` (None without novelty data)."""
        return None if self.novelty_ is None else self.novelty_.threshold_

    @property
    def uses_world_landmarks(self) -> bool:
        """Whether novelty uses world landmarks when a pose has them (else image-only)."""
        return self.novelty_image_ is not None

    def predict_with_scores(self, landmarks, image_sizes=None, *, world_landmarks=None,
                            reject: bool = True) -> Predictions:
        """Labels, probabilities, novelty scores and partial flags in one pass.

        See :meth:`PoseClassifier.predict_with_scores`; ``world_landmarks`` ``(n, 33, 3)`` (or
        None, or NaN rows) are used by models trained with them.
        """
        return self.estimator.predict_with_scores(
            pose_rows(landmarks, image_sizes, world_landmarks), reject=reject)

    def novelty(self, landmarks, image_sizes=None, *, world_landmarks=None) -> np.ndarray:
        """Novelty score of each pose (NaN without novelty data); see :mod:`poseclf.novelty`."""
        return self.predict_with_scores(landmarks, image_sizes, world_landmarks=world_landmarks,
                                        reject=False).novelty

    def predict(self, landmarks, image_sizes=None, *, world_landmarks=None,
                reject: bool = True) -> np.ndarray:
        """Label of each pose, array of str: a class, or ``"unknown"``/``"partial"``.

        ``reject=False`` always answers the most probable class.
        """
        return self.predict_with_scores(landmarks, image_sizes, world_landmarks=world_landmarks,
                                        reject=reject).labels

    def predict_pose(self, pose: Pose, *, reject: bool = True) -> tuple[str, np.ndarray]:
        """Label and probabilities of one :class:`Pose` (video frames)."""
        result = self.score_pose(pose, reject=reject)
        return str(result.labels[0]), result.proba[0]

    def score_pose(self, pose: Pose, *, reject: bool = True) -> Predictions:
        """:meth:`predict_with_scores` of one :class:`Pose` (its world landmarks included)."""
        world = None if pose.world_landmarks is None else pose.world_landmarks[None]
        return self.predict_with_scores(pose.landmarks[None], np.asarray([pose.image_size]),
                                        world_landmarks=world, reject=reject)

    def embed(self, landmarks, image_sizes=None) -> np.ndarray:
        """The embedding the classifier sees, ``(n, n_features)``."""
        return self.pipeline.named_steps["embed"].transform(pose_matrix(landmarks, image_sizes))

    def evaluate(self, landmarks, image_sizes, labels, *, world_landmarks=None,
                 reject: bool = True) -> dict:
        """:func:`evaluation_report` of the plain predictions, plus rejection figures.

        Added keys: ``reject`` (whether rejection was applied), ``coverage`` (share of poses
        accepted), ``accuracy_accepted`` (accuracy on them; NaN when none), ``n_unknown``,
        ``n_partial`` and ``rejection_threshold``.
        """
        result = self.predict_with_scores(landmarks, image_sizes, world_landmarks=world_landmarks,
                                          reject=reject)
        plain = np.asarray(self.classes_, dtype=object)[np.argmax(result.proba, axis=1)]
        report = evaluation_report(labels, plain, self.classes_)
        truth = np.asarray(labels, dtype=object).astype(str)
        accepted = np.isin(result.labels, self.classes_)
        report.update({
            "reject": bool(reject and self.can_reject),
            "coverage": float(accepted.mean()) if len(truth) else float("nan"),
            "accuracy_accepted": (float(np.mean(truth[accepted] == plain[accepted]))
                                  if accepted.any() else float("nan")),
            "n_unknown": int(np.sum(result.labels == UNKNOWN_LABEL)),
            "n_partial": int(np.sum(result.labels == PARTIAL_LABEL)),
            "rejection_threshold": self.rejection_threshold,
        })
        return report

    def __repr__(self) -> str:
        return (f"PoseModel(classifier={self.metadata.get('classifier')!r}, "
                f"classes={self.classes_}, n_samples={self.metadata.get('n_samples')})")

    # -- files ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, inputs=()) -> Path:
        """Write the model with ``skops.io`` (atomic: temporary file, then rename).

        ``path`` must end in ``.skops`` and must not be a folder nor one of ``inputs`` (e.g.
        the training tables); a folder that cannot be written is refused with
        :class:`~poseclf.errors.InputError`, and a failed write (disk full) raises
        :class:`~poseclf.errors.RunError`, leaving any previous file at ``path`` as it was.
        """
        import skops.io as sio

        path = check_model_output(path, inputs=inputs)
        payload = {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "metadata": self.metadata,
            "pipeline": self.pipeline,
        }
        if self.novelty_ is not None:
            payload["novelty"] = self.novelty_
            payload["visibility"] = self.visibility_.get_params()
            if self.novelty_features_ is not None:
                payload["novelty_features"] = self.novelty_features_
            if self.novelty_image_ is not None:
                payload["novelty_image"] = self.novelty_image_
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

    @classmethod
    def load(cls, path: str | os.PathLike, trusted: bool = False) -> PoseModel:
        """Read a model file (or a shipped model by name), refusing untrusted types and
        incompatible versions.

        Everything is checked before the arrays are read (:mod:`poseclf.model_file`: the path,
        the zip, the declared array sizes against the metadata and a size limit, the types),
        then the loaded parts, and the model classifies a made-up pose: any refusal is one
        :class:`~poseclf.errors.ModelFileError` naming the file and the fix.

        ``trusted=True`` also accepts joblib/pickle files and skops files with other types or
        above the size limits: only for files you made yourself, as loading them can run
        arbitrary code.
        """
        from .shipped import resolve_model  # a bare name such as "yoga" is a shipped model

        path = resolve_model(path)
        if sniff(path, trusted) == "zip":
            payload = _load_skops(path, trusted)
        else:  # only with trusted=True
            import joblib

            try:
                payload = joblib.load(path)
            except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
                raise ModelFileError(f"{path}: cannot read as joblib/pickle ({err}); "
                                     f"{REMAKE}") from err
        if isinstance(payload, PoseModel):
            payload = _pickled_payload(payload)
        pipeline, meta = _check_payload(payload, path)
        model = cls(PoseClassifier.from_parts(pipeline, *_check_rejection(payload, path)), meta)
        check_predicts(model, path)
        return model


def _pickled_payload(model: PoseModel) -> dict:
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

    # skops trusts many scikit-learn types by default; poseclf's list is the whole rule, so
    # every type named in the file's schema is checked against it (before skops reads arrays).
    found = _schema_types(path, schema)
    unknown = [t for t in found if t not in TRUSTED_TYPES]
    if not unknown:
        try:
            found = list(dict.fromkeys([*found, *sio.get_untrusted_types(file=path)]))
        except Exception as err:  # noqa: BLE001 - skops raises many types for a corrupt archive
            raise ModelFileError(f"{path}: damaged skops model file ({err}); "
                                 f"{REMAKE}") from err
        unknown = [t for t in found if t not in TRUSTED_TYPES]
    if unknown and not trusted:
        raise ModelFileError(
            f"{path}: refused, the file contains types poseclf does not trust: "
            f"{', '.join(unknown)}. {TRUST_HINT[0].upper()}{TRUST_HINT[1:]}."
        )
    try:
        return sio.load(path, trusted=list(dict.fromkeys([*found, *TRUSTED_TYPES])))
    except Exception as err:  # noqa: BLE001
        raise ModelFileError(f"{path}: cannot load the skops model ({err}); {REMAKE}") from err


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


def _cv_scores(report: dict) -> dict:
    """The cross-validated figures a model's metadata keeps."""
    return {
        "folds": report["cv"],
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "recall": {str(c): v["recall"] for c, v in report["per_class"].items()},
        "labels": [str(c) for c in report["labels"]],  # plain str: no .npy each
        "confusion": report["confusion"],
    }


def _training_metadata(estimator: PoseClassifier, labels: np.ndarray,
                       scores: dict | None) -> dict:
    """What a trained model records about itself (shown by model cards and ``evaluate``)."""
    classes, counts = np.unique(labels, return_counts=True)
    params = plain_params(estimator.classifier_params or {})
    if hasattr(estimator, "best_params_"):
        params["best_params"] = plain_params(estimator.best_params_)
    embedder_params = plain_params(estimator.pipeline_.named_steps["embed"].get_params())
    return {
        "poseclf_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "classifier": estimator.classifier,
        "classifier_params": params,
        "embedder_params": embedder_params,
        "mirror_augmentation": bool(estimator.mirror),
        "n_samples": len(labels),
        "class_counts": {str(c): int(n) for c, n in zip(classes, counts, strict=True)},
        "cv_scores": scores,
        "trained_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "rejection": _rejection_metadata(estimator.novelty_, estimator.visibility_,
                                         estimator.novelty_image_),
    }


def _rejection_metadata(novelty: NoveltyScorer, visibility: VisibilityCheck,
                        novelty_image: NoveltyScorer | None = None) -> dict:
    """Threshold and calibration figures shown by ``poseclf evaluate`` and model cards."""
    return {
        "features": "image+world" if novelty_image is not None else "image",
        "threshold_image": (novelty_image.threshold_ if novelty_image is not None
                            else novelty.threshold_),
        "threshold": novelty.threshold_,
        "percentile": float(novelty.percentile),
        "n_neighbors": int(novelty.n_neighbors),
        "calibration_folds": novelty.calibration_["folds"],
        "calibration_accepted": novelty.calibration_["accepted"],
        "calibration_percentiles": dict(novelty.calibration_["percentiles"]),
        "visibility": visibility.get_params(),
    }


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
