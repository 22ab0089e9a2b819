"""A trained pose classifier as one object and one file: embedder + classifier + classes + metadata.

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
from typing import NamedTuple

import numpy as np
from sklearn.base import clone
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from ._version import __version__
from .classifiers import PoseKNNClassifier, make_classifier
from .embedding import PoseEmbedder, mirror_landmarks, mirror_world_landmarks, pose_matrix
from .errors import InputError, ModelFileError, RunError
from .files import replace_atomically
from .landmarks import Pose
from .lean_predict import LEAN_MAX_ROWS, lean_predict_proba, pipeline_predict_proba
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
from .table import SCHEMA_VERSION

log = logging.getLogger(__name__)

MODEL_SUFFIX = ".skops"
CV_RANDOM_STATE = 0  # fold shuffling seed: same folds every run
LEAN_PROBE_ROWS = 32  # training embeddings (and as many perturbed) checking the lean path
LEAN_PROBE_NOISE = 0.5  # perturbation of the probes, in novelty-scale units (off the data too)

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


def _fit_pipeline(pipeline: Pipeline, landmarks, sizes, labels, mirror: bool) -> Pipeline:
    """Fit on the poses (plus their mirror images when ``mirror``)."""
    X = pose_matrix(landmarks, sizes)
    y = np.asarray(labels)
    groups = np.arange(len(y))  # a pose and its mirror image share a group
    if mirror:
        X = np.concatenate([X, pose_matrix(mirror_landmarks(landmarks), sizes)])
        y = np.concatenate([y, y])
        groups = np.concatenate([groups, groups])
    search = pipeline.steps[-1][1]
    if isinstance(search, GridSearchCV):  # grouped folds: see classifiers._grid_search
        pipeline.fit(X, y, **{f"{pipeline.steps[-1][0]}__groups": groups})
    else:
        pipeline.fit(X, y)
    if isinstance(search, GridSearchCV):  # keep only the chosen model (smaller, simpler file)
        pipeline.steps[-1] = (pipeline.steps[-1][0], search.best_estimator_)
        pipeline.best_params_ = search.best_params_
    return pipeline


def build_pipeline(classifier: str = "svm", *, embedder_params: dict | None = None,
                   classifier_params: dict | None = None, mirror: bool = True) -> Pipeline:
    """Unfitted ``Pipeline([("embed", PoseEmbedder), ("classify", ...)])``.

    For ``knn`` without mirror augmentation the classifier gets the embedder's mirror map, so
    queries are also compared mirrored (with augmentation that adds nothing).
    """
    embedder = PoseEmbedder(**(embedder_params or {}))
    clf = make_classifier(classifier, **(classifier_params or {}))
    knn = clf.estimator if isinstance(clf, GridSearchCV) else clf
    if isinstance(knn, PoseKNNClassifier) and not mirror and knn.mirror_map is None:
        index, sign = embedder.fit(np.zeros((1, 33, 4))).mirror_map()
        knn.set_params(mirror_map=(index, sign))
    return Pipeline([("embed", embedder), ("classify", clf)])


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
    sizes = np.asarray(image_sizes, dtype=np.float32)
    pipeline = build_pipeline(classifier, embedder_params=embedder_params,
                              classifier_params=classifier_params, mirror=mirror)
    pred = np.empty(len(labels), dtype=object)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    for train, test in splitter.split(landmarks, labels):
        fitted = _fit_pipeline(clone(pipeline), landmarks[train], sizes[train], labels[train],
                               mirror)
        proba = fitted.predict_proba(pose_matrix(landmarks[test], sizes[test]))
        pred[test] = fitted.classes_[np.argmax(proba, axis=1)]
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
def _small_classes_as_input_error(labels: np.ndarray):
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
    """A trained pose classifier: :class:`PoseEmbedder` + classifier, classes and metadata.

    Make one with :meth:`train` or :meth:`load`.

    Attributes
    ----------
    pipeline : sklearn Pipeline
        ``embed`` then ``classify``, fitted; input is :func:`pose_matrix`.
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

    def __init__(self, pipeline: Pipeline, metadata: dict, novelty: NoveltyScorer | None = None,
                 visibility: VisibilityCheck | None = None,
                 novelty_features: NoveltyEmbedder | None = None,
                 novelty_image: NoveltyScorer | None = None):
        self.pipeline = pipeline
        self.metadata = metadata
        self.classes_ = [str(c) for c in pipeline.classes_]
        #: Open-set rejection (None: the model predates it and never rejects).
        self.novelty_ = novelty
        self.visibility_ = visibility if novelty is not None else None
        #: Features of the novelty score (None: files from before them use the classifier's
        #: embedding).
        self.novelty_features_ = novelty_features if novelty is not None else None
        #: Image-only scorer for poses without world landmarks, when :attr:`novelty_` uses them.
        self.novelty_image_ = novelty_image if novelty_features is not None else None

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
        ``world_landmarks`` ``(n, 33, 3)`` (BlazePose world landmarks, e.g. from
        :func:`~poseclf.table.training_world_landmarks`) add 3D limb directions to the novelty
        features; without them, or when some are missing, novelty uses the image landmarks only.
        """
        landmarks = np.asarray(landmarks, dtype=np.float32)
        labels = np.asarray(labels, dtype=object).astype(str)
        if len(labels) != len(landmarks):
            raise ValueError(f"{len(landmarks)} landmark sets but {len(labels)} labels")
        check_training_labels(labels)
        sizes = None if image_sizes is None else np.asarray(image_sizes, dtype=np.float32)
        if sizes is None:
            sizes = np.ones((len(landmarks), 2), np.float32)
        with _small_classes_as_input_error(labels):
            return cls._train(landmarks, sizes, labels, classifier, cv=cv, mirror=mirror,
                              embedder_params=embedder_params,
                              classifier_params=classifier_params,
                              novelty_params=novelty_params,
                              visibility_params=visibility_params,
                              world_landmarks=world_landmarks)

    @classmethod
    def _train(cls, landmarks, sizes, labels, classifier, *, cv, mirror, embedder_params,
               classifier_params, novelty_params, visibility_params,
               world_landmarks) -> PoseModel:
        pipeline = build_pipeline(classifier, embedder_params=embedder_params,
                                  classifier_params=classifier_params, mirror=mirror)
        scores = None
        if cv and cv > 1:
            report = cross_validate_model(
                landmarks, sizes, labels, classifier, cv=cv, mirror=mirror,
                embedder_params=embedder_params, classifier_params=classifier_params)
            scores = {
                "folds": report["cv"],
                "accuracy": report["accuracy"],
                "macro_f1": report["macro_f1"],
                "recall": {str(c): v["recall"] for c, v in report["per_class"].items()},
                "labels": [str(c) for c in report["labels"]],  # plain str: no .npy each
                "confusion": report["confusion"],
            }
        _fit_pipeline(pipeline, landmarks, sizes, labels, mirror)
        features = NoveltyEmbedder(_plain(pipeline.named_steps["embed"].get_params())).fit()
        novelty, novelty_image = _fit_novelty(features, landmarks, sizes, labels,
                                              _usable_world(world_landmarks, len(labels)),
                                              novelty_params or {})
        visibility = VisibilityCheck(**(visibility_params or {}))
        classes, counts = np.unique(labels, return_counts=True)
        params = _plain(classifier_params or {})
        if hasattr(pipeline, "best_params_"):
            params["best_params"] = _plain(pipeline.best_params_)
        metadata = {
            "poseclf_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "classifier": classifier,
            "classifier_params": params,
            "embedder_params": _plain(pipeline.named_steps["embed"].get_params()),
            "mirror_augmentation": bool(mirror),
            "n_samples": len(labels),
            "class_counts": {str(c): int(n) for c, n in zip(classes, counts, strict=True)},
            "cv_scores": scores,
            "trained_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "rejection": _rejection_metadata(novelty, visibility, novelty_image),
        }
        return cls(pipeline, metadata, novelty, visibility, features, novelty_image)

    # -- prediction -----------------------------------------------------------------------
    def predict_proba(self, landmarks, image_sizes=None) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` in the order of :attr:`classes_`."""
        X = pose_matrix(landmarks, image_sizes)
        return self._classify(self._classifier_cache()["embedder"].transform(X))

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_lean", None)  # derived from the pipeline; rebuilt on first use, not saved
        return state

    def _classify(self, embedded: np.ndarray) -> np.ndarray:
        """Probabilities of validated embeddings: the lean path for a few rows (one video
        frame), scikit-learn for batches and for classifiers the lean path does not cover."""
        cache = self._classifier_cache()
        if len(embedded) <= LEAN_MAX_ROWS:
            if "lean" not in cache:  # built and checked against scikit-learn once per model
                cache["lean"] = lean_predict_proba(cache["classifier"],
                                                   self._lean_probe(embedded))
            if cache["lean"] is not None:
                return cache["lean"](embedded)
        return pipeline_predict_proba(cache["classifier"], embedded)

    def _classifier_cache(self) -> dict:
        """The embedder, the classifier part of the pipeline and its lean path, rebuilt when
        the steps change (``Pipeline.named_steps`` and slicing cost ~5 us a call)."""
        steps = tuple(step for _, step in self.pipeline.steps)
        cache = self.__dict__.get("_lean")
        if cache is None or cache["pipeline"] is not self.pipeline or cache["steps"] != steps:
            classifier = self.pipeline[-1] if len(steps) == 2 else self.pipeline[1:]
            cache = {"pipeline": self.pipeline, "steps": steps, "classifier": classifier,
                     "embedder": self.pipeline.named_steps["embed"]}
            self.__dict__["_lean"] = cache
        return cache

    def _lean_probe(self, embedded: np.ndarray) -> np.ndarray:
        """Embeddings on which the lean path must match scikit-learn: training poses (from the
        novelty data) and perturbed copies, else the query itself."""
        scorer = self.novelty_image_ or self.novelty_
        if scorer is None:
            return embedded
        n = embedded.shape[1]  # the classifier's embedding is the first columns of the novelty's
        ref = scorer.reference_[:, :n]
        rows = ref[np.linspace(0, len(ref) - 1, min(LEAN_PROBE_ROWS, len(ref))).astype(int)]
        rows = np.concatenate([rows, rows + np.random.default_rng(0).normal(
            0, LEAN_PROBE_NOISE, rows.shape)])
        return rows.astype(np.float64) * scorer.scale_ + scorer.center_[:n]

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

        With ``reject`` (and a model that has novelty data) a pose whose key joints are hidden
        is labelled ``"partial"`` and one whose novelty exceeds its threshold ``"unknown"``; the
        probabilities are those of the classifier either way. ``world_landmarks``
        ``(n, 33, 3)`` (or None) are used by models trained with them; a pose without them
        (None or NaN) is scored on the image landmarks against the image-only threshold.
        """
        X = pose_matrix(landmarks, image_sizes)
        embedder = self._classifier_cache()["embedder"]
        image = None
        if self.novelty_features_ is not None:  # one embedding pass: the classifier's
            image = self.novelty_features_.image_features(X)  # embedding is its first columns
            embedded = image[:, :embedder.n_features_out_]
        else:
            embedded = embedder.transform(X)
        proba = self._classify(embedded)
        labels = np.asarray(self.classes_, dtype=object)[np.argmax(proba, axis=1)]
        if self.novelty_ is None:
            nan = np.full(len(labels), np.nan)
            return Predictions(labels, proba, nan, np.zeros(len(labels), dtype=bool), nan)
        world = _world_array(world_landmarks, len(X))  # checked even when not used
        novelty, threshold = self._novelty(embedded, image, world)
        partial = self.visibility_.is_partial(X[:, :132].reshape(-1, 33, 4))
        if reject:
            labels = labels.copy()
            labels[novelty > threshold] = UNKNOWN_LABEL
            labels[partial] = PARTIAL_LABEL
        return Predictions(labels, proba, novelty, partial, threshold)

    def _novelty(self, embedded: np.ndarray, image: np.ndarray | None,
                 world: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Novelty score and threshold of each pose, from the classifier embedding, the image
        part of the novelty features (None for files from before them) and world landmarks."""
        n = len(embedded)
        if image is None:  # file from before the novelty features: the classifier embedding
            return self.novelty_.score(embedded), np.full(n, self.novelty_.threshold_)
        if self.novelty_image_ is None:  # trained without world landmarks
            return self.novelty_.score(image), np.full(n, self.novelty_.threshold_)
        features = self.novelty_features_
        novelty = np.empty(n)
        threshold = np.empty(n)
        world_part = (np.full((n, features.n_world_features_), np.nan) if world is None
                      else features.world_features(world))
        has_world = np.isfinite(world_part).all(axis=1)
        if has_world.any():
            novelty[has_world] = self.novelty_.score(
                np.concatenate([image[has_world], world_part[has_world]], axis=1))
            threshold[has_world] = self.novelty_.threshold_
        if not has_world.all():
            novelty[~has_world] = self.novelty_image_.score(image[~has_world])
            threshold[~has_world] = self.novelty_image_.threshold_
        return novelty, threshold

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
            payload = {"format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION,
                       "metadata": payload.metadata, "pipeline": payload.pipeline,
                       "novelty": payload.novelty_,
                       "visibility": (payload.visibility_.get_params()
                                      if payload.visibility_ is not None else None),
                       "novelty_features": payload.__dict__.get("novelty_features_"),
                       "novelty_image": payload.__dict__.get("novelty_image_")}
        model = cls(*_check_payload(payload, path), *_check_rejection(payload, path))
        check_predicts(model, path)
        return model


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


