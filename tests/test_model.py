"""PoseModel: training metadata, exact reload, refused files, evaluation reports."""

from __future__ import annotations

import pickle
import warnings

import joblib
import numpy as np
import pytest

from poseclf import __version__
from poseclf.classify.classifiers import CLASSIFIERS
from poseclf.classify.embedding import mirror_landmarks
from poseclf.classify.evaluation import cross_validate_model, evaluation_report
from poseclf.classify.model import PoseModel
from poseclf.errors import ModelFileError
from poseclf.pose.landmarks import Pose
from poseclf.pose.table import SCHEMA_VERSION

pytestmark = pytest.mark.usefixtures("one_blas_thread")  # trains models: see conftest

warnings.filterwarnings("ignore", category=FutureWarning)


def two_poses(n_per_class: int = 12, seed: int = 0):
    """Arms-up vs arms-down synthetic skeletons with noise, on 640x480 images."""
    rng = np.random.default_rng(seed)
    base = np.zeros((33, 4), np.float32)
    base[:, 3] = 1
    base[:, 0] = 0.5
    base[:, 1] = np.linspace(0.1, 0.9, 33)
    base[[11, 12, 23, 24], 0] = [0.55, 0.45, 0.53, 0.47]
    base[[11, 12], 1] = 0.35
    base[[23, 24], 1] = 0.6
    up, down = base.copy(), base.copy()
    up[[13, 14, 15, 16], 1] = [0.25, 0.25, 0.12, 0.12]
    down[[13, 14, 15, 16], 1] = [0.45, 0.45, 0.58, 0.58]
    lm = np.concatenate([np.repeat(up[None], n_per_class, 0),
                         np.repeat(down[None], n_per_class, 0)])
    lm[..., :3] += rng.normal(0, 0.01, lm[..., :3].shape)
    sizes = np.tile([640, 480], (len(lm), 1))
    return lm, sizes, np.repeat(np.array(["up", "down"]), n_per_class)


@pytest.fixture(scope="module")
def data():
    return two_poses()


@pytest.mark.parametrize("classifier", CLASSIFIERS)
def test_saved_model_reloads_with_identical_predictions(tmp_path, data, classifier):
    lm, sizes, labels = data
    model = PoseModel.train(lm, sizes, labels, classifier, cv=3)
    path = model.save(tmp_path / "m.skops")
    loaded = PoseModel.load(path)
    query = lm + np.random.default_rng(5).normal(0, 0.03, lm.shape).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(query, sizes),
                                  model.predict_proba(query, sizes))
    assert loaded.classes_ == model.classes_ == ["down", "up"]
    assert loaded.metadata == model.metadata


def test_training_records_metadata(data):
    lm, sizes, labels = data
    model = PoseModel.train(lm, sizes, labels, "knn", cv=4)
    meta = model.metadata
    assert meta["poseclf_version"] == __version__
    assert meta["schema_version"] == SCHEMA_VERSION
    assert meta["n_samples"] == 24 and meta["class_counts"] == {"down": 12, "up": 12}
    assert meta["classifier"] == "knn" and meta["mirror_augmentation"] is True
    assert meta["cv_scores"]["folds"] == 4
    assert set(meta["cv_scores"]["recall"]) == {"down", "up"}
    assert 0.9 <= meta["cv_scores"]["accuracy"] <= 1.0
    assert meta["trained_at"].startswith("20")


def test_model_predicts_mirrored_pose_like_the_original(data):
    lm, sizes, labels = data
    lm = lm.copy()
    lm[:12, [13, 15], 1] = 0.45  # "up": only the left arm raised
    model = PoseModel.train(lm, sizes, labels, "svm", cv=0)
    assert (model.predict(mirror_landmarks(lm[:12]), sizes[:12]) == "up").all()


def test_predict_pose_returns_label_and_probabilities(data):
    lm, sizes, labels = data
    model = PoseModel.train(lm, sizes, labels, "knn", cv=0)
    label, proba = model.predict_pose(Pose(lm[0], None, (640, 480)))
    assert label == "up" and proba.shape == (2,) and proba.sum() == pytest.approx(1)


