"""``PlattSVC`` computes what ``CalibratedClassifierCV(SVC, method="sigmoid")`` computes.

Same ``SVC``, same folds: the decision values are the same, so the probabilities differ only by
how far each optimiser gets to the (convex) sigmoid fit's minimum, ~1e-8 here. The sigmoid fit is
also checked on its own: at the minimum of Platt's smoothed-target likelihood, finite when the
classes are separable.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_blobs
from sklearn.svm import SVC

from poseclf.classify.calibrated_svc import PlattSVC, fit_platt_sigmoid, platt_probabilities

#: PlattSVC vs CalibratedClassifierCV: both optimisers stop near the same minimum.
PROBA_ATOL = 1e-6


def _blobs(n_classes: int, seed: int = 0):
    X, y = make_blobs(90, n_features=6, centers=n_classes, cluster_std=4.0, random_state=seed)
    return X, np.array([f"class{k}" for k in y])


@pytest.mark.parametrize("ensemble", [False, True])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_same_probabilities_as_calibrated_classifier_cv(n_classes, ensemble):
    X, y = _blobs(n_classes)
    params = {"C": 10.0, "gamma": "scale", "class_weight": "balanced", "random_state": 0}
    ours = PlattSVC(**params, cv=3, ensemble=ensemble).fit(X, y)
    theirs = CalibratedClassifierCV(SVC(**params), method="sigmoid", cv=3,
                                    ensemble=ensemble).fit(X, y)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=0,
                               atol=PROBA_ATOL)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.platt_a_.shape == (3 if ensemble else 1, 1 if n_classes == 2 else n_classes)


def test_decision_function_is_the_svcs():
    X, y = _blobs(3)
    clf = PlattSVC(C=3.0, cv=3).fit(X, y)
    np.testing.assert_array_equal(clf.decision_function(X),
                                  SVC(C=3.0).fit(X, y).decision_function(X))
    binary = PlattSVC(cv=3).fit(*_blobs(2))
    assert binary.decision_function(X).shape == (len(X),)


def test_probabilities_are_the_sigmoids_of_the_decision_values():
    X, y = _blobs(3)
    clf = PlattSVC(cv=3).fit(X, y)
    p = expit(-(clf.decision_function(X) * clf.platt_a_[0] + clf.platt_b_[0]))
    np.testing.assert_allclose(clf.predict_proba(X), p / p.sum(axis=1, keepdims=True))


def test_too_few_samples_of_a_class_for_the_folds():
    X, y = _blobs(2)
    y[:len(y) - 2] = "class0"
    y[-2:] = "class1"
    with pytest.raises(ValueError, match="3-fold calibration needs at least 3 samples"):
        PlattSVC(cv=3).fit(X, y)


def _nll(a: float, b: float, f: np.ndarray, positive: np.ndarray) -> float:
    n_pos, n_neg = positive.sum(), (~positive).sum()
    t = np.where(positive, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    p = expit(-(a * f + b))
    return float(-np.sum(t * np.log(p) + (1 - t) * np.log(1 - p)))


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_sigmoid_fit_is_the_likelihood_minimum(scale):
    rng = np.random.default_rng(0)
    positive = rng.random(200) < 0.3
    f = (np.where(positive, 1.0, -1.0) + rng.normal(0, 1.2, 200)) * scale
    a, b = fit_platt_sigmoid(f, positive)
    assert a < 0  # larger decision values: more probably positive
    best = _nll(a, b, f, positive)
    for da, db in [(1e-4, 0), (-1e-4, 0), (0, 1e-4), (0, -1e-4)]:
        assert _nll(a + da / scale, b + db, f, positive) > best


def test_sigmoid_fit_is_finite_on_separable_values():
    f = np.array([-3.0, -2.0, -1.5, 1.0, 2.0, 4.0])
    a, b = fit_platt_sigmoid(f, f > 0)
    assert np.isfinite([a, b]).all()
    p = platt_probabilities(f[:, None], np.array([a]), np.array([b]))
    assert (p[f > 0, 1] > 0.5).all() and (p[f < 0, 1] < 0.5).all()
    assert p[:, 1].max() < 1.0  # the smoothed targets keep it from certainty