class Predictions(NamedTuple):
    """What :meth:`PoseModel.predict_with_scores` returns, one row per pose."""

    labels: np.ndarray  # str: a class, "unknown" or "partial"
    proba: np.ndarray  # (n, n_classes) classifier probabilities, also for rejected poses
    novelty: np.ndarray  # (n,) novelty score (NaN when the model has no novelty data)
    partial: np.ndarray  # (n,) bool: too few key joints visible
    threshold: np.ndarray  # (n,) novelty threshold the pose was held to (NaN: no novelty data)


def _usable_world(world_landmarks, n: int) -> np.ndarray | None:
    """Training world landmarks when every row has them, else None (image-only novelty)."""
    world = _world_array(world_landmarks, n)
    if world is None:
        return None
    if not np.isfinite(world).all():
        missing = int((~np.isfinite(world).all(axis=(1, 2))).sum())
        log.warning("%d of %d training poses have no world landmarks: novelty uses the image "
                    "landmarks only", missing, n)
        return None
    return world


def _world_array(world_landmarks, n: int) -> np.ndarray | None:
    if world_landmarks is None:
        return None
    world = np.asarray(world_landmarks, dtype=np.float64)
    if world.shape != (n, 33, 3):
        raise ValueError(f"world_landmarks must have shape ({n}, 33, 3), got {world.shape}")
    return world


