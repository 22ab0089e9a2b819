"""Open-set rejection: is a pose one of the trained classes at all, and is enough of it visible?

Two checks, both independent of the classifier's own probabilities (which stay confident far
from the training data):

* :class:`NoveltyScorer`: the **novelty** of a pose is its mean distance to the ``n_neighbors``
  nearest training poses of any class, in the model's embedding space (scaled by one global
  factor, see below). The training set includes every pose's left-right mirror image, so a
  mirrored pose is never novel. The acceptance **threshold** is calibrated at training time by
  stratified K-fold cross-validation on the training set: each held-out pose is scored against
  the other folds (and their mirror images, never its own), and the threshold is the
  ``percentile`` (default 99) of those in-class scores. Above it, ``predict`` answers
  :data:`UNKNOWN_LABEL`.
* **Negatives** (``NoveltyScorer.fit(..., negatives=...)``, :mod:`poseclf.classify.negatives`):
  poses that are none of the classes. Those that look like members of a class are dropped; with
  the rest a pose is also unknown when it is clearly nearer to them than to the training poses
  (:attr:`NoveltyScorer.negative_ratio_`) or farther from its predicted class than the class's
  own poses are (:attr:`NoveltyScorer.class_thresholds_`), and the threshold is never below the
  median novelty of the negatives. All of it is one threshold per pose
  (:meth:`NoveltyScorer.thresholds`): a pose is unknown when its novelty is above it.
* **Confidence** (:meth:`NoveltyScorer.unsure_thresholds`): an MLP model of three classes or
  more also answers unknown when its classifier gives no class 0.7 probability
  (:data:`MIN_CONFIDENCE_BY_CLASSIFIER`): a pose of the classes' family but of none of them
  falls between several.
* :class:`~poseclf.classify.visibility.VisibilityCheck` (its own module): a pose is
  :data:`PARTIAL_LABEL` when too many of the body joints the
  embedding depends on (shoulders, elbows, wrists, hips, knees, ankles) are missing on both
  sides. Training learns the rule
  (:func:`~poseclf.classify.visibility.fit_visibility`): a landmark is missing when it is out
  of the picture (low visibility alone does not count: BlazePose places the far arm of a side
  view well but gives it a low visibility), only the joints every class has in the picture
  count, and the number tolerated is cross-validated. A photo cut at the waist (knees and ankles
  out of frame) is partial.

The space novelty is measured in (:class:`NoveltyEmbedder`) is the classifier's embedding with
the unit directions of the limbs added, then the same directions from BlazePose's **world
landmarks** (metric 3D): in the picture a push-up filmed from the front has an upright torso, like
a standing person; in 3D it points away from the camera. A model trained with world landmarks
also keeps an image-only scorer, with its own threshold, for poses that come without them.

Choices, measured with ``bench/rejection.py`` on ``../shared/data``:

* One global scale (root-mean-square of the per-feature standard deviations) rather than a
  per-feature standardisation: per-feature scaling inflates near-constant features (e.g. the
  shoulder width of a side view), which made legitimate photos from other sources look novel.
* ``min_visibility`` 0.3 and ``max_hidden_joints`` 1: on the five photo datasets, 0.3 marks 4x
  fewer training photos partial than MediaPipe's drawing threshold 0.5, and photos cropped at the
  waist or hips are caught equally well by both (the in-frame test does most of that work).
* Limb directions and world directions (weight 0.5), with the reviewed bad detections of
  ``datasets/exclusions.csv`` left out: the push-up model rejects 78% of the yoga and sit/stand
  photos (67% on the classifier embedding alone), a sit/stand model accepts 88% of the other
  sit/stand source (77%), in-class acceptance stays >= 97.6%. A local-outlier-factor score
  (density relative to the neighbours') rejected 88% but accepted only 91% of the other yoga
  source and swung between 80% and 92% with its neighbour count, so it was not kept.
* The mirror images of the reference poses and of the negatives are not saved but rebuilt at
  load (a column map, :func:`~poseclf.classify.nearest.mirror_map`), and the per-class rule's
  labels are class codes: the shipped models' files went from 2.4-2.7 MB to 1.3-1.6 MB.
  Leaving the negatives' mirror images out altogether measured worse (unseen yoga classes
  answered unknown 49% -> 30%).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from .defaults import DEFAULT_PERCENTILE
from .embedding import DIRECTION_PAIRS, PoseEmbedder, world_directions
from .nearest import (
    FoldReference,
    mean_nearest_distance,
    mirror_map,
    scale_rows,
    searchable,
    squares,
    with_mirrors,
)

UNKNOWN_LABEL = "unknown"  # answer for a pose unlike every training pose (novelty > threshold)
PARTIAL_LABEL = "partial"  # answer for a pose whose key joints are not visible
REJECTION_LABELS: tuple[str, ...] = (UNKNOWN_LABEL, PARTIAL_LABEL)

DEFAULT_NEIGHBORS = 5  # nearest training poses averaged (a pose and its mirror count as 2)
DEFAULT_CALIBRATION_CV = 5  # folds of the threshold calibration
CALIBRATION_RANDOM_STATE = 0  # same folds every run
CALIBRATION_PERCENTILES = (50, 90, 95, 99, 100)  # held-out score summary kept in the metadata
#: A negative pose nearer to a class than this percentile of the class's held-out in-class
#: novelty scores is taken for a member of the class (the user's own pose) and not used.
NEGATIVE_MEMBER_PERCENTILE = 50.0
#: With negatives, the novelty threshold is at least this percentile of the kept negatives'
#: novelty, and the ratio rule never makes a pose unknown unless it is at least this much nearer
#: to the negatives than to the training poses. Measured with bench/rejection_protocols.py
#: (lowest leave-one-source-out acceptance | unseen yoga classes rejected | squat.mp4 counted by
#: the bench/rejection.py squat model, 3 true): ratio floor 1.0: 61% | 53%, 41% | -;
#: 1.25: 92% | 53%, 41% | 2; 1.3: 92% | 49%, 41% | 3; 1.5: 95% | 28%, 41% | -. 1.3: the
#: lowest that keeps the counts (a squat's bottom is about as near to the yoga goddess pose as
#: to sitting). The threshold floor lifted the sit/stand pairs from 88% to 96-98%.
NEGATIVE_FLOOR_PERCENTILE = 50.0
MIN_NEGATIVE_RATIO = 1.3
#: Per-class rule (with negatives only): neighbours averaged, and the margin over the largest
#: held-out in-class distance. Measured with bench/rejection_protocols.py: the unseen yoga
#: classes answered unknown rose from 41% / 38% to 53% / 41% (49% / 41% with the ratio floor 1.3)
#: with no loss elsewhere.
CLASS_NEIGHBORS = 3
CLASS_MARGIN = 1.2
#: A negative this near a training pose (RMS over the scaled features, where held-out poses are
#: 0.3-1 apart; float32 rounding leaves copies up to ~1e-3 apart) is that pose again.
DUPLICATE_DISTANCE = 0.01
WORLD_DIRECTION_WEIGHT = 0.5  # world-landmark limb directions, relative to the image part
#: Confidence rule: a model of :data:`MIN_CONFIDENCE_CLASSES` classes or more also answers
#: unknown when its classifier gives no class the floor's probability (a pose of the same family
#: as the classes but of none of them: a dancer, for a yoga model with a tree class, is near the
#: training poses yet between several classes). With two classes a low probability means
#: between the two (a push-up half-way down, a person rising), not another kind, so the rule is
#: off there. Measured with bench/rejection_protocols.py, MLP on 3D features (floor 0.6 | 0.7 |
#: 0.8): unseen yoga classes answered unknown 44.8/48.1% -> 49.7/55.8 | 58.0/69.2 | 63.0/78.8%,
#: own classes accepted 97.1/95.0% -> unchanged | unchanged | 97.1/93.8%; the other yoga source
#: accepted 100/99.4% -> 100/98.9 | 100/98.9 | 98.2/97.1%. Only the MLP has a floor: the
#: k-NN's probabilities are vote shares (0.7 cost 95.0 -> 87.5% of the own classes), the SVM's
#: gained on one yoga source and lost on the other (47.0/59.6% unknown, 97.1/93.8% accepted).
MIN_CONFIDENCE_BY_CLASSIFIER: dict[str, float] = {"mlp": 0.7}
MIN_CONFIDENCE_CLASSES = 3


def confidence_floor(classifier: str) -> float:
    """The confidence rule's probability floor for a classifier name (0: none)."""
    return MIN_CONFIDENCE_BY_CLASSIFIER.get(classifier, 0.0)


