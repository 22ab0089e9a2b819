"""The pose classifier as one scikit-learn estimator: pose rows in, classes and novelty out.

:class:`PoseClassifier` is an ordinary classifier (``fit``, ``predict``, ``predict_proba``,
``score_samples``), so scikit-learn's own tools (``clone``, ``cross_val_predict``,
``cross_validate``, ``GridSearchCV``) work on it. Its input is a **pose row** per pose
(:func:`pose_rows`): the 132 image landmark values, the image width and height, then the 99
world landmark values (NaN when a pose has none). ``fit`` trains the embedding + classifier
pipeline (with the left-right mirror images of the poses and, with ``views``, the poses seen from
other angles: :mod:`poseclf.classify.views`), the novelty scorers and the visibility rule;
:meth:`PoseClassifier.predict_with_scores` applies the rejection (``unknown``, ``partial``). The
single-pose fast path (:mod:`poseclf.classify.lean_predict`) is built here, once per fitted
estimator.

Imports: NumPy, scikit-learn, :mod:`poseclf.classify.embedding`, :mod:`poseclf.classify.views`,
:mod:`poseclf.classify.classifiers`, :mod:`poseclf.classify.novelty` and
:mod:`poseclf.classify.lean_predict`; nothing of files, tables or video.
"""

from __future__ import annotations

import logging
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..errors import MissingWorldLandmarksWarning
from .classifiers import PoseKNNClassifier, make_classifier
from .embedding import PoseEmbedder, mirror_landmarks, mirror_world_landmarks, pose_matrix
from .lean_predict import LEAN_MAX_ROWS, lean_predict_proba, pipeline_predict_proba
from .novelty import (
    DEFAULT_PERCENTILE,
    PARTIAL_LABEL,
    UNKNOWN_LABEL,
    NoveltyEmbedder,
    NoveltyScorer,
    confidence_floor,
)
from .pose_rows import (
    N_IMAGE_COLUMNS,
    N_POSE_COLUMNS,
    N_WORLD_COLUMNS,
    check_rows,
    image_matrix,
    pose_rows,
    row_landmarks,
    row_world,
    usable_world,
)
from .views import augment_views, check_view_angles
from .visibility import VisibilityCheck, fit_visibility

__all__ = ["PoseClassifier", "Predictions", "build_pipeline", "plain_params", "pose_rows"]

log = logging.getLogger(__name__)

LEAN_PROBE_ROWS = 32  # training embeddings (and as many perturbed) checking the lean path
LEAN_PROBE_NOISE = 0.5  # perturbation of the probes, in novelty-scale units (off the data too)
LEAN_PROBE_WORLD_NOISE = 0.05  # perturbation of the query probes of world-feature embeddings


class Predictions(NamedTuple):
    """What :meth:`PoseClassifier.predict_with_scores` returns, one row per pose."""

    labels: np.ndarray  # str: a class, "unknown" or "partial"
    proba: np.ndarray  # (n, n_classes) classifier probabilities, also for rejected poses
    novelty: np.ndarray  # (n,) novelty score (NaN when the model has no novelty data)
    partial: np.ndarray  # (n,) bool: too few key joints visible
    threshold: np.ndarray  # (n,) novelty threshold the pose was held to (NaN: no novelty data)


