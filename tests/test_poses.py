import numpy as np
import pandas as pd
import pytest

from poseclf.pose.landmarks import Pose
from poseclf.pose.poses import Poses
from poseclf.pose.table import TABLE_COLUMNS, check_table


def _poses(n: int = 4, seed: int = 0) -> list[Pose]:
    rng = np.random.default_rng(seed)
    return [Pose(rng.random((33, 4)), rng.normal(size=(33, 3)), (640 + i, 480)) for i in range(n)]


def test_poses_stack_single_poses_and_give_them_back():
    singles = _poses()
    batch = Poses.from_poses(singles)
    assert len(batch) == 4
    assert batch.landmarks.shape == (4, 33, 4) and batch.world_landmarks.shape == (4, 33, 3)
    for single, back in zip(singles, batch, strict=True):
        np.testing.assert_array_equal(back.landmarks, single.landmarks)
        np.testing.assert_array_equal(back.world_landmarks, single.world_landmarks)
        assert back.image_size == single.image_size


def test_a_missing_pose_is_nan_and_comes_back_as_none():
    batch = Poses.from_poses([None, _poses(1)[0]], [(320, 240), (0, 0)])
    assert batch.detected.tolist() == [False, True]
    assert batch.image_sizes[0].tolist() == [320, 240]
    assert batch.pose(0) is None and batch.pose(1) is not None


def test_missing_world_landmarks_are_nan_and_a_pose_without_them_has_none():
    batch = Poses.from_poses([Pose(np.zeros((33, 4)), None, (10, 10))])
    assert not batch.has_world.any() and batch.world_or_none() is None
    assert batch.pose(0).world_landmarks is None


@pytest.mark.parametrize("index", [np.array([True, False, True, False]), [0, 2], slice(0, 3, 2)])
def test_indexing_gives_a_batch_of_the_chosen_poses(index):
    batch = Poses.from_poses(_poses())
    chosen = batch[index]
    assert isinstance(chosen, Poses) and len(chosen) == 2
    np.testing.assert_array_equal(chosen.image_sizes[:, 0], [640, 642])


def test_mirrored_batch_equals_each_pose_mirrored():
    singles = _poses()
    mirrored = Poses.from_poses(singles).mirrored()
    for single, back in zip(singles, mirrored, strict=True):
        np.testing.assert_array_equal(back.landmarks, single.mirrored().landmarks)
        np.testing.assert_array_equal(back.world_landmarks, single.mirrored().world_landmarks)


def test_table_rows_round_trip_through_the_schema():
    singles = _poses(3)
    batch = Poses.from_poses(singles + [None], [(1, 1)] * 3 + [(50, 60)])
    table = batch.to_table(["a.jpg", "b.jpg", "c.jpg", "d.jpg"], ["x", "x", "y", "y"],
                           ["", "", "", "no_person"], {"frame": [1, 2, 3, 4]})
    assert tuple(table.columns) == TABLE_COLUMNS + ("frame",)
    assert table["detected"].tolist() == [True, True, True, False]
    assert table[["width", "height"]].iloc[3].tolist() == [50, 60]
    back = Poses.from_table(check_table(table))
    np.testing.assert_array_equal(back.landmarks, batch.landmarks)
    np.testing.assert_array_equal(back.world_landmarks, batch.world_landmarks)


def test_an_empty_batch_makes_an_empty_table_with_the_schema_types():
    table = Poses.empty().to_table([], [], [])
    assert tuple(table.columns) == TABLE_COLUMNS and len(table) == 0
    assert table["width"].dtype == np.int64 and table["detected"].dtype == bool
    assert table["nose_x"].dtype == np.float32
    assert isinstance(check_table(table), pd.DataFrame)


@pytest.mark.parametrize("landmarks, world, sizes, match", [
    (np.zeros((2, 33, 3)), None, None, r"\(n, 33, 4\)"),
    (np.zeros((2, 17, 4)), None, None, r"\(n, 33, 4\)"),
    (np.zeros((2, 33, 4)), np.zeros((2, 33, 4)), None, r"\(2, 33, 3\)"),
    (np.zeros((2, 33, 4)), None, np.zeros((3, 2)), r"\(2, 2\)"),
])
def test_wrong_shapes_are_refused_with_the_expected_shape(landmarks, world, sizes, match):
    with pytest.raises(ValueError, match=match):
        Poses(landmarks, world, sizes)


def test_flat_rows_of_132_values_are_accepted():
    flat = np.arange(2 * 132, dtype=np.float32).reshape(2, 132)
    assert Poses(flat).landmarks[1, 0].tolist() == [132, 133, 134, 135]