class NoveltyScorer(BaseEstimator):
    """Mean distance to the nearest training poses, with a cross-validated threshold.

    Parameters
    ----------
    n_neighbors : int, default=5
        Training poses (mirror images included) whose distances are averaged.
    percentile : float, default=99
        The threshold is this percentile of the held-out in-class scores, in (0, 100].
    cv : int, default=5
        Folds of the calibration (lowered to the smallest class size; at least 2).
    random_state : int, default=0
        Fold shuffling seed.
    min_confidence : float, default=0
        The confidence rule: with 3 classes or more a pose is also unknown when the classifier
        gives no class this probability (:func:`confidence_floor` gives each classifier's).

    Attributes
    ----------
    center_ : ndarray of shape (n_features,)
    scale_ : float
        Root-mean-square of the per-feature standard deviations of the training embeddings.
    reference_ : ndarray of shape (n_reference, n_features), float32
        Scaled training embeddings (and their mirror images, unless ``mirror_columns_`` says
        how to rebuild them: :meth:`reference`).
    mirror_columns_, mirror_signs_ : ndarray of shape (n_features,) or None
        The mirror image of a stored pose ``r`` (training pose or negative) is
        ``r[mirror_columns_] * mirror_signs_`` (see :func:`mirror_map`); None: the mirror
        images are stored (files from before, features that are not mirror-symmetric).
    threshold_ : float
        Novelty above which a pose is unknown.
    min_confidence_ : float
        ``min_confidence`` with 3 classes or more, else 0 (applied by :meth:`unsure_thresholds`,
        which the classifier's probabilities feed).
    calibration_ : dict
        ``folds``, ``n`` (held-out scores), ``percentiles`` ({percentile: score}) and
        ``accepted`` (share of held-out scores <= threshold).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4))
    >>> scorer = NoveltyScorer().fit(X, np.repeat(["a", "b"], 30))
    >>> bool(scorer.novelty(X[:1] + 100)[0] > scorer.threshold_)
    True
    """

    min_confidence = 0.0  # files from before the parameter unpickle without it

    def __init__(self, n_neighbors: int = DEFAULT_NEIGHBORS, *,
                 percentile: float = DEFAULT_PERCENTILE, cv: int = DEFAULT_CALIBRATION_CV,
                 random_state: int = CALIBRATION_RANDOM_STATE, min_confidence: float = 0.0):
        self.n_neighbors = n_neighbors
        self.percentile = percentile
        self.cv = cv
        self.random_state = random_state
        self.min_confidence = min_confidence

    def _check_params(self) -> None:
        if int(self.n_neighbors) != self.n_neighbors or self.n_neighbors < 1:
            raise ValueError(f"n_neighbors must be an integer >= 1, got {self.n_neighbors!r}")
        if not 0 < self.percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {self.percentile!r}")
        if int(self.cv) != self.cv or self.cv < 2:
            raise ValueError(f"cv must be an integer >= 2 folds, got {self.cv!r}")
        if not 0 <= self.min_confidence < 1:
            raise ValueError(f"min_confidence must be in [0, 1), got {self.min_confidence!r}")

    def fit(self, X, y, X_mirror=None, negatives=None, negatives_mirror=None) -> NoveltyScorer:
        """Learn the reference set from embeddings ``X`` and calibrate the threshold.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
            Training embeddings.
        y : array-like of shape (n,)
            Their labels (the calibration folds are stratified by class).
        X_mirror : array-like of shape (n, n_features), optional
            Embeddings of the mirrored poses, row for row; added to the reference set. A held-out
            pose's own mirror image is held out with it.
        negatives, negatives_mirror : array-like of shape (m, n_features), optional
            Embeddings of poses that are none of the classes (and their mirror images). Those
            nearer to a class than :data:`NEGATIVE_MEMBER_PERCENTILE` of its held-out in-class
            scores are dropped as members; the rest make a pose ``unknown`` when it is nearer
            to them than the training poses are, relative to its novelty: the ratio novelty /
            (mean distance to the nearest negatives) above the ``percentile`` of the held-out
            in-class ratios (:attr:`negative_ratio_`).
        """
        self._check_params()
        X, y = check_X_y(X, y, dtype=np.float64)
        check_classification_targets(y)
        if X_mirror is not None:
            X_mirror = check_array(X_mirror, dtype=np.float64)
            if X_mirror.shape != X.shape:
                raise ValueError(f"X_mirror has shape {X_mirror.shape}, X has {X.shape}")
        _, counts = np.unique(y, return_counts=True)
        folds = min(int(self.cv), int(counts.min()))
        if folds < 2:
            raise ValueError("novelty calibration needs at least 2 samples per class; the "
                             f"smallest class has {counts.min()} sample(s)")
        both = X if X_mirror is None else np.concatenate([X, X_mirror])
        self.n_features_in_ = X.shape[1]
        self.center_ = both.mean(axis=0)
        self.scale_ = float(np.sqrt(np.mean(both.var(axis=0)))) or 1.0
        # each pose scored against the other folds (and their mirror images, never its own)
        splitter = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
        held_out = cross_val_predict(
            FoldReference(self.center_, self.scale_, self.n_neighbors), X, y, cv=splitter,
            params=None if X_mirror is None else {"X_mirror": X_mirror})
        self.reference_ = self._scaled(both)
        self.threshold_ = float(np.percentile(held_out, self.percentile))
        self.calibration_ = {
            "folds": folds,
            "n": len(held_out),
            "percentiles": {str(p): float(np.percentile(held_out, p))
                            for p in CALIBRATION_PERCENTILES},
            "accepted": float(np.mean(held_out <= self.threshold_)),
        }
        self.negative_reference_ = None
        self.negative_ratio_ = float("inf")
        self.negatives_ = {"given": 0, "kept": 0}
        self.classes_ = self.class_thresholds_ = None
        self.mirror_columns_ = self.mirror_signs_ = None
        self.min_confidence_ = (float(self.min_confidence)
                                if len(counts) >= MIN_CONFIDENCE_CLASSES else 0.0)
        if negatives is not None:
            self._fit_negatives(X, y, X_mirror, held_out, negatives, negatives_mirror)
            if self.negative_reference_ is not None:
                self._fit_classes(X, y, X_mirror, splitter)
        if X_mirror is not None:
            self._drop_mirrors(len(X), negatives_mirror is not None)
        return self

    def _drop_mirrors(self, n: int, negatives_mirrored: bool) -> None:
        """Keep the reference poses without their mirror images when a column map rebuilds
        them (:func:`mirror_map`, checked on every stored pose): half the model file."""
        sets = [(self.reference_[:n], self.reference_[n:])]
        negatives = self.negative_reference_
        if negatives is not None:
            if not negatives_mirrored:
                return
            sets.append((negatives[:len(negatives) // 2], negatives[len(negatives) // 2:]))
        found = mirror_map(np.concatenate([p for p, _ in sets]),
                           np.concatenate([m for _, m in sets]))
        if found is None:
            return
        self.mirror_columns_, self.mirror_signs_ = found
        self.reference_ = sets[0][0]
        if negatives is not None:
            self.negative_reference_ = sets[1][0]
        if self.class_thresholds_ is not None:
            self.reference_labels_ = self.reference_labels_[:n]

    def _fit_classes(self, X, y, X_mirror, splitter) -> None:
        """Per-class thresholds of the distance to the predicted class's own poses: a pose of
        a kind the model never learned (a dancer's pose, for a model with a tree class) is
        near the training poses as a whole but farther from its class than its class's poses
        are from each other. Calibrated on held-out folds (the largest held-out distance,
        times :data:`CLASS_MARGIN`), never below the median distance of the negatives to the
        class (a class from one video would otherwise accept nothing new)."""
        pose = self._scaled(X)
        mirror = pose if X_mirror is None else self._scaled(X_mirror)
        held = np.zeros(len(y))
        for fit, test in splitter.split(X, y):
            for label in np.unique(y[test]):
                query, ref = test[y[test] == label], fit[y[fit] == label]
                held[query] = mean_nearest_distance(
                    pose[query], np.concatenate([pose[ref], mirror[ref]]), CLASS_NEIGHBORS)
        self.classes_ = np.unique(y)
        negatives = self.negative_reference_
        thresholds = []
        for label in self.classes_:
            ref = np.concatenate([pose[y == label], mirror[y == label]])
            floor = np.median(mean_nearest_distance(negatives, ref, CLASS_NEIGHBORS))
            thresholds.append(max(CLASS_MARGIN * held[y == label].max(), float(floor)))
        self.class_thresholds_ = np.asarray(thresholds)
        labels = np.concatenate([y, y]) if X_mirror is not None else y
        # class codes (indices into classes_), not names: 1 byte a pose rather than 4 a letter
        self.reference_labels_ = np.searchsorted(self.classes_, labels).astype(
            np.uint8 if len(self.classes_) <= 256 else np.int32)

    def _fit_negatives(self, X, y, X_mirror, held_out, negatives, negatives_mirror) -> None:
        """Keep the negatives that are not members of a class; calibrate the ratio rule."""
        negatives = check_array(negatives, dtype=np.float64)
        if negatives.shape[1] != X.shape[1]:
            raise ValueError(f"negatives have {negatives.shape[1]} features, X has {X.shape[1]}")
        scaled = self._scaled(negatives)
        mirrors = None if negatives_mirror is None else self._scaled(
            check_array(negatives_mirror, dtype=np.float64))
        pose, mirror = self._scaled(X), (None if X_mirror is None else self._scaled(X_mirror))
        # a training pose given again as a negative (training on a shipped table with the
        # shipped negatives) is a member, however atypical of its class
        member = mean_nearest_distance(scaled, pose, 1) <= DUPLICATE_DISTANCE
        for label in np.unique(y):
            mine = y == label
            ref = pose[mine] if mirror is None else np.concatenate([pose[mine], mirror[mine]])
            typical = np.percentile(held_out[mine], NEGATIVE_MEMBER_PERCENTILE)
            member |= mean_nearest_distance(scaled, ref, self.n_neighbors) <= typical
        self.negatives_ = {"given": len(scaled), "kept": int((~member).sum())}
        if member.all():
            return
        kept = scaled[~member]
        self.negative_reference_ = (kept if mirrors is None
                                    else np.concatenate([kept, mirrors[~member]]))
        ratios = held_out / np.maximum(self._negative_distance(pose), 1e-12)
        self.negative_ratio_ = max(float(np.percentile(ratios, self.percentile)),
                                   MIN_NEGATIVE_RATIO)
        # the training poses' own spread understates a class's (one camera, one person): a
        # pose nearer to the classes than a typical negative is not unknown for its distance
        floor = float(np.percentile(mean_nearest_distance(kept, self.reference_,
                                                          self.n_neighbors),
                                    NEGATIVE_FLOOR_PERCENTILE))
        self.calibration_["threshold_in_class"] = self.threshold_
        self.calibration_["threshold_floor"] = floor
        self.threshold_ = max(self.threshold_, floor)
        self.calibration_["accepted_with_negatives"] = float(np.mean(
            (held_out <= self.threshold_) & (ratios <= self.negative_ratio_)))

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        return scale_rows(X, self.center_, self.scale_)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_cache", None)  # derived from reference_: rebuilt on first use, not saved
        return state

    def reference(self) -> np.ndarray:
        """The scaled reference poses, mirror images included (rebuilt from
        :attr:`mirror_columns_` when the file does not hold them)."""
        return self._references()["reference"]

    def _references(self) -> dict:
        """What scoring needs and the file does not hold, computed once per fit or load: the
        reference poses with their mirror images and their ``|r|^2``, the same of the
        negatives, and each class's poses (:meth:`class_distance`)."""
        stored = (self.reference_, getattr(self, "negative_reference_", None),
                  getattr(self, "reference_labels_", None),
                  getattr(self, "mirror_columns_", None))
        cache = self.__dict__.get("_cache")
        if cache is not None and all(a is b for a, b in zip(cache["stored"], stored, strict=True)):
            return cache
        columns, signs = stored[3], getattr(self, "mirror_signs_", None)
        # float64 (see mean_nearest_distance); the file keeps float32
        ref = with_mirrors(self.reference_, columns, signs).astype(np.float64)
        ref_sq = squares(ref)
        cache = {"stored": stored, "reference": ref, "reference_sq": ref_sq,
                 "reference_search": searchable(ref, ref_sq)}
        if stored[1] is not None:
            negatives = with_mirrors(stored[1], columns, signs).astype(np.float64)
            negatives_sq = squares(negatives)
            cache.update(negatives=negatives, negatives_sq=negatives_sq,
                         negatives_search=searchable(negatives, negatives_sq))
        labels = stored[2]
        if labels is not None and getattr(self, "classes_", None) is not None:
            if labels.dtype.kind in "US":  # files from before the class codes: names
                labels = np.searchsorted(self.classes_, labels)
            if len(labels) < len(ref):  # the rebuilt mirror images: same classes
                labels = np.concatenate([labels, labels])
            cache["classes"] = []
            for code in range(len(self.classes_)):
                mine = np.ascontiguousarray(ref[labels == code])
                mine_sq = squares(mine)
                cache["classes"].append((mine, mine_sq, searchable(mine, mine_sq)))
        self.__dict__["_cache"] = cache
        return cache

    def novelty(self, X) -> np.ndarray:
        """Novelty of each embedding, ``(n,)``: higher is farther from the training poses."""
        if not hasattr(self, "reference_"):  # cheaper than check_is_fitted per video frame
            check_is_fitted(self)
        return self._novelty_of_scaled(self._scaled(self._checked(X)))

    def _checked(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)  # lighter than check_array: one pose per video frame
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has shape {X.shape}, but the novelty scorer was fitted on "
                             f"{self.n_features_in_} features")
        return X

    def _novelty_of_scaled(self, scaled: np.ndarray, refs: dict | None = None) -> np.ndarray:
        refs = refs or self._references()
        return mean_nearest_distance(scaled, refs["reference"], self.n_neighbors,
                                     refs["reference_sq"], refs["reference_search"])

    def _negative_distance(self, scaled: np.ndarray, refs: dict | None = None) -> np.ndarray:
        refs = refs or self._references()
        return mean_nearest_distance(scaled, refs["negatives"], self.n_neighbors,
                                     refs["negatives_sq"], refs["negatives_search"])

    def thresholds(self, X, classes=None, novelty=None) -> np.ndarray:
        """The novelty threshold each embedding is held to, ``(n,)``: :attr:`threshold_`, or
        lower near the negatives (``negative_ratio_`` times the distance to them), or lower
        than the pose's own ``novelty`` when it is farther from its predicted class
        (``classes``, one label per pose) than :attr:`class_thresholds_` allow."""
        X = np.asarray(X, dtype=np.float64)
        if getattr(self, "negative_reference_", None) is None:  # no negatives, or older file
            return np.full(len(X), self.threshold_)
        return self._thresholds_of_scaled(self._scaled(X), classes, novelty)

    def novelty_and_thresholds(self, X, classes=None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`novelty` and :meth:`thresholds` of the same embeddings, scaled once (what a
        video frame asks)."""
        scaled = self._scaled(self._checked(X))
        refs = self._references()  # once: checking that the cache is current costs ~5 us
        novelty = self._novelty_of_scaled(scaled, refs)
        if getattr(self, "negative_reference_", None) is None:  # no negatives, or older file
            return novelty, np.full(len(scaled), self.threshold_)
        return novelty, self._thresholds_of_scaled(scaled, classes, novelty, refs)

    def _thresholds_of_scaled(self, scaled: np.ndarray, classes, novelty,
                              refs: dict | None = None) -> np.ndarray:
        """:meth:`thresholds` of scaled embeddings, for a model with negatives."""
        refs = refs or self._references()
        out = np.minimum(self.threshold_,
                         self.negative_ratio_ * self._negative_distance(scaled, refs))
        if classes is not None and getattr(self, "class_thresholds_", None) is not None:
            if novelty is None:
                novelty = self._novelty_of_scaled(scaled, refs)
            codes = self._class_codes(classes)
            far = (self._class_distance_of_codes(scaled, codes, refs)
                   > self.class_thresholds_[codes])
            out[far] = np.minimum(out[far], 0.5 * novelty[far])  # below its own novelty
        return out

    def _class_codes(self, classes) -> np.ndarray:
        return np.searchsorted(self.classes_, np.asarray(classes))

    def class_distance(self, scaled: np.ndarray, classes) -> np.ndarray:
        """Mean distance of scaled embeddings to the nearest poses of the given classes."""
        return self._class_distance_of_codes(scaled, self._class_codes(classes))

    def _class_distance_of_codes(self, scaled: np.ndarray, codes: np.ndarray,
                                 refs: dict | None = None) -> np.ndarray:
        per_class = (refs or self._references())["classes"]
        if len(codes) == 1:  # one pose (a video frame): no grouping by class
            ref, ref_sq, search = per_class[codes[0]]
            return mean_nearest_distance(scaled, ref, CLASS_NEIGHBORS, ref_sq, search)
        out = np.zeros(len(scaled))
        for code in np.unique(codes):
            mine = codes == code
            ref, ref_sq, search = per_class[code]
            out[mine] = mean_nearest_distance(scaled[mine], ref, CLASS_NEIGHBORS, ref_sq, search)
        return out

    def add_references(self, X, y) -> NoveltyScorer:
        """Also hold the embeddings ``X`` (labels ``y``, classes of the fit) as reference poses,
        after the calibration: poses the thresholds need not be calibrated on, such as the
        training poses seen from other sides. Their mirror images are rebuilt like the others'
        when the scorer has a column map."""
        check_is_fitted(self, "reference_")
        X = check_array(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; the scorer was fitted on "
                             f"{self.n_features_in_}")
        self.reference_ = np.concatenate([self.reference_, self._scaled(X).astype(
            self.reference_.dtype)])
        labels = getattr(self, "reference_labels_", None)
        if labels is not None:
            codes = np.searchsorted(self.classes_, np.asarray(y).astype(self.classes_.dtype))
            self.reference_labels_ = np.concatenate([labels, codes.astype(labels.dtype)])
        return self

    def unsure_thresholds(self, threshold: np.ndarray, novelty: np.ndarray,
                          proba: np.ndarray) -> np.ndarray:
        """``threshold`` held below each pose's own ``novelty`` where the classifier gives no
        class :attr:`min_confidence_` probability (the confidence rule; 0 or absent, in files
        from before it: no change)."""
        floor = getattr(self, "min_confidence_", 0.0)
        if not floor:
            return threshold
        unsure = np.max(proba, axis=1) < floor
        if not unsure.any():
            return threshold
        out = np.array(threshold, dtype=np.float64)
        out[unsure] = np.minimum(out[unsure], 0.5 * np.asarray(novelty)[unsure])
        return out

    def is_novel(self, X, classes=None) -> np.ndarray:
        """True where the novelty is above the pose's threshold (:meth:`thresholds`)."""
        novelty = self.novelty(X)
        return novelty > self.thresholds(X, classes, novelty)


class NoveltyEmbedder(BaseEstimator):
    """The features novelty is measured on, derived from the classifier's embedding settings.

    Image part: :class:`~poseclf.classify.embedding.PoseEmbedder` with the classifier's parameters
    and limb directions added (``directions=True``; the classifier's own embedding is its first
    columns), always on the picture (``world="off"``: a classifier on 3D features keeps the same
    novelty space, so the rejection measured with ``bench/rejection_protocols.py`` holds for
    it). World part: the unit 3D directions of the same limbs from BlazePose's world
    landmarks (:func:`~poseclf.classify.embedding.world_directions`), times ``world_weight``.

    Parameters
    ----------
    embedder_params : dict, optional
        Parameters of the classifier's :class:`~poseclf.classify.embedding.PoseEmbedder`.
    world_weight : float, default=0.5
        Weight of the world directions (unit vectors) relative to the image part.

    Examples
    --------
    >>> import numpy as np
    >>> from poseclf.classify.embedding import pose_matrix
    >>> features = NoveltyEmbedder().fit()
    >>> lm = np.random.default_rng(0).random((2, 33, 4))
    >>> features.image_features(pose_matrix(lm)).shape, features.world_features(lm[..., :3]).shape
    ((2, 111), (2, 42))
    """

    def __init__(self, embedder_params: dict | None = None,
                 world_weight: float = WORLD_DIRECTION_WEIGHT):
        self.embedder_params = embedder_params
        self.world_weight = world_weight

    def fit(self, X=None, y=None) -> NoveltyEmbedder:
        """Build the image embedder (nothing is learned from data)."""
        if not self.world_weight > 0:
            raise ValueError(f"world_weight must be > 0, got {self.world_weight!r}")
        # the picture part only: world landmarks have their own part (world directions)
        params = {**(self.embedder_params or {}), "directions": True, "world": "off"}
        self.image_embedder_ = PoseEmbedder(**params).fit(np.zeros((1, 33, 4)))
        self.n_image_features_ = int(self.image_embedder_.n_features_out_)
        self.n_world_features_ = 3 * len(DIRECTION_PAIRS)
        return self

    def image_features(self, X) -> np.ndarray:
        """Image part for a ``(n, 134)`` :func:`~poseclf.classify.embedding.pose_matrix`."""
        return self.image_embedder_.embed(X)

    def world_features(self, world) -> np.ndarray:
        """World part for ``(n, 33, 3)`` world landmarks (NaN rows stay NaN)."""
        return world_directions(world) * self.world_weight