def build_pipeline(classifier: str = "svm", *, embedder_params: dict | None = None,
                   classifier_params: dict | None = None, mirror: bool = True) -> Pipeline:
    """Unfitted ``Pipeline([("embed", PoseEmbedder), ("classify", ...)])`` on pose matrices.

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


def plain_params(params: dict) -> dict:
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


#: Yaw angles (degrees, each +-) of synthetic views of every training pose (made from its world
#: landmarks, :func:`~poseclf.classify.views.augment_views`) that the novelty scorers hold
#: besides the poses themselves (``novelty_params={"views": (30, 60)}``, ``poseclf train
#: --novelty-views 30,60``): the same pose seen from another side is then not "unknown". Added
#: after the thresholds are calibrated, and only with negatives and world landmarks. Off by
#: default: measured with bench/rejection_protocols.py --novelty-views (MLP, negatives; none |
#: 45 | 60 | 30,60): lowest leave-one-source-out acceptance 92.6 | 98.0 | 98.0 | 98.0% (push-up
#: video frames -> photos: front and back views a side-view video never shows); the raw push-up
#: model's rejection of sit/stand 99.7 | 97.2 | 97.5 | 97.2% and of yoga 93.0 | 87.1 | 86.7 |
#: 86.2% (mean over sources); unseen yoga classes unknown 58.0/69.2 | 56.4/67.3 | 57.5/67.3 |
#: 56.4/67.3%; own classes accepted (5-fold) 97.1/95.0 | 97.1/96.2 | 97.1/96.2 | 97.1/98.8%. The
#: cost of 30,60 (5x the reference poses): model files 1.2-1.8 -> 2.4-3.8 MB, the yoga ONNX graph
#: 1.15 -> 3.3 MB and 0.16 -> 0.36 ms a pose, a pose of a 100k-pose table 0.57 -> 0.92-1.04 ms.
#: Without negatives a 20-photo push-up model with these views accepted 4 of 5 photos of standing
#: people (a push-up seen from the front looks upright in the picture), hence negatives only.
#: Keeping only the views farther than 2x / 3x the median held-out novelty from every reference
#: (61% / 42% of them) lost the gains (lowest pair 97.1 / 96.1%, own classes 96.2%).
NOVELTY_VIEWS: tuple[float, ...] = ()


class PoseClassifier(ClassifierMixin, BaseEstimator):
    """Embedding + classifier + open-set rejection, fitted on pose rows (:func:`pose_rows`).

    Parameters
    ----------
    classifier : {"svm", "knn", "logreg", "mlp"}, default="svm"
        Name in the classifier registry (:func:`~poseclf.classify.classifiers.make_classifier`).
    classifier_params, embedder_params : dict, optional
        Options of the classifier builder and of :class:`~poseclf.classify.embedding.PoseEmbedder`.
    mirror : bool, default=True
        Also train on the left-right mirror image of every pose.
    views : sequence of float, optional
        Yaw angles in degrees, each in (0, 90]: also train on every pose turned by ``+a`` and
        ``-a`` about the vertical, made from its world landmarks
        (:func:`~poseclf.classify.views.augment_views`; poses without them get no views).
        With ``embedder_params={"world": "only"}`` the yaw views are exact copies in feature
        space (the 3D features are yaw-normalised): for ``knn`` they only act as smaller
        neighbour counts (``bench/accuracy.py --view-options`` shows both rows equal).
    view_pitch : float, default=0
        Pitch angle in degrees, in [0, 90]: also train on the poses tilted by ``+-view_pitch``
        (0: no tilted views). Needs no ``views``.
    novelty_params : dict, optional
        :class:`~poseclf.classify.novelty.NoveltyScorer` options (``n_neighbors``,
        ``percentile``, ``cv``, ``min_confidence``), and ``views``: the yaw angles of the turned
        views of the training poses the scorers hold (default :data:`NOVELTY_VIEWS`).
    visibility_params : dict, optional
        :class:`~poseclf.classify.visibility.VisibilityCheck` options (the ``partial`` rule).
    rejection : bool, default=True
        Fit the novelty scorers (``False``: plain classifier, e.g. inside cross-validation).

    Attributes
    ----------
    classes_ : ndarray of str
    pipeline_ : Pipeline
        ``embed`` then ``classify``, fitted on pose matrices (the first 134 columns).
    novelty_, novelty_image_ : NoveltyScorer or None
        Scorer on image (+ world, when every training pose had them) features, and the
        image-only scorer kept for poses without world landmarks (None when not needed).
    novelty_features_ : NoveltyEmbedder or None
    visibility_ : VisibilityCheck or None
    best_params_ : dict
        Chosen grid-search parameters (only with ``classifier_params={"search": True}``).

    Examples
    --------
    >>> import numpy as np
    >>> lm = np.random.default_rng(0).random((20, 33, 4))
    >>> clf = PoseClassifier("knn").fit(pose_rows(lm), ["a", "b"] * 10)
    >>> clf.predict(pose_rows(lm[:3])).tolist()
    ['a', 'b', 'a']
    """

    def __init__(self, classifier: str = "svm", *, classifier_params: dict | None = None,
                 embedder_params: dict | None = None, mirror: bool = True,
                 novelty_params: dict | None = None, visibility_params: dict | None = None,
                 rejection: bool = True, views=None, view_pitch: float = 0.0):
        self.classifier = classifier
        self.classifier_params = classifier_params
        self.embedder_params = embedder_params
        self.mirror = mirror
        self.novelty_params = novelty_params
        self.visibility_params = visibility_params
        self.rejection = rejection
        self.views = views
        self.view_pitch = view_pitch

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, X, y, negatives=None) -> PoseClassifier:
        """Fit the pipeline (and its mirror augmentation), then the rejection.

        ``negatives``: pose rows (:func:`pose_rows`) of poses that are none of the classes;
        they tighten the novelty threshold near them (:meth:`NoveltyScorer.fit`). Only used
        with ``rejection``.
        """
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None")
        X = check_rows(X)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if len(y) != len(X):
            raise ValueError(f"{len(X)} pose rows but {len(y)} labels")
        yaw, pitch = check_view_angles(self.views, self.view_pitch)
        landmarks = row_landmarks(X)
        sizes = X[:, N_IMAGE_COLUMNS - 2:N_IMAGE_COLUMNS].astype(np.float32)
        world = (row_world(X) if X.shape[1] == N_POSE_COLUMNS
                 else np.full((len(X), 33, 3), np.nan))
        pipeline = build_pipeline(self.classifier, embedder_params=self.embedder_params,
                                  classifier_params=self.classifier_params, mirror=self.mirror)
        self.pipeline_ = _fit_pipeline(pipeline, landmarks, sizes, y, self.mirror,
                                       world=world, views=yaw, pitch=pitch)
        if hasattr(pipeline, "best_params_"):
            self.best_params_ = pipeline.best_params_
        self.classes_ = pipeline.classes_
        self.novelty_ = self.novelty_image_ = self.novelty_features_ = self.visibility_ = None
        if self.rejection:
            features = NoveltyEmbedder(plain_params(pipeline.named_steps["embed"].get_params()))
            self.novelty_features_ = features.fit()
            if negatives is not None:
                negatives = check_rows(negatives)
            self.novelty_, self.novelty_image_ = _fit_novelty(
                features, landmarks, sizes, y, usable_world(X),
                {"min_confidence": confidence_floor(self.classifier),
                 **(self.novelty_params or {})}, negatives)
            self.visibility_ = fit_visibility(
                landmarks, y, {"percentile": (self.novelty_params or {}).get(
                    "percentile", DEFAULT_PERCENTILE), **(self.visibility_params or {})})
        self.n_features_in_ = X.shape[1]
        return self

    @classmethod
    def from_parts(cls, pipeline: Pipeline, novelty: NoveltyScorer | None = None,
                   visibility: VisibilityCheck | None = None,
                   novelty_features: NoveltyEmbedder | None = None,
                   novelty_image: NoveltyScorer | None = None) -> PoseClassifier:
        """A fitted estimator from the parts a model file holds (files of every version)."""
        est = cls(rejection=novelty is not None)
        est.pipeline_ = pipeline
        est.classes_ = np.asarray(pipeline.classes_)
        est.novelty_ = novelty
        est.visibility_ = visibility if novelty is not None else None
        est.novelty_features_ = novelty_features if novelty is not None else None
        est.novelty_image_ = novelty_image if est.novelty_features_ is not None else None
        est.n_features_in_ = N_POSE_COLUMNS
        return est

    # -- prediction -------------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` in the order of :attr:`classes_`."""
        check_is_fitted(self, "pipeline_")
        X = check_rows(X)
        return self._classify(self._embed(X))

    def predict(self, X) -> np.ndarray:
        """Most probable class of each pose (no rejection: see :meth:`predict_with_scores`)."""
        proba = self.predict_proba(X)  # checks that the estimator is fitted first
        return self.classes_[np.argmax(proba, axis=1)]

    def score_samples(self, X) -> np.ndarray:
        """Typicality of each pose: minus its novelty score (higher is more like the training
        poses; below ``-threshold`` a pose is ``unknown``). NaN without novelty data."""
        return -self.predict_with_scores(X, reject=False).novelty

    def predict_with_scores(self, X, *, reject: bool = True) -> Predictions:
        """Labels, probabilities, novelty scores and partial flags in one pass.

        With ``reject`` (and novelty data) a pose whose key joints are hidden is labelled
        ``"partial"`` and one whose novelty exceeds its threshold ``"unknown"``; the
        probabilities are those of the classifier either way. A pose without world landmarks
        (NaN columns) is scored on the image landmarks against the image-only threshold.
        """
        if not hasattr(self, "pipeline_"):  # cheaper than check_is_fitted per video frame
            check_is_fitted(self, "pipeline_")
        X = check_rows(X)
        matrix = image_matrix(X)
        cache = self._cache()  # once: checking that it is current costs ~3 us
        embedder = cache["embedder"]
        image = None
        if self.novelty_features_ is not None:
            image = self.novelty_features_.image_features(matrix)
        if image is not None and embedder.world == "off":  # one embedding pass: the
            embedded = image[:, :embedder.n_features_out_]  # classifier's is its first columns
        else:
            embedded = self._embed(X, cache)
        proba = self._classify(embedded, cache)
        labels = cache["class_names"][np.argmax(proba, axis=1)]
        if self.novelty_ is None:
            nan = np.full(len(labels), np.nan)
            return Predictions(labels, proba, nan, np.zeros(len(labels), dtype=bool), nan)
        world = row_world(X) if X.shape[1] == N_POSE_COLUMNS else None
        novelty, threshold = self._novelty(embedded, image, world, labels)
        threshold = self.novelty_.unsure_thresholds(threshold, novelty, proba)
        partial = self.visibility_.is_partial(row_landmarks(X))
        if reject:
            labels = labels.copy()
            labels[novelty > threshold] = UNKNOWN_LABEL
            labels[partial] = PARTIAL_LABEL
        return Predictions(labels, proba, novelty, partial, threshold)

    def _novelty(self, embedded: np.ndarray, image: np.ndarray | None,
                 world: np.ndarray | None, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Novelty score and threshold of each pose, from the classifier embedding, the image
        part of the novelty features (None for files from before them), world landmarks and
        the predicted classes."""
        n = len(embedded)
        if image is None:  # file from before the novelty features: the classifier embedding
            return self.novelty_.novelty(embedded), np.full(n, self.novelty_.threshold_)
        if self.novelty_image_ is None:  # trained without world landmarks
            return self.novelty_.novelty_and_thresholds(image, labels)
        features = self.novelty_features_
        novelty = np.empty(n)
        threshold = np.empty(n)
        world_part = (np.full((n, features.n_world_features_), np.nan) if world is None
                      else features.world_features(world))
        has_world = np.isfinite(world_part).all(axis=1)
        if has_world.all():  # every pose of a video frame with world landmarks: no copies
            return self.novelty_.novelty_and_thresholds(
                np.concatenate([image, world_part], axis=1), labels)
        if has_world.any():
            both = np.concatenate([image[has_world], world_part[has_world]], axis=1)
            novelty[has_world], threshold[has_world] = self.novelty_.novelty_and_thresholds(
                both, labels[has_world])
        alone = image[~has_world]
        novelty[~has_world], threshold[~has_world] = self.novelty_image_.novelty_and_thresholds(
            alone, labels[~has_world])
        return novelty, threshold

    def _warn_without_world(self, X: np.ndarray) -> None:
        """Warn when a model that classifies 3D features and learned them from world landmarks
        is given poses without them: it then uses their picture landmarks as 3D points, which
        classifies worse (e.g. 70% instead of 99% on the push-up photos)."""
        if getattr(self, "novelty_image_", None) is None:  # trained without world landmarks
            return
        if X.shape[1] == N_POSE_COLUMNS and np.isfinite(X[:, N_IMAGE_COLUMNS:]).all():
            return
        warnings.warn(
            "this model classifies 3D features learned from BlazePose world landmarks, and "
            "some poses have none: they are classified on their picture landmarks instead, "
            "which is less accurate; pass world_landmarks= (e.g. Poses.from_table(table)"
            ".world_landmarks) or train with --world-features off", MissingWorldLandmarksWarning,
            stacklevel=5)

    def _embed(self, X: np.ndarray, cache: dict | None = None) -> np.ndarray:
        """The classifier's embedding of checked pose rows: picture columns, or with world
        features the whole rows (world columns NaN when ``X`` has none). ``cache``:
        :meth:`_cache`, when the caller has it."""
        embedder = (cache or self._cache())["embedder"]
        if embedder.world == "off":
            return embedder.embed(image_matrix(X))
        self._warn_without_world(X)
        if X.shape[1] != N_POSE_COLUMNS:
            X = np.concatenate([X, np.full((len(X), N_WORLD_COLUMNS), np.nan)], axis=1)
        return embedder.embed(X)

    # -- the single-pose fast path ----------------------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_lean", None)  # derived from the pipeline; rebuilt on first use, not saved
        return state

    def _classify(self, embedded: np.ndarray, cache: dict | None = None) -> np.ndarray:
        """Probabilities of validated embeddings: the lean path for a few rows (one video
        frame), scikit-learn for batches and for classifiers the lean path does not cover."""
        cache = cache or self._cache()
        if len(embedded) <= LEAN_MAX_ROWS:
            if "lean" not in cache:  # built and checked against scikit-learn once per model
                cache["lean"] = lean_predict_proba(cache["classifier"],
                                                   self._lean_probe(embedded))
            if cache["lean"] is not None:
                return cache["lean"](embedded)
        return pipeline_predict_proba(cache["classifier"], embedded)

    def _cache(self) -> dict:
        """The embedder, the classifier part of the pipeline, its lean path and the class names
        as objects (the labels' dtype), rebuilt when the steps change (``Pipeline.named_steps``
        and slicing cost ~5 us a call)."""
        pipeline = self.pipeline_
        steps = tuple(step for _, step in pipeline.steps)
        cache = self.__dict__.get("_lean")
        if cache is None or cache["pipeline"] is not pipeline or cache["steps"] != steps:
            classifier = pipeline[-1] if len(steps) == 2 else pipeline[1:]
            cache = {"pipeline": pipeline, "steps": steps, "classifier": classifier,
                     "embedder": pipeline.named_steps["embed"],
                     "class_names": self.classes_.astype(object)}
            self.__dict__["_lean"] = cache
        return cache

    def _lean_probe(self, embedded: np.ndarray) -> np.ndarray:
        """Embeddings on which the lean path must match scikit-learn: training poses (from the
        novelty data) and perturbed copies, else the query itself."""
        scorer = self.novelty_image_ or self.novelty_
        if scorer is None:
            return embedded
        if self._cache()["embedder"].world != "off":  # the novelty features are not a prefix
            return np.concatenate([embedded, embedded + np.random.default_rng(0).normal(
                0, LEAN_PROBE_WORLD_NOISE, embedded.shape)])
        n = embedded.shape[1]  # the classifier's embedding is the first columns of the novelty's
        ref = scorer.reference_[:, :n]
        rows = ref[np.linspace(0, len(ref) - 1, min(LEAN_PROBE_ROWS, len(ref))).astype(int)]
        rows = np.concatenate([rows, rows + np.random.default_rng(0).normal(
            0, LEAN_PROBE_NOISE, rows.shape)])
        return rows.astype(np.float64) * scorer.scale_ + scorer.center_[:n]


def _fit_pipeline(pipeline: Pipeline, landmarks, sizes, labels, mirror: bool, *,
                  world: np.ndarray, views=(), pitch: float = 0.0) -> Pipeline:
    """Fit on the poses, plus their synthetic ``views``/``pitch`` views
    (:func:`~poseclf.classify.views.augment_views`), plus the mirror images of all when
    ``mirror``. The embedder gets pose matrices, or pose rows when it uses world features."""
    y = np.asarray(labels)
    groups = np.arange(len(y))  # a pose, its views and their mirror images share a group
    if len(views) or pitch:
        made = augment_views(landmarks, sizes, world, views, pitch=pitch)
        landmarks = np.concatenate([landmarks, made.landmarks.astype(np.float32)])
        sizes = np.concatenate([sizes, sizes[made.source]])
        world = np.concatenate([world, made.world])
        y, groups = np.concatenate([y, y[made.source]]), np.concatenate([groups, made.source])
    if mirror:
        landmarks = np.concatenate([landmarks, mirror_landmarks(landmarks)])
        sizes = np.concatenate([sizes, sizes])
        world = np.concatenate([world, mirror_world_landmarks(world)])
        y, groups = np.concatenate([y, y]), np.concatenate([groups, groups])
    if pipeline.named_steps["embed"].world == "off":
        X = pose_matrix(landmarks, sizes)
    else:
        X = pose_rows(landmarks, sizes, world)
    search = pipeline.steps[-1][1]
    if isinstance(search, GridSearchCV):  # grouped folds: see classifiers._grid_search
        pipeline.fit(X, y, **{f"{pipeline.steps[-1][0]}__groups": groups})
        # keep only the chosen model (smaller, simpler file)
        pipeline.steps[-1] = (pipeline.steps[-1][0], search.best_estimator_)
        pipeline.best_params_ = search.best_params_
    else:
        pipeline.fit(X, y)
    return pipeline


class _NoveltyInput(NamedTuple):
    """Novelty features of some poses and of their mirror images (image part, then world)."""

    image: np.ndarray
    image_mirror: np.ndarray
    both: np.ndarray | None  # image + world; None without world landmarks
    both_mirror: np.ndarray | None


def _novelty_input(features: NoveltyEmbedder, landmarks, sizes, world) -> _NoveltyInput:
    image = features.image_features(pose_matrix(landmarks, sizes))
    image_mirror = features.image_features(pose_matrix(mirror_landmarks(landmarks), sizes))
    if world is None:
        return _NoveltyInput(image, image_mirror, None, None)
    both = np.concatenate([image, features.world_features(world)], axis=1)
    both_mirror = np.concatenate(
        [image_mirror, features.world_features(mirror_world_landmarks(world))], axis=1)
    return _NoveltyInput(image, image_mirror, both, both_mirror)


def _fit_novelty(features: NoveltyEmbedder, landmarks, sizes, labels, world, params: dict,
                 negatives: np.ndarray | None = None) -> tuple[NoveltyScorer, NoveltyScorer | None]:
    """The novelty scorer (on image + world features when ``world`` is given) and, with world
    landmarks, the image-only scorer for poses without them. ``negatives`` (pose rows) tighten
    both; those without world landmarks only the image-only scorer. With world landmarks and
    negatives both scorers also hold the training poses turned by ``params["views"]`` degrees
    (:data:`NOVELTY_VIEWS`; ``()``: none), added after the calibration."""
    mine = _novelty_input(features, landmarks, sizes, world)
    neg = neg_world = None
    if negatives is not None and len(negatives):
        neg_landmarks = row_landmarks(negatives)
        neg_sizes = negatives[:, N_IMAGE_COLUMNS - 2:N_IMAGE_COLUMNS].astype(np.float32)
        neg = _novelty_input(features, neg_landmarks, neg_sizes, None)
        if world is not None and negatives.shape[1] == N_POSE_COLUMNS:
            has = np.isfinite(row_world(negatives)).all(axis=(1, 2))
            if has.any():
                neg_world = _novelty_input(features, neg_landmarks[has], neg_sizes[has],
                                           row_world(negatives)[has])
    params = dict(params)
    views = params.pop("views", NOVELTY_VIEWS)
    image_scorer = NoveltyScorer(**params).fit(
        mine.image, labels, mine.image_mirror,
        None if neg is None else neg.image, None if neg is None else neg.image_mirror)
    if world is None:
        return image_scorer, None
    scorer = NoveltyScorer(**params).fit(
        mine.both, labels, mine.both_mirror, None if neg_world is None else neg_world.both,
        None if neg_world is None else neg_world.both_mirror)
    if views and neg_world is not None:  # without negatives, see NOVELTY_VIEWS
        made = augment_views(landmarks, sizes, world, views)
        if len(made.source):
            seen = _novelty_input(features, made.landmarks, sizes[made.source], made.world)
            view_labels = np.asarray(labels)[made.source]
            scorer.add_references(seen.both, view_labels)
            image_scorer.add_references(seen.image, view_labels)
    return scorer, image_scorer
