"""Classifiers on synthetic embeddings: MediaPipe k-NN semantics, registry, sklearn behaviours."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from poseclf.classify.classifiers import (
    CLASSIFIERS,
    PoseKNNClassifier,
    make_classifier,
)
from poseclf.classify.lean_predict import pipeline_predict_proba

pytestmark = pytest.mark.usefixtures("one_blas_thread")  # trains models: see conftest


def blobs(n_per_class: int = 30, n_features: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (3, n_features))
    X = np.concatenate([c + rng.normal(0, 0.5, (n_per_class, n_features)) for c in centres])
    y = np.repeat(np.array(["a", "b", "c"]), n_per_class)
    return X, y


def reference_knn_proba(clf: PoseKNNClassifier, X: np.ndarray) -> np.ndarray:
    """The two-stage k-NN written as a plain loop, for comparison."""
    out = []
    for q in X * clf.weights_:
        d_max = np.abs(clf.X_fit_ - q).max(axis=1)
        cand = np.argsort(d_max, kind="stable")[: clf.top_n_by_max_distance]
        d_mean = np.abs(clf.X_fit_[cand] - q).mean(axis=1)
        best = cand[np.argsort(d_mean, kind="stable")[: clf.top_n_by_mean_distance]]
        out.append(np.bincount(clf.y_fit_[best], minlength=len(clf.classes_)))
    return np.asarray(out) / clf.top_n_by_mean_distance


@pytest.mark.parametrize("weights", [None, np.linspace(0.2, 1, 12)])
def test_knn_matches_plain_loop_reference(weights):
    X, y = blobs()
    rng = np.random.default_rng(1)
    Xq = X[rng.choice(len(X), 20)] + rng.normal(0, 1.0, (20, 12))
    clf = PoseKNNClassifier(feature_weights=weights).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(Xq), reference_knn_proba(clf, Xq))


def test_knn_equal_distances_at_the_cut_keep_the_lower_index():
    """MediaPipe's stable sort (and ONNX's TopK): of training poses tied at the cut, the first
    ones are kept, whatever argpartition would pick."""
    rng = np.random.default_rng(0)
    X = np.zeros((40, 3))
    X[:, 1:] = rng.normal(0, 0.01, (40, 2))  # every pose's largest difference is feature 0
    y = np.array(["b"] * 5 + ["a"] * 35)
    query = np.array([[5.0, 0.0, 0.0]])  # 5 from all 40 in feature 0: a 40-way tie
    clf = PoseKNNClassifier(top_n_by_max_distance=5, top_n_by_mean_distance=5).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(query), [[0.0, 1.0]])  # poses 0-4: "b"
    np.testing.assert_array_equal(clf.predict_proba(query), reference_knn_proba(clf, query))


def test_knn_max_distance_stage_drops_a_sample_with_one_wild_feature():
    X = np.zeros((3, 4))
    X[0] = [0.0, 0.0, 0.0, 5.0]  # closest on average, but one feature is far off
    X[1] = [0.6, 0.6, 0.6, 0.6]
    X[2] = [0.7, 0.7, 0.7, 0.7]
    clf = PoseKNNClassifier(2, 1).fit(X, ["wild", "near", "far"])
    assert clf.predict(np.zeros((1, 4)))[0] == "near"


def test_knn_mirrored_query_finds_mirrored_training_pose():
    X = np.array([[1.0, 2.0, 3.0], [-1.0, 3.0, 2.5]])
    index, sign = np.array([0, 2, 1]), np.array([-1.0, 1.0, 1.0])
    clf = PoseKNNClassifier(1, 1, mirror_map=(index, sign)).fit(X, ["p", "q"])
    query = X[:1][:, index] * sign  # the mirror image of "p"
    assert clf.predict(query)[0] == "p"
    assert PoseKNNClassifier(1, 1).fit(X, ["p", "q"]).predict(query)[0] == "q"


def test_knn_proba_are_vote_shares():
    X, y = blobs()
    proba = PoseKNNClassifier().fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(np.unique(proba * 10)) <= set(range(11))


def test_knn_works_with_fewer_samples_than_neighbours():
    clf = PoseKNNClassifier().fit([[0.0], [1.0], [5.0]], ["a", "a", "b"])
    assert clf.predict([[4.9]]).tolist() == ["a"]  # 3 voters: a, a, b


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_registered_classifier_learns_separable_classes(name):
    X, y = blobs()
    clf = make_classifier(name).fit(X, y)
    assert (clf.predict(X) == y).mean() > 0.95
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifiers_clone_and_refuse_prediction_before_fit(name):
    clf = make_classifier(name)
    assert clone(clf).get_params().keys() == clf.get_params().keys()
    with pytest.raises(NotFittedError):
        clf.predict(np.zeros((1, 12)))


@pytest.mark.slow  # a grid search: bulk training
def test_svm_grid_search_picks_parameters():
    X, y = blobs(12)
    search = make_classifier("svm", search=True, cv=3).fit(X, y)
    assert "svc__C" in search.best_params_


@pytest.mark.parametrize("name, params, message", [
    ("forest", {}, "unknown classifier 'forest'; choose one of knn"),
    ("svm", {"bogus": 1}, "bad option for classifier 'svm'"),
])
def test_registry_rejects_unknown_names_and_options(name, params, message):
    with pytest.raises(ValueError, match=message):
        make_classifier(name, **params)


@pytest.mark.parametrize("params, X, message", [
    ({"top_n_by_mean_distance": 40}, np.zeros((4, 3)), "top_n_by_mean_distance <="),
    ({"feature_weights": [1.0, 2.0]}, np.zeros((4, 3)), "feature_weights has 2 values"),
])
def test_knn_invalid_parameters_fail_at_fit(params, X, message):
    with pytest.raises(ValueError, match=message):
        PoseKNNClassifier(**params).fit(X, ["a", "b"] * 2)


def test_knn_rejects_query_with_wrong_feature_count():
    clf = PoseKNNClassifier().fit(np.zeros((4, 3)), ["a", "b"] * 2)
    with pytest.raises(ValueError, match="X has 2 features, but PoseKNNClassifier is expecting 3"):
        clf.predict(np.zeros((1, 2)))


def test_knn_mirror_with_asymmetric_weights_matches_plain_loop():
    X, y = blobs(n_features=4)
    index, sign = np.array([1, 0, 3, 2]), np.array([-1.0, -1.0, 1.0, 1.0])
    weights = np.array([1.0, 0.5, 2.0, 0.2])
    clf = PoseKNNClassifier(8, 3, feature_weights=weights, mirror_map=(index, sign)).fit(X, y)
    rng = np.random.default_rng(2)
    Xq = X[rng.choice(len(X), 15)][:, index] * sign + rng.normal(0, 0.3, (15, 4))
    expected = []
    for q in Xq:  # min over the query and its mirror image, both weighted after mirroring
        qs = [q * weights, q[index] * sign * weights]
        d_max = np.min([np.abs(clf.X_fit_ - v).max(axis=1) for v in qs], axis=0)
        cand = np.argsort(d_max, kind="stable")[:8]
        d_mean = np.min([np.abs(clf.X_fit_[cand] - v).mean(axis=1) for v in qs], axis=0)
        best = cand[np.argsort(d_mean, kind="stable")[:3]]
        expected.append(np.bincount(clf.y_fit_[best], minlength=3) / 3)
    np.testing.assert_allclose(clf.predict_proba(Xq), expected, atol=1e-6)


def test_knn_search_cache_is_not_saved_and_follows_refit():
    X, y = blobs()
    clf = PoseKNNClassifier().fit(X, y)
    clf.predict(X[:2])  # builds the float32 search arrays
    assert "_cache" not in clf.__getstate__()
    clf.fit(-X, y)  # refit on other data: predictions must follow it
    np.testing.assert_array_equal(clf.predict(-X), PoseKNNClassifier().fit(-X, y).predict(-X))


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_pipeline_predict_proba_equals_pipeline_method(name):
    X, y = blobs()
    pipe = Pipeline([("scale", StandardScaler()), ("clf", make_classifier(name))]).fit(X, y)
    np.testing.assert_allclose(pipeline_predict_proba(pipe, X[:5]), pipe.predict_proba(X[:5]))
    np.testing.assert_allclose(pipeline_predict_proba(pipe, X[:1]), pipe.predict_proba(X[:1]))
