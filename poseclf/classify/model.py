"""A trained pose classifier as one object and one file: a fitted PoseClassifier + metadata.

The arithmetic (embedding, classifier, rejection) is the estimator
:class:`~poseclf.classify.pose_classifier.PoseClassifier`; this module trains it the way
``poseclf train`` does (label checks, cross-validated report), records the metadata, and writes
and reads the model file.

Model files are written with ``skops.io`` and loaded with an explicit list of trusted types, so
loading a file never runs code from it. joblib/pickle files load only with ``trusted=True``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._version import __version__
from ..pose.landmarks import Pose
from ..pose.table import SCHEMA_VERSION
from .defaults import DEFAULT_CLASSIFIER, DEFAULT_WORLD_FEATURES, default_max_poses
from .embedding import pose_matrix
from .evaluation import (
    check_training_labels,
    cross_validate_model,
    evaluation_report,
    small_classes_as_input_error,
)
from .loaded_model_checks import check_predicts
from .model_io import TRUSTED_TYPES, read_model, write_model
from .novelty import PARTIAL_LABEL, UNKNOWN_LABEL, NoveltyScorer
from .pose_classifier import PoseClassifier, Predictions, plain_params
from .pose_rows import pose_rows
from .subsample import subsample_indices
from .views import check_view_angles
from .visibility import VisibilityCheck

if TYPE_CHECKING:
    from .negatives import Negatives

__all__ = ["TRUSTED_TYPES", "PoseModel", "Predictions"]

log = logging.getLogger(__name__)

class PoseModel:
    """A trained pose classifier and its file: a fitted :class:`PoseClassifier`, its classes
    and metadata.

    Make one with :meth:`train` or :meth:`load`; the arithmetic is the estimator's
    (:attr:`estimator`), this class adds the training report, the metadata and the safe file.

    Attributes
    ----------
    estimator : PoseClassifier
        Fitted; its input is :func:`~poseclf.classify.pose_rows.pose_rows`.
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
    def train(cls, landmarks, image_sizes, labels, classifier: str = DEFAULT_CLASSIFIER, *,
              cv: int = 5,
              mirror: bool = True, embedder_params: dict | None = None,
              classifier_params: dict | None = None, novelty_params: dict | None = None,
              visibility_params: dict | None = None, world_landmarks=None,
              negatives: Negatives | None = None, views=None, view_pitch: float = 0.0,
              max_poses: int | None | str = "auto", blazepose: str = "full") -> PoseModel:
        """Fit on ``(n, 33, 4)`` landmarks, ``(n, 2)`` sizes (None: square) and labels.

        The defaults are ``poseclf train``'s: ``classifier`` k-NN and, when
        ``embedder_params`` is None, 3D features only (``{"world": "only"}``; see
        :data:`~poseclf.classify.defaults.DEFAULT_CLASSIFIER`). Pass
        ``embedder_params={"world": "off"}`` for picture features only.

        ``cv`` > 1 also records stratified K-fold scores in the metadata (0 skips it).
        ``mirror`` adds the left-right mirrored poses to the training set.
        ``novelty_params`` (:class:`~poseclf.classify.novelty.NoveltyScorer`: ``n_neighbors``,
        ``percentile``, ``cv``, ``min_confidence``; and ``views``, the turned views the scorer
        holds: :data:`~poseclf.classify.pose_classifier.NOVELTY_VIEWS`) and ``visibility_params``
        (:class:`~poseclf.classify.visibility.VisibilityCheck`) set the open-set rejection; its
        threshold is always calibrated by cross-validation on the training set (mirror images
        included in the reference poses whatever ``mirror`` is: a mirrored pose is never novel).
        ``world_landmarks`` ``(n, 33, 3)`` (BlazePose world landmarks, e.g.
        ``Poses.from_table(rows).world_landmarks``) add 3D limb directions to the novelty
        features; without them, or when some are missing, novelty uses the image landmarks only.
        They are also what ``views``/``view_pitch`` (synthetic views, see
        :class:`PoseClassifier`) and ``embedder_params={"world": ...}`` (3D features) use.
        ``negatives`` (:class:`~poseclf.classify.negatives.Negatives`, e.g.
        :func:`~poseclf.classify.negatives.everyday_negatives`, the default of ``poseclf
        train``): poses that are none of the classes; a pose nearer to them than the training
        poses are is ``unknown`` (see :meth:`~poseclf.classify.novelty.NoveltyScorer.fit`).
        ``max_poses`` bounds the training set: a larger one is thinned to evenly spaced poses of
        each class (:mod:`~poseclf.classify.subsample`; None: every pose), recorded in the
        metadata as ``n_given``; ``"auto"``: the classifier's bound
        (:func:`~poseclf.classify.defaults.default_max_poses`: 2,000 for k-NN, 5,000 for the
        others).
        ``blazepose`` names the BlazePose model of the landmarks
        (``"lite"``, ``"full"``, ``"heavy"``; :func:`~poseclf.pose.blazepose.table_blazepose`),
        kept in the metadata: another model's landmarks give a warning at prediction.
        """
        if not set(str(blazepose).split("+")) <= {"lite", "full", "heavy"}:
            raise ValueError(f"blazepose must be lite, full or heavy, got {blazepose!r}")
        landmarks = np.asarray(landmarks, dtype=np.float32)
        labels = np.asarray(labels, dtype=object).astype(str)
        if len(labels) != len(landmarks):
            raise ValueError(f"{len(landmarks)} landmark sets but {len(labels)} labels")
        check_training_labels(labels)
        n_given = len(labels)
        if max_poses == "auto":
            max_poses = default_max_poses(classifier)
        keep = subsample_indices(labels, max_poses)
        if len(keep) < n_given:
            landmarks, labels = landmarks[keep], labels[keep]
            image_sizes = None if image_sizes is None else np.asarray(image_sizes)[keep]
            world_landmarks = (None if world_landmarks is None
                               else np.asarray(world_landmarks)[keep])
        rows = pose_rows(landmarks, image_sizes, world_landmarks)
        if embedder_params is None:
            embedder_params = {"world": DEFAULT_WORLD_FEATURES}
        estimator = PoseClassifier(classifier, classifier_params=classifier_params,
                                   embedder_params=embedder_params, mirror=mirror,
                                   novelty_params=novelty_params,
                                   visibility_params=visibility_params, views=views,
                                   view_pitch=view_pitch)
        with small_classes_as_input_error(labels):
            scores = None
            if cv and cv > 1:
                report = cross_validate_model(
                    landmarks, image_sizes, labels, classifier, cv=cv, mirror=mirror,
                    embedder_params=embedder_params, classifier_params=classifier_params,
                    world_landmarks=world_landmarks, views=views, view_pitch=view_pitch)
                scores = _cv_scores(report)
            negative_rows = None
            if negatives is not None and len(negatives):
                poses = negatives.poses[negatives.poses.detected]
                negative_rows = pose_rows(poses.landmarks, poses.image_sizes,
                                          poses.world_landmarks)
            estimator.fit(rows, labels, negatives=negative_rows)
        metadata = _training_metadata(estimator, labels, scores)
        metadata["blazepose"] = blazepose
        if n_given > len(labels):
            metadata["n_given"] = n_given
        if metadata["rejection"] is not None and negatives is not None:
            metadata["rejection"]["negatives_sources"] = dict(negatives.sources)
        return cls(estimator, metadata)

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
    def blazepose(self) -> str:
        """The BlazePose model of the training landmarks (``"full"`` for older files)."""
        return str(self.metadata.get("blazepose", "full"))

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
        """Novelty score of each pose (NaN without novelty data); see
        :mod:`poseclf.classify.novelty`."""
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
        """Write the model with ``skops.io``, atomically
        (:func:`~poseclf.classify.model_io.write_model`).

        ``path`` must end in ``.skops`` and must not be one of ``inputs`` (e.g. the training
        tables); a failed write leaves any previous file at ``path`` as it was.
        """
        return write_model(self.estimator, self.metadata, path, inputs=inputs)

    @classmethod
    def load(cls, path: str | os.PathLike, trusted: bool = False) -> PoseModel:
        """Read a model file (or a shipped model by name), refusing untrusted types and
        incompatible versions (:func:`~poseclf.classify.model_io.read_model`); the loaded model then
        classifies a made-up pose. Any refusal is one :class:`~poseclf.errors.ModelFileError`
        naming the file and the fix.

        ``trusted=True`` also accepts joblib/pickle files and skops files with other types or
        above the size limits: only for files you made yourself, as loading them can run
        arbitrary code.
        """
        path, estimator, metadata = read_model(path, trusted)
        model = cls(estimator, metadata)
        check_predicts(model, path)
        return model

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
    yaw, pitch = check_view_angles(estimator.views, estimator.view_pitch)
    views = {"view_augmentation": {"yaw": list(yaw), "pitch": pitch}} if yaw or pitch else {}
    return {
        "poseclf_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "classifier": estimator.classifier,
        "classifier_params": params,
        "embedder_params": embedder_params,
        "mirror_augmentation": bool(estimator.mirror),
        **views,
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
        "negatives": dict(novelty.negatives_),
        "negative_ratio": (novelty.negative_ratio_ if np.isfinite(novelty.negative_ratio_)
                           else None),
        "calibration_accepted_with_negatives": novelty.calibration_.get(
            "accepted_with_negatives", novelty.calibration_["accepted"]),
        "min_confidence": float(getattr(novelty, "min_confidence_", 0.0)),
    }
