"""Every estimator poseclf defines against scikit-learn's own estimator checks.

``PoseKNNClassifier``, ``PlattSVC`` and ``NoveltyScorer`` take any feature matrix and pass every
check, but one of ``PlattSVC``'s (its calibrated probabilities undo most of an extreme
``class_weight``, as ``CalibratedClassifierCV(SVC)``'s do).
``PoseEmbedder`` and ``PoseClassifier`` read a fixed layout (BlazePose's 33 landmarks: 134 or 233
columns), while the generic checks feed made-up matrices of 1 to 10 columns; each check that
fails only for that reason is listed below with the reason, and the same properties are checked
on pose-shaped data by the tests at the end of this file. ``NoveltyEmbedder`` learns nothing from
data (``fit`` builds it from its parameters), so the checks about validating ``X`` in ``fit`` do
not apply to it.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_predict
from sklearn.utils.estimator_checks import parametrize_with_checks

from poseclf.classify.calibrated_svc import PlattSVC
from poseclf.classify.classifiers import PoseKNNClassifier
from poseclf.classify.embedding import PoseEmbedder
from poseclf.classify.novelty import NoveltyEmbedder, NoveltyScorer
from poseclf.classify.pose_classifier import PoseClassifier
from poseclf.classify.pose_rows import N_POSE_COLUMNS, pose_rows

FIXED_LAYOUT = ("fits made-up (n, 1..10) matrices; the estimator reads BlazePose's fixed "
                "layout of 33 landmarks and refuses them (checked on pose rows below)")
_LAYOUT_CHECKS = (
    "check_classifier_data_not_an_array", "check_classifiers_classes", "check_classifiers_train",
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
    "check_estimators_dtypes", "check_estimators_fit_returns_self", "check_estimators_nan_inf",
    "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit2d_1feature", "check_fit2d_1sample",
    "check_fit2d_predict1d", "check_fit_check_is_fitted", "check_fit_idempotent",
    "check_fit_score_takes_y", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_n_features_in", "check_n_features_in_after_fitting",
    "check_pipeline_consistency", "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input", "check_supervised_y_2d", "check_transformer_data_not_an_array",
    "check_transformer_general", "check_transformer_preserve_dtypes",
)
#: Beyond those, each estimator's own: the embedder's input check comes before the
#: finiteness and sparse checks the generic tests probe with the wrong width; the classifier
#: validates the target before the rows, but its empty-data probe has the wrong width too.
_LAYOUT_ONLY_EMBEDDER = ("check_estimator_sparse_array", "check_estimator_sparse_matrix",
                         "check_estimator_sparse_tag")
_LAYOUT_ONLY_CLASSIFIER = ("check_estimators_empty_data_messages",
                           "check_classifiers_regression_target")
STATELESS = ("fit learns nothing from X: the features are built from the parameters "
             "(NoveltyEmbedder.fit() takes no data)")
_STATELESS_CHECKS = (
    "check_n_features_in_after_fitting", "check_complex_data", "check_dtype_object",
    "check_estimators_empty_data_messages", "check_estimators_nan_inf",
    "check_estimator_sparse_tag", "check_n_features_in", "check_fit1d",
)


CALIBRATED = ("predictions are the most probable class of the Platt-calibrated probabilities, "
              "fitted on held-out decision values without the class weights: an extreme "
              "class_weight moves the SVC's boundary, and the calibration moves most of it back "
              "(CalibratedClassifierCV(SVC(class_weight=...)) fails this check too)")


def _expected_failures(estimator) -> dict[str, str]:
    if isinstance(estimator, PlattSVC):
        return {"check_class_weight_classifiers": CALIBRATED}
    if isinstance(estimator, PoseEmbedder):
        return dict.fromkeys(_LAYOUT_CHECKS + _LAYOUT_ONLY_EMBEDDER, FIXED_LAYOUT)
    if isinstance(estimator, PoseClassifier):
        return dict.fromkeys(_LAYOUT_CHECKS + _LAYOUT_ONLY_CLASSIFIER, FIXED_LAYOUT)
    if isinstance(estimator, NoveltyEmbedder):
        return dict.fromkeys(_STATELESS_CHECKS, STATELESS)
    return {}


@pytest.mark.slow  # ~250 checks, about a minute on 2 cores
@parametrize_with_checks(
    [PoseKNNClassifier(), PlattSVC(), PlattSVC(ensemble=True), NoveltyScorer(),
     NoveltyEmbedder(), PoseEmbedder(), PoseClassifier("knn")],
    expected_failed_checks=_expected_failures,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# -- the same properties on pose rows --------------------------------------------------------
def _skeletons(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two classes of noisy synthetic skeletons (arms up / arms down) with world landmarks."""
    rng = np.random.default_rng(seed)
    lm = np.zeros((n, 33, 4))
    lm[:, :, 0] = np.linspace(0.3, 0.7, 33) + rng.normal(0, 0.01, (n, 33))
    lm[:, :, 1] = np.linspace(0.2, 0.9, 33) + rng.normal(0, 0.01, (n, 33))
    lm[:, :, 3] = 0.99
    y = np.array(["up", "down"] * (n // 2))
    lm[y == "up", 13:17, 1] -= 0.3  # elbows and wrists above the shoulders
    world = (lm[..., :3] - 0.5).copy()
    return lm, world, y


@pytest.fixture(scope="module")
def rows():
    lm, world, y = _skeletons(40, 0)
    return pose_rows(lm, np.tile([640, 480], (40, 1)), world), y


@pytest.mark.parametrize("name", ["knn", "svm"])
def test_pose_classifier_behaves_as_an_estimator_on_pose_rows(rows, name):
    X, y = rows
    est = PoseClassifier(name)
    with pytest.raises(NotFittedError):
        est.predict(X)
    params = est.get_params()
    fitted = est.fit(X, y)
    assert fitted is est and est.get_params() == params  # fit returns self, keeps parameters
    assert est.n_features_in_ == N_POSE_COLUMNS and list(est.classes_) == ["down", "up"]
    proba = est.predict_proba(X)
    state = dict(est.__dict__)
    np.testing.assert_array_equal(clone(est).fit(X, y).predict_proba(X), proba)  # idempotent
    assert est.__dict__.keys() == state.keys()
    order = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_allclose(est.predict_proba(X[order]), proba[order])
    np.testing.assert_allclose(est.predict_proba(X[:5]), proba[:5])  # subset invariance
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict_proba(X), proba)
    np.testing.assert_array_equal(again.score_samples(X), est.score_samples(X))
    assert (est.predict(X) == y).mean() > 0.9


def test_pose_classifier_refuses_what_scikit_learn_refuses(rows):
    X, y = rows
    with pytest.raises(ValueError, match="Unknown label type"):
        PoseClassifier("knn").fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="requires y"):
        PoseClassifier("knn").fit(X, None)
    with pytest.raises(TypeError, match="sparse"):
        from scipy import sparse

        PoseClassifier("knn").fit(sparse.csr_matrix(X), y)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PoseClassifier("knn").fit(bad, y)
    with pytest.raises(ValueError, match="pose rows must have shape"):
        PoseClassifier("knn").fit(X[:, :10], y)


def test_world_columns_may_be_missing(rows):
    """Rows without world landmarks (NaN) are accepted and scored on the image part."""
    X, y = rows
    est = PoseClassifier("knn").fit(X, y)
    no_world = X.copy()
    no_world[:3, 134:] = np.nan
    result = est.predict_with_scores(no_world)
    assert np.isfinite(result.novelty).all()
    assert (result.threshold[:3] == est.novelty_image_.threshold_).all()


def test_cross_val_predict_runs_on_the_estimator(rows):
    """scikit-learn's own cross-validation drives the estimator (labels encoded or not)."""
    X, y = rows
    proba = cross_val_predict(PoseClassifier("knn", rejection=False), X, y, cv=4,
                              method="predict_proba")
    assert proba.shape == (len(X), 2)
    pred = cross_val_predict(PoseClassifier("knn", rejection=False), X, y, cv=4)
    assert set(pred) <= {"up", "down"}
