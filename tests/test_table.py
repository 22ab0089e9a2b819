"""The landmark table schema: round trips, atomic writes, clear refusals."""

import numpy as np
import pandas as pd
import pytest

from poseclf.errors import TableError
from poseclf.pose.landmarks import Pose
from poseclf.pose.poses import Poses, training_arrays
from poseclf.pose.table import (
    LANDMARK_COLUMNS,
    TABLE_COLUMNS,
    WORLD_COLUMNS,
    load_table,
    save_table,
)


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    labels = ["tree", "tree", "plank"]
    poses = [Pose(rng.random((33, 4)), rng.normal(size=(33, 3)), (640, 480)) for _ in labels]
    paths = [f"{label}/ä{i}.jpg" for i, label in enumerate(labels)] + ["plank/none.jpg"]
    return Poses.from_poses(poses + [None], [(640, 480)] * 3 + [(10, 10)]).to_table(
        paths, labels + ["plank"], ["", "", "", "no_person"])


def test_column_names_are_stable_and_documented():
    assert TABLE_COLUMNS[:6] == ("path", "label", "width", "height", "detected", "reason")
    assert LANDMARK_COLUMNS[:4] == ("nose_x", "nose_y", "nose_z", "nose_v")
    assert WORLD_COLUMNS[-1] == "right_foot_index_wz"
    assert len(TABLE_COLUMNS) == 6 + 33 * 7


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_round_trips(tmp_path, suffix):
    table = _table()
    back = load_table(save_table(table, tmp_path / f"t{suffix}"))
    assert list(back["path"]) == list(table["path"])
    assert list(back["reason"]) == ["", "", "", "no_person"]
    np.testing.assert_allclose(Poses.from_table(back).landmarks,
                               Poses.from_table(table).landmarks, atol=1e-6)
    assert np.isnan(Poses.from_table(back).landmarks[3]).all()


def test_training_arrays_keep_detected_rows_only():
    landmarks, sizes, labels = training_arrays(_table())
    assert landmarks.shape == (3, 33, 4) and sizes.shape == (3, 2)
    assert list(labels) == ["tree", "tree", "plank"]


def test_saving_leaves_no_temporary_files(tmp_path):
    save_table(_table(), tmp_path / "t.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


@pytest.mark.parametrize("name, content, message", [
    ("missing.csv", None, "no such table"),
    ("other.csv", "a,b\n1,2\n", "not a poseclf landmark table"),
    ("t.xlsx", "x", "unknown table format"),
])
def test_bad_tables_are_refused_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(TableError, match=message) as info:
        load_table(path)
    assert name in str(info.value)
