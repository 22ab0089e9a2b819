"""Large training sets thinned to evenly spaced poses per class (``--max-poses``)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO

from poseclf.classify.model import PoseModel
from poseclf.classify.subsample import class_quotas, subsample_indices
from poseclf.pose.poses import Poses
from poseclf.pose.table import load_table


def test_small_classes_keep_all_and_the_rest_share_equally():
    assert class_quotas({"a": 10, "b": 100, "c": 1000}, 300) == {"a": 10, "b": 100, "c": 190}
    assert class_quotas({"a": 500, "b": 500}, 301) in ({"a": 150, "b": 151},
                                                       {"a": 151, "b": 150})
    assert sum(class_quotas({"a": 7, "b": 9, "c": 13}, 20).values()) == 20
    with pytest.raises(ValueError, match="fewer than the 3 classes"):
        class_quotas({"a": 7, "b": 9, "c": 13}, 2)


def test_the_picks_are_evenly_spaced_sorted_and_unique():
    labels = np.array(["a", "b"] * 500)
    keep = subsample_indices(labels, 100)
    assert len(keep) == 100 and np.all(np.diff(keep) > 0)
    a_rows = keep[labels[keep] == "a"]
    assert len(a_rows) == 50
    assert np.ptp(np.diff(a_rows)) == 0 and a_rows[0] < 20 and a_rows[-1] > 980


def test_a_table_within_the_bound_is_kept_whole():
    labels = np.array(["a"] * 5 + ["b"] * 5)
    np.testing.assert_array_equal(subsample_indices(labels, 10), np.arange(10))
    np.testing.assert_array_equal(subsample_indices(labels, None), np.arange(10))


def test_a_model_trained_on_a_thinned_table_records_it():
    rows = load_table(REPO / "datasets" / "pushups_visolus.csv")
    rows = rows[rows["detected"]]
    poses = Poses.from_table(rows)
    labels = rows["label"].to_numpy()
    model = PoseModel.train(poses.landmarks, poses.image_sizes, labels, "knn", cv=0,
                            max_poses=40)
    assert model.metadata["n_samples"] == 40 and model.metadata["n_given"] == len(rows)
    assert set(model.metadata["class_counts"].values()) == {20}
    whole = PoseModel.train(poses.landmarks, poses.image_sizes, labels, "knn", cv=0,
                            max_poses=None)
    assert "n_given" not in whole.metadata and whole.metadata["n_samples"] == len(rows)


def test_the_thinned_model_file_loads_and_a_wrong_n_given_is_refused(tmp_path):
    from poseclf.errors import ModelFileError

    rows = load_table(REPO / "datasets" / "pushups_visolus.csv")
    rows = rows[rows["detected"]]
    poses = Poses.from_table(rows)
    model = PoseModel.train(poses.landmarks, poses.image_sizes, rows["label"].to_numpy(), "knn",
                            cv=0, max_poses=40)
    model.save(tmp_path / "thin.skops")
    assert PoseModel.load(tmp_path / "thin.skops").metadata["n_given"] == len(rows)
    model.metadata["n_given"] = 12
    model.save(tmp_path / "bad.skops")
    with pytest.raises(ModelFileError, match="n_given must be a whole number above n_samples"):
        PoseModel.load(tmp_path / "bad.skops")


def test_the_default_bound_is_the_classifiers_own(monkeypatch):
    from poseclf.classify import defaults

    assert defaults.default_max_poses("knn") == 2000
    assert defaults.default_max_poses("svm") == defaults.DEFAULT_MAX_POSES == 5000
    monkeypatch.setitem(defaults.MAX_POSES_BY_CLASSIFIER, "knn", 40)  # a small table shows it
    rows = load_table(REPO / "datasets" / "pushups_visolus.csv")
    rows = rows[rows["detected"]]
    poses = Poses.from_table(rows)
    model = PoseModel.train(poses.landmarks, poses.image_sizes, rows["label"].to_numpy(), "knn",
                            cv=0)  # max_poses="auto"
    assert model.metadata["n_samples"] == 40 and model.metadata["n_given"] == len(rows)
