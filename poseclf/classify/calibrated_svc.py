"""A support vector classifier with Platt-scaled probabilities, owned by poseclf.

:class:`PlattSVC` gives an ``SVC`` probabilities the way ``CalibratedClassifierCV(SVC(),
method="sigmoid")`` does (held-out decision values, one sigmoid per class, normalised), but it is
built only from public scikit-learn pieces (``SVC``, ``check_cv``) and keeps its fitted sigmoids in
attributes poseclf names (``platt_a_``, ``platt_b_``). The single-pose fast path
(:mod:`poseclf.classify.lean_predict`) reads those and the public attributes of the ``SVC``\\ s,
so a change in scikit-learn's private calibration objects cannot break it.

Imports: NumPy, SciPy and public scikit-learn only.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import check_cv
from sklearn.svm import SVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

#: Largest |gradient| of the sigmoid fit accepted as converged, per calibration sample.
PLATT_GTOL = 1e-10


def fit_platt_sigmoid(decision: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """Platt's sigmoid ``P(positive | f) = 1 / (1 + exp(a * f + b))`` fitted to decision values.

    Maximum likelihood on smoothed targets (Platt 1999, section 2.2; Lin, Lin and Weng 2007):
    a positive counts as ``(N+ + 1) / (N+ + 2)``, a negative as ``1 / (N- + 2)``, which keeps the
    fit finite when the decision values separate the classes. The negative log-likelihood is
    convex in ``(a, b)``; it is minimised by Newton steps with the exact Hessian
    (``scipy.optimize.minimize(method="trust-exact")``), from Platt's start ``a = 0``,
    ``b = log((N- + 1) / (N+ + 1))``.

    Parameters
    ----------
    decision : ndarray of shape (n,)
        Held-out decision values.
    positive : ndarray of shape (n,), bool
        Whether each sample belongs to the class the sigmoid is for.

    Returns
    -------
    (a, b) : tuple of float
    """
    f = np.asarray(decision, dtype=np.float64).ravel()
    positive = np.asarray(positive, dtype=bool).ravel()
    n_pos = float(positive.sum())
    n_neg = float(len(positive) - n_pos)
    target = np.where(positive, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    # the fit is invariant to scaling f (a scales inversely); unit-size values condition it
    scale = max(float(np.max(np.abs(f), initial=0.0)), 1.0)
    f = f / scale
    residual_weight = 1.0 - target  # d(loss)/dz = expit(z) - (1 - t), z = a f + b

    def loss_grad(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = ab[0] * f + ab[1]
        # -log p(t) with p = expit(-z): t * log(1 + e^z) + (1 - t) * log(1 + e^-z)
        loss = float(np.sum(np.logaddexp(0.0, z) - residual_weight * z))
        r = expit(z) - residual_weight
        return loss, np.array([r @ f, r.sum()])

    def hessian(ab: np.ndarray) -> np.ndarray:
        q = expit(ab[0] * f + ab[1])
        w = q * (1.0 - q)
        return np.array([[w @ (f * f), w @ f], [w @ f, w.sum()]])

    start = np.array([0.0, np.log((n_neg + 1.0) / (n_pos + 1.0))])
    result = minimize(loss_grad, start, jac=True, hess=hessian, method="trust-exact",
                      options={"gtol": PLATT_GTOL * max(len(f), 1)})
    a, b = result.x
    return float(a) / scale, float(b)


def platt_probabilities(decision: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Class probabilities from decision values and per-class sigmoids.

    Parameters
    ----------
    decision : ndarray of shape (n, m)
        ``m = 1`` (binary: the value for the second class) or ``m = n_classes`` (one-vs-rest).
    a, b : ndarray of shape (m,)
        The sigmoid of each column (:func:`fit_platt_sigmoid`).

    Returns
    -------
    ndarray of shape (n, 2) if ``m == 1``, else (n, m)
        Binary: ``[1 - p, p]``; otherwise the sigmoids normalised to sum to 1 (uniform where
        every sigmoid underflows to 0).
    """
    p = expit(-(decision * a + b))
    if p.shape[1] == 1:
        return np.hstack([1.0 - p, p])
    total = p.sum(axis=1, keepdims=True)
    if total.all():  # nearly always: no uniform rows to prepare
        return p / total
    return np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[1]), where=total != 0)