def test_joblib_file_needs_trust(tmp_path, data):
    model = PoseModel.train(*data, "knn", cv=0)
    path = tmp_path / "m.joblib"
    joblib.dump(model, path)
    with pytest.raises(ModelFileError, match=r"m\.joblib: not a skops model file.*trusted=True"):
        PoseModel.load(path)
    assert PoseModel.load(path, trusted=True).classes_ == model.classes_


def test_skops_file_with_untrusted_type_is_refused_naming_it(tmp_path, data):
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    model = PoseModel.train(*data, "knn", cv=0)
    model.pipeline.steps[-1] = ("classify", RandomForestClassifier(n_estimators=2).fit(
        model.embed(data[0], data[1]), data[2]))
    path = model.save(tmp_path / "forest.skops")
    with pytest.raises(ModelFileError, match=r"forest\.skops: refused.*sklearn\.tree\._tree\.Tree"):
        PoseModel.load(path)
    assert sio.get_untrusted_types(file=path)
    assert PoseModel.load(path, trusted=True).predict(*data[:2]).shape == (24,)


@pytest.mark.parametrize("key, value, message", [
    ("schema_version", SCHEMA_VERSION + 1, "landmark schema"),
    ("poseclf_version", "99.0.0", "poseclf 99.0.0, incompatible"),
])
def test_incompatible_metadata_is_refused_with_reason(tmp_path, data, key, value, message):
    model = PoseModel.train(*data, "knn", cv=0)
    model.metadata[key] = value
    path = model.save(tmp_path / "old.skops")
    with pytest.raises(ModelFileError, match=rf"old\.skops: .*{message}"):
        PoseModel.load(path)


@pytest.mark.parametrize("content, message", [
    (b"not a model", "not a skops model file"),
    (pickle.dumps({"a": 1}), "not a skops model file"),
])
def test_non_model_files_are_refused(tmp_path, content, message):
    path = tmp_path / "x.skops"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        PoseModel.load(path)


def test_missing_model_file_names_the_fix(tmp_path):
    with pytest.raises(ModelFileError, match=r"nope\.skops: no such model file.*poseclf train"):
        PoseModel.load(tmp_path / "nope.skops")


def test_evaluation_report_counts_and_confusion():
    report = evaluation_report(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert report["n"] == 4 and report["accuracy"] == 0.75
    assert report["per_class"]["a"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert report["confusion"] == [[1, 1], [0, 2]]
    assert report["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_cross_validation_lowers_folds_to_smallest_class(data):
    lm, sizes, labels = data
    keep = np.r_[0:12, 12:15]  # 3 "down" poses
    report = cross_validate_model(lm[keep], sizes[keep], labels[keep], "knn", cv=5)
    assert report["cv"] == 3 and report["n"] == 15


def test_training_needs_two_classes(data):
    lm, sizes, _ = data
    with pytest.raises(ValueError, match="at least 2 classes"):
        PoseModel.train(lm, sizes, ["up"] * len(lm))


def test_a_type_skops_trusts_but_poseclf_does_not_list_is_refused(tmp_path, data):
    """skops trusts plain scikit-learn estimators by default; poseclf's list is the rule."""
    import skops.io as sio
    from sklearn.neighbors import KNeighborsClassifier

    model = PoseModel.train(*data, "knn", cv=0)
    model.pipeline.steps[-1] = ("classify", KNeighborsClassifier(3).fit(
        model.embed(data[0], data[1]), data[2]))
    path = model.save(tmp_path / "plain_knn.skops")
    assert "sklearn.neighbors._classification.KNeighborsClassifier" not in \
        sio.get_untrusted_types(file=path)
    with pytest.raises(ModelFileError, match=r"plain_knn\.skops: refused.*KNeighborsClassifier"):
        PoseModel.load(path)
    assert PoseModel.load(path, trusted=True).predict(*data[:2]).shape == (24,)
