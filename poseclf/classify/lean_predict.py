"""Fast prediction of a few poses: plain NumPy from fitted estimators, checked against sklearn.

scikit-learn validates its input and state at every nested call; for one pose per video frame
that costs more than the arithmetic. :func:`lean_predict_proba` builds, once per model, a
function doing the same arithmetic from the fitted attributes, and accepts it only if it agrees
with scikit-learn on probe inputs (otherwise scikit-learn is used).
:func:`pipeline_predict_proba` runs a Pipeline's steps without its per-call bookkeeping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from .calibrated_svc import PlattSVC, platt_probabilities
from .classifiers import PoseKNNClassifier

#: Largest batch (rows) predicted by the lean path (:func:`lean_predict_proba`); larger batches
#: go through scikit-learn, whose per-call validation is then negligible per row.
LEAN_MAX_ROWS = 16
#: Largest difference to scikit-learn's probabilities accepted when a lean path is checked.
LEAN_TOLERANCE = 1e-9

log = logging.getLogger(__name__)


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
    :class:`~poseclf.classify.calibrated_svc.PlattSVC` (rbf or linear kernel; its sigmoids and
    the public attributes of its ``SVC``\\ s), ``LogisticRegression`` or ``MLPClassifier``, then
    compared with ``classifier.predict_proba`` on ``probe``. Other estimators, such as the
    ``CalibratedClassifierCV(SVC)`` of model files written before ``PlattSVC``, have no lean
    path: scikit-learn's own ``predict_proba`` serves them.

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
    """The lean function of ``est``."""
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
    if isinstance(est, PlattSVC):
        return _lean_platt(est)
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


def _lean_platt(clf: PlattSVC) -> LeanProba | None:
    """:meth:`PlattSVC.predict_proba` from the public attributes of its ``SVC``\\ s and its own
    sigmoids (``platt_a_``, ``platt_b_``)."""
    check_is_fitted(clf)
    parts = []
    for svc, a, b in zip(clf.estimators_, clf.platt_a_, clf.platt_b_, strict=True):
        decision = _lean_svc_decision(svc)
        if decision is None:
            return None
        parts.append((decision, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))

    if len(parts) == 1:  # ensemble=False, poseclf's svm: no mean to take
        decision, a, b = parts[0]
        return lambda X: platt_probabilities(decision(X).reshape(len(X), -1), a, b)

    def proba(X: np.ndarray) -> np.ndarray:
        total = 0.0
        for decision, a, b in parts:
            total = total + platt_probabilities(decision(X).reshape(len(X), -1), a, b)
        return total / len(parts)

    return proba


class SVCArrays(NamedTuple):
    """What ``SVC.decision_function`` computes from, as matrices (:func:`svc_decision_arrays`)."""

    support_vectors: np.ndarray  # (n_sv, n_features) float64
    sv_squares: np.ndarray  # (n_sv,) |s|^2
    gamma: float  # RBF width (0 for the linear kernel)
    linear: bool
    coef_t: np.ndarray  # (n_sv, n_pairs): one-vs-one pair p's weights of each support vector
    intercept: np.ndarray  # (n_pairs,)
    first: np.ndarray  # (n_pairs, n_classes): 1 at the pair's first class
    second: np.ndarray  # (n_pairs, n_classes): 1 at its second class
    n_classes: int
    ovr: bool  # one-vs-rest votes and confidences (decision_function_shape="ovr", > 2 classes)


def svc_decision_arrays(svc) -> SVCArrays | None:
    """The matrices of ``SVC.decision_function`` (ovr for > 2 classes) from the support vectors
    (None for another kernel than rbf or linear, sparse support vectors, or an RBF width that is
    not a number: ``PlattSVC`` gives its ``SVC``\\ s the number ``"scale"`` stands for). Used by
    the lean path and by the ONNX export (:mod:`poseclf.classify.onnx_classifiers`)."""
    if not isinstance(svc, SVC) or svc.kernel not in ("rbf", "linear"):
        return None
    check_is_fitted(svc)
    if sparse.issparse(svc.support_vectors_):
        return None
    sv = np.ascontiguousarray(svc.support_vectors_, dtype=np.float64)
    if svc.kernel == "rbf" and isinstance(svc.gamma, str):
        return None
    n_classes = len(svc.classes_)
    # one-vs-one pair (i, j) weighs class i's support vectors by dual_coef_[j - 1] and class
    # j's by dual_coef_[i] (libsvm's layout); the public attributes already carry the binary sign
    start = np.concatenate([[0], np.cumsum(svc.n_support_)])
    pairs = [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]
    coef = np.zeros((len(pairs), len(sv)))
    for p, (i, j) in enumerate(pairs):
        coef[p, start[i]:start[i + 1]] = svc.dual_coef_[j - 1, start[i]:start[i + 1]]
        coef[p, start[j]:start[j + 1]] = svc.dual_coef_[i, start[j]:start[j + 1]]
    # _ovr_decision_function as matrix products: votes and confidence sums per class
    first = np.zeros((len(pairs), n_classes))
    second = np.zeros((len(pairs), n_classes))
    for p, (i, j) in enumerate(pairs):
        first[p, i] = second[p, j] = 1.0
    return SVCArrays(sv, np.einsum("ij,ij->i", sv, sv),
                     float(svc.gamma) if svc.kernel == "rbf" else 0.0, svc.kernel == "linear",
                     np.ascontiguousarray(coef.T), np.asarray(svc.intercept_, dtype=np.float64),
                     first, second, n_classes,
                     svc.decision_function_shape == "ovr" and n_classes > 2)


def _lean_svc_decision(svc) -> Callable[[np.ndarray], np.ndarray] | None:
    """``SVC.decision_function`` from :func:`svc_decision_arrays`."""
    arrays = svc_decision_arrays(svc)
    if arrays is None:
        return None
    sv, sv_sq, gamma, linear, coef_t, intercept, first, second, n_classes, ovr = arrays

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