class PlattSVC(ClassifierMixin, BaseEstimator):
    """``SVC`` with probabilities from Platt sigmoids fitted on cross-validated decision values.

    ``ensemble=False`` (default, as poseclf's ``svm`` classifier): the decision values of each
    sample come from an ``SVC`` fitted on the other folds; one sigmoid per class (one for two
    classes) is fitted on them, and an ``SVC`` fitted on all the data predicts. This is what
    ``CalibratedClassifierCV(SVC(...), method="sigmoid", cv=cv, ensemble=False)`` computes.
    ``ensemble=True``: each fold's ``SVC`` and the sigmoids fitted on its held-out fold predict,
    and the probabilities are averaged over the folds (``ensemble=True`` there).

    Parameters
    ----------
    C : float, default=1.0
    kernel : {"rbf", "linear", "poly", "sigmoid"}, default="rbf"
    gamma : {"scale", "auto"} or float, default="scale"
        As ``SVC``'s; the ``SVC``\\ s in ``estimators_`` get the number it stands for.
    class_weight : dict, "balanced" or None, default=None
        Passed to each ``SVC`` (see :class:`sklearn.svm.SVC`); ``"balanced"`` is computed on the
        data each ``SVC`` is fitted on.
    cv : int or cross-validation splitter, default=3
        Folds of the calibration; an int means ``StratifiedKFold(cv)`` without shuffling
        (:func:`sklearn.model_selection.check_cv`). Each class needs at least ``cv`` samples.
    ensemble : bool, default=False
    random_state : int or None, default=None
        Passed to each ``SVC`` (it matters only for its own ``probability=True``, unused here).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    estimators_ : list of fitted SVC
        One (``ensemble=False``) or one per fold; every one knows every class, in
        ``classes_`` order.
    platt_a_, platt_b_ : ndarray of shape (len(estimators_), n_sigmoids)
        The sigmoid ``1 / (1 + exp(a * f + b))`` of each estimator's decision column ``f``:
        ``n_sigmoids`` is 1 for two classes (probability of ``classes_[1]``), else
        ``n_classes`` (one-vs-rest).

    See Also
    --------
    sklearn.calibration.CalibratedClassifierCV : the same calibration for any classifier.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = PlattSVC(C=10.0).fit(X, y)
    >>> clf.predict_proba(X[:1]).round(2).tolist(), clf.platt_a_.shape
    ([[0.97, 0.03, 0.0]], (1, 3))
    """

    def __init__(self, C: float = 1.0, *, kernel: str = "rbf", gamma="scale",
                 class_weight=None, cv=3, ensemble: bool = False, random_state=None):
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.class_weight = class_weight
        self.cv = cv
        self.ensemble = ensemble
        self.random_state = random_state

    def _svc(self, X: np.ndarray) -> SVC:
        """An unfitted ``SVC`` for data ``X``, its ``gamma`` a number: ``"scale"`` and
        ``"auto"`` resolved by ``SVC``'s documented rule, so that the fitted ``SVC`` tells the
        width it used (the fold ``SVC``\\ s of ``ensemble=True`` each see other data)."""
        gamma = self.gamma
        if isinstance(gamma, str) and self.kernel != "linear":
            if gamma == "scale":  # 1 / (n_features * X.var()); 1 for constant data, as SVC
                variance = X.var()
                gamma = 1.0 / (X.shape[1] * variance) if variance != 0 else 1.0
            elif gamma == "auto":
                gamma = 1.0 / X.shape[1]
        return SVC(C=self.C, kernel=self.kernel, gamma=gamma,
                   class_weight=self.class_weight, random_state=self.random_state)

    def fit(self, X, y):
        """Fit the ``SVC``\\ (s) and the sigmoids on held-out decision values."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None")
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; got "
                             f"1 class ({self.classes_[0]!r})")
        folds = check_cv(self.cv, y, classifier=True)
        n_folds = folds.get_n_splits(X, y)
        if np.bincount(encoded).min() < n_folds:
            raise ValueError(f"{n_folds}-fold calibration needs at least {n_folds} samples of "
                             f"each class; the smallest class has {np.bincount(encoded).min()}")
        n_columns = 1 if n_classes == 2 else n_classes
        held_out = np.empty((len(y), n_columns))
        estimators, sigmoids = [], []
        for train, test in folds.split(X, y):
            svc = self._svc(X[train]).fit(X[train], y[train])
            if len(svc.classes_) != n_classes:
                raise ValueError("a calibration fold's training part lacks a class; use a "
                                 "stratified cv")
            held_out[test] = svc.decision_function(X[test]).reshape(len(test), n_columns)
            if self.ensemble:
                estimators.append(svc)
                sigmoids.append(self._sigmoids(held_out[test], encoded[test]))
        if not self.ensemble:
            estimators = [self._svc(X).fit(X, y)]
            sigmoids = [self._sigmoids(held_out, encoded)]
        self.estimators_ = estimators
        ab = np.array(sigmoids, dtype=np.float64)  # (n_estimators, n_columns, 2)
        self.platt_a_ = np.ascontiguousarray(ab[..., 0])
        self.platt_b_ = np.ascontiguousarray(ab[..., 1])
        return self

    def _sigmoids(self, decision: np.ndarray, encoded: np.ndarray) -> list[tuple[float, float]]:
        if decision.shape[1] == 1:  # binary: the decision value is for classes_[1]
            return [fit_platt_sigmoid(decision[:, 0], encoded == 1)]
        return [fit_platt_sigmoid(decision[:, k], encoded == k)
                for k in range(decision.shape[1])]

    def _decisions(self, X) -> tuple[np.ndarray, list[np.ndarray]]:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X, [svc.decision_function(X).reshape(len(X), -1) for svc in self.estimators_]

    def decision_function(self, X) -> np.ndarray:
        """The ``SVC`` decision values (mean over ``estimators_``): shape (n,) for two classes
        (positive: ``classes_[1]``), else (n, n_classes) one-vs-rest."""
        _, decisions = self._decisions(X)
        mean = np.mean(decisions, axis=0)
        return mean[:, 0] if mean.shape[1] == 1 else mean

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, (n, n_classes): mean over ``estimators_``."""
        _, decisions = self._decisions(X)
        total = sum(platt_probabilities(d, a, b)
                    for d, a, b in zip(decisions, self.platt_a_, self.platt_b_, strict=True))
        return total / len(decisions)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample."""
        proba = self.predict_proba(X)  # checks fitted first
        return self.classes_[np.argmax(proba, axis=1)]