def _fit_novelty(features: NoveltyEmbedder, landmarks, sizes, labels, world,
                 params: dict) -> tuple[NoveltyScorer, NoveltyScorer | None]:
    """The novelty scorer (on image + world features when ``world`` is given) and, with world
    landmarks, the image-only scorer for poses without them."""
    mirrored = mirror_landmarks(landmarks)
    image = features.image_features(pose_matrix(landmarks, sizes))
    image_mirror = features.image_features(pose_matrix(mirrored, sizes))
    image_scorer = NoveltyScorer(**params).fit(image, labels, image_mirror)
    if world is None:
        return image_scorer, None
    both = np.concatenate([image, features.world_features(world)], axis=1)
    both_mirror = np.concatenate(
        [image_mirror, features.world_features(mirror_world_landmarks(world))], axis=1)
    return NoveltyScorer(**params).fit(both, labels, both_mirror), image_scorer


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


def _plain(params: dict) -> dict:
    """JSON/skops-friendly copy of parameters (arrays and tuples become lists, others str)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, (bool, int, float, str)) or value is None:
            out[key] = value
        elif isinstance(value, (tuple, list)):
            out[key] = [v if isinstance(v, (bool, int, float, str)) else str(v)
                        for v in value]
        else:
            out[key] = str(value)
    return out
