"""The landmark table schema: round trips, atomic writes, clear refusals."""

import numpy as np
import pandas as pd
import pytest

from poseclf.errors import TableError
from poseclf.landmarks import Pose
from poseclf.table import (
    LANDMARK_COLUMNS,
    TABLE_COLUMNS,
    WORLD_COLUMNS,
    load_table,
    pose_to_row,
    save_table,
    table_landmarks,
    training_arrays,
)


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for i, label in enumerate(["tree", "tree", "plank"]):
        pose = Pose(rng.random((33, 4)), rng.normal(size=(33, 3)), (640, 480))
        rows.append({"path": f"{label}/ä{i}.jpg", "label": label, "width": 640, "height": 480,
                     "detected": True, "reason": "", **pose_to_row(pose)})
    rows.append({"path": "plank/none.jpg", "label": "plank", "width": 10, "height": 10,
                 "detected": False, "reason": "no_person", **pose_to_row(None)})
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


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
    np.testing.assert_allclose(table_landmarks(back), table_landmarks(table), atol=1e-6)
    assert np.isnan(table_landmarks(back)[3]).all()


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
