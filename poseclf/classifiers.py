"""Classifiers on pose embeddings, and a registry by name for ``--classifier``.

* ``knn``: the two-stage k-NN of MediaPipe's pose-classification method, vectorised;
* ``svm``: standardisation + RBF ``SVC`` with sigmoid-calibrated probabilities (optionally
  grid-searched);
* ``logreg`` and ``mlp``: scikit-learn baselines for comparison.

Defaults favour generalisation to photos from other sources over the last point of fold score:
balanced class weights and moderate regularisation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted

from .embedding import float_matrix

TOP_N_BY_MAX_DISTANCE = 30  # MediaPipe pose classification: candidates by max per-axis distance
TOP_N_BY_MEAN_DISTANCE = 10  # MediaPipe pose classification: voters by mean distance
_CHUNK_ELEMENTS = 1 << 16  # query x train x feature values per block: 256 kB float32 stays in cache

SVM_C = 10.0  # RBF SVC on standardised embeddings; chosen on the bench (bench/accuracy.py)
SVM_GAMMA = "scale"  # sklearn's 1 / (n_features * X.var())
SVM_GRID = {"svc__estimator__C": [0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
            "svc__estimator__gamma": ["scale", 0.003, 0.01, 0.03, 0.1]}
#: ``search=True`` for knn: voters (MediaPipe: 10) and first-stage candidates (MediaPipe: 30).
KNN_GRID = {"top_n_by_mean_distance": [3, 5, 10, 15], "top_n_by_max_distance": [20, 30, 50]}
#: Folds of the sigmoid (Platt) calibration giving SVM probabilities; each class needs this many
#: training samples. (``SVC(probability=True)`` is deprecated since scikit-learn 1.9.)
SVM_CALIBRATION_CV = 3
LOGREG_C = 1.0
MLP_HIDDEN = (64,)
MLP_ALPHA = 1e-2  # L2 penalty; small data sets overfit without it
RANDOM_STATE = 0
#: Largest batch (rows) predicted by the lean path (:func:`lean_predict_proba`); larger batches
#: go through scikit-learn, whose per-call validation is then negligible per row.
LEAN_MAX_ROWS = 16
#: Largest difference to scikit-learn's probabilities accepted when a lean path is checked.
LEAN_TOLERANCE = 1e-9

log = logging.getLogger(__name__)


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
        :class:`~poseclf.embedding.PoseEmbedder` already scales z by 0.2.
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
        X = check_array(X, dtype=np.float64)
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
        check_classification_targets(y)
        self.classes_, self.y_fit_ = np.unique(y, return_inverse=True)
        self.n_features_in_ = X.shape[1]
        self.weights_ = self._weights(X.shape[1])
        self.X_fit_ = X * self.weights_
        self.__dict__.pop("_cache", None)
        return self

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
        queries = [Q]
        if arrays["mirror"] is not None:
            index, factor = arrays["mirror"]
            queries.append(Q[:, index] * factor)
        # float32 blocks small enough to stay in cache: ~4x faster than one big float64 block
        qs = np.stack(queries)  # (1 or 2, n, features): the query and its mirror image
        chunk = max(1, _CHUNK_ELEMENTS // max(1, len(qs) * n_train * Q.shape[1]))
        dist_out = np.empty((len(Q), k_mean))
        idx_out = np.empty((len(Q), k_mean), dtype=np.intp)
        for start in range(0, len(Q), chunk):
            stop = min(start + chunk, len(Q))
            q = qs[:, start:stop]
            # stage 1: max per-feature distance to every training pose (min over mirror),
            # in one reused buffer (allocating the temporaries cost ~30% for a single pose)
            diff = np.subtract(q[..., None], train_t)
            d_max = np.abs(diff, out=diff).max(axis=2).min(axis=0)
            cand = np.argpartition(d_max, k_max - 1, axis=1)[:, :k_max]
            # stage 2: mean distance to the candidates only
            d_mean = np.abs(q[:, :, None, :] - train[cand]).mean(axis=3).min(axis=0)
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


def pipeline_predict_proba(pipeline: Pipeline, X) -> np.ndarray:
    """``pipeline.predict_proba(X)``, minus the Pipeline's per-call bookkeeping.

    Runs each step's ``transform`` then the last step's ``predict_proba`` (nested pipelines
    likewise); same result, but about 0.1 ms less per call, which matters for one video frame.
    Any other estimator: its own ``predict_proba``.
    """
    if not isinstance(pipeline, Pipeline):
        return pipeline.predict_proba(X)
    Xt = X
    for _, step in pipeline.steps[:-1]:
        if step is not None and step != "passthrough":
            Xt = step.transform(Xt)
    last = pipeline.steps[-1][1]
    if isinstance(last, Pipeline):
        return pipeline_predict_proba(last, Xt)
    return last.predict_proba(Xt)


# -- lean prediction: plain NumPy from the fitted attributes, for one pose per video frame --------
#: (n, n_features) float64 embeddings -> (n, n_classes) probabilities; no input validation.
LeanProba = Callable[[np.ndarray], np.ndarray]


def lean_predict_proba(classifier, probe: np.ndarray) -> LeanProba | None:
    """``classifier.predict_proba`` computed with plain NumPy, checked against scikit-learn.

    scikit-learn validates the input and its estimators' state at every nested call (about 3 ms
    per pose for the calibrated SVM); the lean function does the same arithmetic once the input
    has been validated at the model boundary. It is built from the fitted attributes of
    :class:`PoseKNNClassifier`, or of a Pipeline of ``StandardScaler`` steps followed by
    ``CalibratedClassifierCV(SVC)`` (sigmoid; rbf or linear kernel), ``LogisticRegression`` or
    ``MLPClassifier``, then compared with ``classifier.predict_proba`` on ``probe``.

    Parameters
    ----------
    classifier : fitted estimator
        The classifier part of a model (everything after the embedder).
    probe : ndarray of shape (n, n_features)
        Finite float64 inputs for the check, e.g. training embeddings.

    Returns
    -------
    callable or None
        ``None`` for an unsupported estimator, or when the check differs by more than
        :data:`LEAN_TOLERANCE` (logged): callers then use scikit-learn.
    """
    probe = np.asarray(probe, dtype=np.float64)
    try:
        lean = _lean(classifier)
        got = None if lean is None else lean(probe)
    except (AttributeError, TypeError, ValueError, IndexError) as err:  # unexpected fitted state
        log.debug("no lean path for %r: %s", classifier, err)
        return None
    if lean is None:
        return None
    expected = pipeline_predict_proba(classifier, probe)
    if got.shape != expected.shape or not np.all(np.abs(got - expected) <= LEAN_TOLERANCE):
        log.warning("lean prediction of %s differs from scikit-learn's; using scikit-learn",
                    type(classifier).__name__)
        return None
    return lean


def _lean(est) -> LeanProba | None:
    if isinstance(est, PoseKNNClassifier):
        return _lean_knn(est)
    if isinstance(est, Pipeline):
        steps = [s for _, s in est.steps if s is not None and s != "passthrough"]
        transforms = [_lean_scaler(s) for s in steps[:-1]]
        last = _lean(steps[-1]) if steps else None
        if last is None or any(t is None for t in transforms):
            return None

        def chained(X: np.ndarray) -> np.ndarray:
            for transform in transforms:
                X = transform(X)
            return last(X)

        return chained
    if isinstance(est, CalibratedClassifierCV):
        return _lean_calibrated(est)
    if isinstance(est, LogisticRegression):
        return _lean_logreg(est)
    if isinstance(est, MLPClassifier):
        return _lean_mlp(est)
    return None


def _lean_knn(knn: PoseKNNClassifier) -> LeanProba:
    check_is_fitted(knn)
    return knn.predict_proba  # already plain NumPy; its input check costs ~2 us


def _lean_scaler(scaler) -> Callable[[np.ndarray], np.ndarray] | None:
    if not isinstance(scaler, StandardScaler):
        return None
    check_is_fitted(scaler)
    mean = scaler.mean_ if scaler.with_mean else None
    scale = scaler.scale_ if scaler.with_std else None

    def transform(X: np.ndarray) -> np.ndarray:  # StandardScaler.transform's two operations
        if mean is not None:
            X = X - mean
        if scale is not None:
            X = X / scale
        return X

    return transform


def _lean_calibrated(cal: CalibratedClassifierCV) -> LeanProba | None:
    """Mean over the calibrated classifiers of the sigmoid-calibrated SVC decision values."""
    check_is_fitted(cal)
    parts = []
    for cc in cal.calibrated_classifiers_:
        decision = _lean_svc_decision(cc.estimator)
        if cc.method != "sigmoid" or decision is None:
            return None
        # calibrator k gives the probability of class pos[k] (binary: one, for class 1)
        pos = np.searchsorted(cc.classes, cc.estimator.classes_)
        a = np.array([c.a_ for c in cc.calibrators], dtype=np.float64)
        b = np.array([c.b_ for c in cc.calibrators], dtype=np.float64)
        parts.append((decision, pos, a, b, len(cc.classes)))
    n_classes = len(cal.classes_)

    def proba(X: np.ndarray) -> np.ndarray:
        total = np.zeros((len(X), n_classes))
        for decision, pos, a, b, n in parts:  # _CalibratedClassifier.predict_proba
            dec = decision(X)
            p = np.zeros((len(X), n))
            if n == 2:
                p[:, 1] = expit(-(a[0] * dec + b[0]))
                p[:, 0] = 1.0 - p[:, 1]
            else:
                p[:, pos] = expit(-(a * dec[:, :len(a)] + b))
                denominator = p.sum(axis=1)[:, None]
                p = np.divide(p, denominator, out=np.full_like(p, 1 / n),
                              where=denominator != 0)
            p[(p > 1.0) & (p <= 1.0 + 1e-5)] = 1.0  # as scikit-learn
            total += p
        total /= len(parts)
        return total

    return proba


def _lean_svc_decision(svc) -> Callable[[np.ndarray], np.ndarray] | None:
    """``SVC.decision_function`` (ovr for > 2 classes) from the support vectors."""
    if not isinstance(svc, SVC) or svc.kernel not in ("rbf", "linear") or svc._sparse:
        return None
    check_is_fitted(svc)
    sv = np.ascontiguousarray(svc.support_vectors_, dtype=np.float64)
    sv_sq = np.einsum("ij,ij->i", sv, sv)
    gamma = float(svc._gamma)  # resolved "scale"/"auto"
    n_classes = len(svc.classes_)
    # one-vs-one pair (i, j) weighs class i's support vectors by dual_coef_[j - 1] and class
    # j's by dual_coef_[i] (libsvm's layout); the public attributes already carry the binary sign
    start = np.concatenate([[0], np.cumsum(svc.n_support_)])
    pairs = [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]
    coef = np.zeros((len(pairs), len(sv)))
    for p, (i, j) in enumerate(pairs):
        coef[p, start[i]:start[i + 1]] = svc.dual_coef_[j - 1, start[i]:start[i + 1]]
        coef[p, start[j]:start[j + 1]] = svc.dual_coef_[i, start[j]:start[j + 1]]
    coef_t = np.ascontiguousarray(coef.T)
    intercept = np.asarray(svc.intercept_, dtype=np.float64)
    # _ovr_decision_function as matrix products: votes and confidence sums per class
    first = np.zeros((len(pairs), n_classes))
    second = np.zeros((len(pairs), n_classes))
    for p, (i, j) in enumerate(pairs):
        first[p, i] = second[p, j] = 1.0
    linear = svc.kernel == "linear"
    ovr = svc.decision_function_shape == "ovr" and n_classes > 2

    def decision(X: np.ndarray) -> np.ndarray:
        dot = X @ sv.T
        if linear:
            kernel = dot
        else:  # |x - s|^2 expanded: one matrix product instead of an (n, n_sv, f) array
            sq = np.einsum("ij,ij->i", X, X)[:, None] + sv_sq - 2.0 * dot
            kernel = np.exp(-gamma * np.maximum(sq, 0.0))
        dec = kernel @ coef_t + intercept
        if n_classes == 2:
            return dec[:, 0]
        if not ovr:
            return dec
        negative = dec < 0
        votes = (~negative) @ first + negative @ second
        confidence = dec @ (first - second)
        return votes + confidence / (3 * (np.abs(confidence) + 1))

    return decision


def _lean_logreg(clf: LogisticRegression) -> LeanProba:
    check_is_fitted(clf)
    coef_t = np.ascontiguousarray(np.atleast_2d(clf.coef_).T, dtype=np.float64)
    intercept = np.asarray(clf.intercept_, dtype=np.float64)
    binary = len(clf.classes_) <= 2

    def proba(X: np.ndarray) -> np.ndarray:
        scores = X @ coef_t + intercept
        if binary:  # LinearClassifierMixin._predict_proba_lr
            p = expit(scores[:, 0])
            return np.stack([1 - p, p], axis=1)
        scores -= scores.max(axis=1)[:, None]  # sklearn.utils.extmath.softmax
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1)[:, None]
        return scores

    return proba


_MLP_HIDDEN = {
    "identity": lambda a: a,
    "relu": lambda a: np.maximum(a, 0, out=a),
    "tanh": lambda a: np.tanh(a, out=a),
    "logistic": lambda a: expit(a, out=a),
}


def _lean_mlp(mlp: MLPClassifier) -> LeanProba | None:
    check_is_fitted(mlp)
    hidden = _MLP_HIDDEN.get(mlp.activation)
    if hidden is None or mlp.out_activation_ not in ("softmax", "logistic"):
        return None
    layers = list(zip(mlp.coefs_, mlp.intercepts_, strict=True))
    softmax = mlp.out_activation_ == "softmax"

    def proba(X: np.ndarray) -> np.ndarray:  # MLPClassifier._forward_pass_fast
        a = X
        for k, (w, b) in enumerate(layers):
            a = a @ w
            a += b
            if k < len(layers) - 1:
                a = hidden(a)
        if softmax:
            tmp = a - a.max(axis=1)[:, None]
            np.exp(tmp, out=a)
            a /= a.sum(axis=1)[:, None]
            return a
        p = expit(a, out=a).ravel()
        return np.vstack([1 - p, p]).T

    return proba


def _svm(*, C: float = SVM_C, gamma=SVM_GAMMA, kernel: str = "rbf",
         class_weight="balanced", search: bool = False, cv: int = 5,
         random_state: int = RANDOM_STATE):
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("svc", CalibratedClassifierCV(
            SVC(C=C, gamma=gamma, kernel=kernel, class_weight=class_weight,
                random_state=random_state),
            method="sigmoid", cv=SVM_CALIBRATION_CV, ensemble=False)),
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

    Folds are grouped: fit it with ``groups`` (see ``poseclf.model``) so that a pose and its
    mirror image never sit on both sides of a split, which would flatter every setting.
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
         random_state: int = RANDOM_STATE):
    return Pipeline([
        ("scale", StandardScaler()),
        ("mlp", MLPClassifier(hidden_layer_sizes=hidden_layer_sizes, alpha=alpha,
                              max_iter=max_iter, random_state=random_state)),
    ])


def _knn(*, search: bool = False, cv: int = 5, random_state: int = RANDOM_STATE, **params):
    knn = PoseKNNClassifier(**params)
    return _grid_search(knn, KNN_GRID, cv, random_state) if search else knn


_BUILDERS = {"knn": _knn, "svm": _svm, "logreg": _logreg, "mlp": _mlp}
#: Names accepted by :func:`make_classifier` (and ``--classifier``).
CLASSIFIERS: tuple[str, ...] = tuple(_BUILDERS)


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
        ``hidden_layer_sizes``, ``alpha``.

    Examples
    --------
    >>> make_classifier("svm", C=3.0).named_steps["svc"].estimator.C
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
