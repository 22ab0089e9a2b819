"""Classifiers on pose embeddings, and a registry by name for ``--classifier``.

* ``knn``: the two-stage k-NN of MediaPipe's pose-classification method, vectorised;
* ``svm``: standardisation + RBF ``SVC`` with sigmoid-calibrated probabilities
  (:class:`~poseclf.classify.calibrated_svc.PlattSVC`; optionally grid-searched);
* ``logreg`` and ``mlp``: scikit-learn baselines for comparison.

Defaults favour generalisation to photos from other sources over the last point of fold score:
balanced class weights and moderate regularisation.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_X_y

from .calibrated_svc import PlattSVC
from .defaults import CLASSIFIERS
from .embedding import float_matrix
from .pruned_search import CoordinateBound, worth_pruning_knn

TOP_N_BY_MAX_DISTANCE = 30  # MediaPipe pose classification: candidates by max per-axis distance
TOP_N_BY_MEAN_DISTANCE = 10  # MediaPipe pose classification: voters by mean distance
_CHUNK_ELEMENTS = 1 << 16  # query x train x feature values per block: 256 kB float32 stays in cache

SVM_C = 10.0  # RBF SVC on standardised embeddings; chosen on the bench (bench/accuracy.py)
SVM_GAMMA = "scale"  # sklearn's 1 / (n_features * X.var())
SVM_GRID = {"svc__C": [0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
            "svc__gamma": ["scale", 0.003, 0.01, 0.03, 0.1]}
#: ``search=True`` for knn: voters (MediaPipe: 10) and first-stage candidates (MediaPipe: 30).
KNN_GRID = {"top_n_by_mean_distance": [3, 5, 10, 15], "top_n_by_max_distance": [20, 30, 50]}
#: ``search=True`` for mlp: the L2 penalty and the hidden layer's width.
MLP_GRID = {"mlp__alpha": [0.1, 0.3, 1.0, 3.0], "mlp__hidden_layer_sizes": [(32,), (64,)]}
#: Folds of the sigmoid (Platt) calibration giving SVM probabilities; each class needs this many
#: training samples. (``SVC(probability=True)`` is deprecated since scikit-learn 1.9.)
SVM_CALIBRATION_CV = 3
LOGREG_C = 1.0
MLP_HIDDEN = (64,)
#: L2 penalty. Chosen on bench/accuracy.py's leave-one-source-out figures (3D features, three
#: seeds each; lowest pair | mean): 0.01: 91.2-92.2 | 97.8-98.3%; 0.1: 92.2-93.1 | 98.1-98.4;
#: 0.3: 92.2-95.1 | 98.1-98.6; 1: 93.1-94.1 | 97.9-98.2; 3: 93.1 | 97.8-98.1. 1 is the middle of
#: the plateau, with the best lowest pair; in-source (5-fold) it gives 97.0% on the yoga source
#: of 10 classes and 100% on push-ups (0.01: 94.7%, 100%).
MLP_ALPHA = 1.0
RANDOM_STATE = 0



class PoseKNNClassifier(ClassifierMixin, BaseEstimator):
    """MediaPipe's pose-classification k-NN: max-distance candidates, then mean-distance votes.

    For each query, the ``top_n_by_max_distance`` training samples with the smallest maximum
    per-feature distance are kept (robust ranking against one wrong landmark pulling a sample
    close), then the ``top_n_by_mean_distance`` of those with the smallest mean distance vote.
    With ``mirror_map`` the query is also compared mirrored and the closer one counts.

    Parameters
    ----------
    top_n_by_max_distance : int, default=30
    top_n_by_mean_distance : int, default=10
    feature_weights : array-like of shape (n_features,) or None, default=None
        Per-feature weights on absolute differences (MediaPipe's axes weights); ``None`` = 1.
        :class:`~poseclf.classify.embedding.PoseEmbedder` already scales z by 0.2.
    mirror_map : (index, sign) or None, default=None
        From :meth:`PoseEmbedder.mirror_map`: the mirrored query is ``q[index] * sign``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    X_fit_ : ndarray of shape (n_samples, n_features)
    y_fit_ : ndarray of shape (n_samples,), class indices into ``classes_``
    """

    def __init__(
        self,
        top_n_by_max_distance: int = TOP_N_BY_MAX_DISTANCE,
        top_n_by_mean_distance: int = TOP_N_BY_MEAN_DISTANCE,
        *,
        feature_weights=None,
        mirror_map=None,
    ):
        self.top_n_by_max_distance = top_n_by_max_distance
        self.top_n_by_mean_distance = top_n_by_mean_distance
        self.feature_weights = feature_weights
        self.mirror_map = mirror_map

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_cache", None)  # derived float32 copies: rebuilt on first use, not saved
        return state

    def fit(self, X, y):
        """Store the training embeddings (weighted) and their class indices."""
        if not 1 <= self.top_n_by_mean_distance <= self.top_n_by_max_distance:
            raise ValueError(
                "need 1 <= top_n_by_mean_distance <= top_n_by_max_distance, got "
                f"{self.top_n_by_mean_distance} and {self.top_n_by_max_distance}"
            )
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None")
        X, y = check_X_y(X, y, dtype=np.float64)  # y: 1-D (a column vector with a warning)
        check_classification_targets(y)
        self.classes_, self.y_fit_ = np.unique(y, return_inverse=True)
        self.n_features_in_ = X.shape[1]
        self.weights_ = self._weights(X.shape[1])
        self.X_fit_ = X * self.weights_
        self.__dict__.pop("_cache", None)
        self._search_arrays()  # built here, so that prediction never changes the estimator
        return self

    def __setstate__(self, state):
        super().__setstate__(state)
        if hasattr(self, "X_fit_"):
            self._search_arrays()

    def _search_arrays(self) -> dict:
        """float32 training set in both layouts and the mirror map, built once per fit.

        Kept out of the model file (see ``__getstate__``); rebuilding per query cost more than
        the search itself for a single pose.
        """
        cache = self.__dict__.get("_cache")
        if cache is None or cache["source"] is not self.X_fit_:
            train = self.X_fit_.astype(np.float32)
            cache = {"source": self.X_fit_, "train": train,
                     # (features, samples): stage-1 reductions run along contiguous rows
                     "train_t": np.ascontiguousarray(train.T),
                     "weights": self.weights_.astype(np.float32), "mirror": None}
            cache["bound"] = (CoordinateBound(cache["train_t"], train=train)
                              if worth_pruning_knn(len(train)) else None)
            if self.mirror_map is not None:
                index, sign = (np.asarray(a) for a in self.mirror_map)
                # weights of PoseEmbedder features are mirror-symmetric, but not in general:
                # mirror in unweighted space, then weigh again
                w = self.weights_
                factor = np.divide(sign * w, w[index], out=np.zeros_like(w),
                                   where=w[index] != 0)
                cache["mirror"] = (index.astype(np.intp), factor.astype(np.float32))
            self.__dict__["_cache"] = cache
        return cache

    def _weights(self, n_features: int) -> np.ndarray:
        if self.feature_weights is None:
            return np.ones(n_features)
        w = np.asarray(self.feature_weights, dtype=np.float64).ravel()
        if len(w) != n_features:
            raise ValueError(f"feature_weights has {len(w)} values for {n_features} features")
        return w

    def _check_query(self, X) -> np.ndarray:
        if not hasattr(self, "X_fit_"):
            check_is_fitted(self)  # raises NotFittedError
        X = float_matrix(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        return X

    def kneighbors(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Mean distances and indices of the voting neighbours, each (n, n_voters)."""
        X = self._check_query(X)
        arrays = self._search_arrays()
        train, train_t = arrays["train"], arrays["train_t"]
        Q = X.astype(np.float32) * arrays["weights"]
        n_train = len(train)
        k_max = min(self.top_n_by_max_distance, n_train)
        k_mean = min(self.top_n_by_mean_distance, k_max)
        if arrays["mirror"] is None:
            qs = Q[None]  # (1, n, features)
        else:  # (2, n, features): the query and its mirror image
            index, factor = arrays["mirror"]
            qs = np.stack([Q, Q[:, index] * factor])
        # float32 blocks small enough to stay in cache: ~4x faster than one big float64 block
        chunk = max(1, _CHUNK_ELEMENTS // max(1, len(qs) * n_train * Q.shape[1]))
        dist_out = np.empty((len(Q), k_mean))
        idx_out = np.empty((len(Q), k_mean), dtype=np.intp)
        for start in range(0, len(Q), chunk):
            stop = min(start + chunk, len(Q))
            q = qs[:, start:stop]
            if stop - start == 1 and arrays["bound"] is not None:
                # stage 1 for one pose in a large training set: pruned, the same candidates
                # (of equal distances at the cut, the lower indices), in index order
                cand = np.sort(arrays["bound"].nearest(q[:, 0], k_max)[0])[None]
            else:
                # stage 1: max per-feature distance to every training pose (min over mirror),
                # in one reused buffer (allocating the temporaries cost ~30% for one pose)
                diff = np.subtract(q[..., None], train_t)
                d_max = np.abs(diff, out=diff).max(axis=2).min(axis=0)
                cand = _smallest_first(d_max, k_max)
            # stage 2: mean distance to the candidates only
            # (sum / n: ndarray.mean's arithmetic without its bookkeeping, ~10 us a pose)
            d_mean = (np.abs(q[:, :, None, :] - train[cand]).sum(axis=3) / Q.shape[1]).min(axis=0)
            r = np.arange(stop - start)[:, None]
            best = np.argsort(d_mean, axis=1, kind="stable")[:, :k_mean]
            idx_out[start:stop] = cand[r, best]
            dist_out[start:stop] = d_mean[r, best]
        return dist_out, idx_out

    def predict_proba(self, X) -> np.ndarray:
        """Share of the voting neighbours in each class, (n, n_classes)."""
        _, idx = self.kneighbors(X)
        n, n_classes = len(idx), len(self.classes_)
        flat = (np.arange(n)[:, None] * n_classes + self.y_fit_[idx]).ravel()
        votes = np.bincount(flat, minlength=n * n_classes).reshape(n, n_classes)
        return votes / idx.shape[1]

    def predict(self, X) -> np.ndarray:
        """Class with the most votes (ties: the first class in ``classes_``)."""
        proba = self.predict_proba(X)  # checks fitted first
        return self.classes_[np.argmax(proba, axis=1)]


def _smallest_first(d: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` smallest values of each row of ``d``, in increasing index order; of
    values equal at the cut, the lower indices. That is the set MediaPipe's stable
    ``sorted(...)[:k]`` keeps, and the one ONNX's TopK returns, so that an exported model picks
    the same neighbours (:mod:`poseclf.classify.onnx_classifiers`); the index order makes the
    next stage's stable sort break its own ties by index too.

    Equal distances are common at the cut: when a query's largest difference is in a feature
    that many training poses share (e.g. the hip line's depth after the yaw turn, 0 for every
    pose), they all tie, and ``argpartition`` alone would keep an arbitrary few of them
    (7 of the 356 yoga_manoj poses against the shipped yoga model). Costs ~10 us a pose.
    """
    if k >= d.shape[1]:
        return np.broadcast_to(np.arange(d.shape[1]), d.shape).copy()
    part = np.argpartition(d, k - 1, axis=1)[:, :k]
    kth = d[np.arange(len(d))[:, None], part].max(axis=1, keepdims=True)
    for row in np.flatnonzero(np.count_nonzero(d <= kth, axis=1) > k):  # more tied than places
        below = np.flatnonzero(d[row] < kth[row])
        part[row] = np.concatenate([below, np.flatnonzero(d[row] == kth[row])[:k - len(below)]])
    part.sort(axis=1)
    return part


def _svm(*, C: float = SVM_C, gamma=SVM_GAMMA, kernel: str = "rbf",
         class_weight="balanced", search: bool = False, cv: int = 5,
         random_state: int = RANDOM_STATE):
    pipe = Pipeline([
        ("scale", StandardScaler()),
        # what CalibratedClassifierCV(SVC(...), method="sigmoid", cv=3, ensemble=False) computes,
        # with the fitted sigmoids in attributes poseclf owns (the lean path reads them)
        ("svc", PlattSVC(C, kernel=kernel, gamma=gamma, class_weight=class_weight,
                         cv=SVM_CALIBRATION_CV, random_state=random_state)),
    ])
    if not search:
        return pipe
    return _grid_search(pipe, SVM_GRID, cv, random_state)


class _GroupedFolds(StratifiedGroupKFold):
    """Stratified group folds; without ``groups`` every sample is its own group."""

    def split(self, X, y=None, groups=None):
        if groups is None:
            groups = np.arange(len(X))
        return super().split(X, y, groups)


def _grid_search(estimator, grid: dict, cv: int, random_state: int) -> GridSearchCV:
    """Cross-validated grid search on balanced accuracy.

    Folds are grouped: fit it with ``groups`` (see ``poseclf.classify.model``) so that a pose and
    its mirror image never sit on both sides of a split, which would flatter every setting.
    """
    folds = _GroupedFolds(cv, shuffle=True, random_state=random_state)
    return GridSearchCV(estimator, grid, cv=folds, scoring="balanced_accuracy",
                        error_score="raise")


def _logreg(*, C: float = LOGREG_C, class_weight="balanced", max_iter: int = 5000):
    return Pipeline([
        ("scale", StandardScaler()),
        ("logreg", LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter)),
    ])


def _mlp(*, hidden_layer_sizes=MLP_HIDDEN, alpha: float = MLP_ALPHA, max_iter: int = 2000,
         random_state: int = RANDOM_STATE, search: bool = False, cv: int = 5):
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("mlp", MLPClassifier(hidden_layer_sizes=hidden_layer_sizes, alpha=alpha,
                              max_iter=max_iter, random_state=random_state)),
    ])
    return _grid_search(pipe, MLP_GRID, cv, random_state) if search else pipe


def _knn(*, search: bool = False, cv: int = 5, random_state: int = RANDOM_STATE, **params):
    knn = PoseKNNClassifier(**params)
    return _grid_search(knn, KNN_GRID, cv, random_state) if search else knn


#: A builder per name of :data:`~poseclf.classify.defaults.CLASSIFIERS` (the names accepted by
#: :func:`make_classifier` and ``--classifier``; kept there, importable without scikit-learn).
_BUILDERS = {"knn": _knn, "svm": _svm, "logreg": _logreg, "mlp": _mlp}


def make_classifier(name: str, **params) -> BaseEstimator:
    """A new, unfitted classifier by registry name.

    Parameters
    ----------
    name : {"knn", "svm", "logreg", "mlp"}
    **params
        Builder options: ``knn``: :class:`PoseKNNClassifier` parameters, ``search`` (grid
        search of the neighbour counts), ``cv``; ``svm``: ``C``,
        ``gamma``, ``kernel``, ``class_weight``, ``search`` (grid search of C and gamma by
        cross-validation), ``cv``; ``logreg``: ``C``, ``class_weight``; ``mlp``:
        ``hidden_layer_sizes``, ``alpha``, ``search`` (grid search of both), ``cv``.

    Examples
    --------
    >>> make_classifier("svm", C=3.0).named_steps["svc"].C
    3.0
    """
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(
            f"unknown classifier {name!r}; choose one of {', '.join(CLASSIFIERS)}"
        ) from None
    try:
        return builder(**params)
    except TypeError as err:
        raise ValueError(f"bad option for classifier {name!r}: {err}") from err
