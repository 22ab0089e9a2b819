import numpy as np
import pytest

from poseclf.pose.landmarks import (
    LANDMARK_NAMES,
    MIRROR_PERMUTATION,
    N_LANDMARKS,
    POSE_CONNECTIONS,
    Pose,
    PoseLandmark,
)
from poseclf.pose.poses import Poses


def test_topology_has_33_named_landmarks_in_model_order():
    assert len(LANDMARK_NAMES) == N_LANDMARKS == 33
    assert PoseLandmark.NOSE == 0 and PoseLandmark.LEFT_HIP == 23
    assert PoseLandmark.RIGHT_FOOT_INDEX == 32


def test_connections_are_valid_distinct_pairs():
    assert len(POSE_CONNECTIONS) == 35
    assert len({frozenset(c) for c in POSE_CONNECTIONS}) == 35
    assert all(0 <= a < 33 and 0 <= b < 33 and a != b for a, b in POSE_CONNECTIONS)


def test_mirror_permutation_swaps_sides_and_is_an_involution():
    perm = np.asarray(MIRROR_PERMUTATION)
    assert sorted(perm) == list(range(33))
    np.testing.assert_array_equal(perm[perm], np.arange(33))
    assert LANDMARK_NAMES[perm[PoseLandmark.LEFT_HIP]] == "right_hip"
    assert LANDMARK_NAMES[perm[PoseLandmark.MOUTH_LEFT]] == "mouth_right"
    assert perm[PoseLandmark.NOSE] == PoseLandmark.NOSE


def test_mirror_maps_connections_onto_connections():
    edges = {frozenset(c) for c in POSE_CONNECTIONS}
    assert {frozenset((MIRROR_PERMUTATION[a], MIRROR_PERMUTATION[b])) for a, b in edges} == edges


def test_pose_rejects_wrong_shapes_with_the_shape_in_the_message():
    with pytest.raises(ValueError, match=r"\(33, 4\), got \(17, 4\)"):
        Pose(np.zeros((17, 4)), None, (10, 10))
    with pytest.raises(ValueError, match=r"\(33, 3\)"):
        Pose(np.zeros((33, 4)), np.zeros((33, 2)), (10, 10))
    with pytest.raises(ValueError, match="image_size"):
        Pose(np.zeros((33, 4)), None, (0, 10))


def test_mirrored_pose_twice_is_the_same_pose():
    rng = np.random.default_rng(0)
    pose = Pose(rng.random((33, 4)), rng.normal(size=(33, 3)), (640, 480))
    back = pose.mirrored().mirrored()
    np.testing.assert_allclose(back.landmarks, pose.landmarks, atol=1e-6)
    np.testing.assert_allclose(back.world_landmarks, pose.world_landmarks, atol=1e-6)
    assert pose.mirrored().landmarks[PoseLandmark.RIGHT_HIP, 0] == pytest.approx(
        1 - pose.landmarks[PoseLandmark.LEFT_HIP, 0]
    )


def test_poses_stack_single_poses_with_their_sizes():
    poses = Poses.from_poses([Pose(np.zeros((33, 4)), None, (640, 480)),
                              Pose(np.ones((33, 4)), None, (10, 20))])
    assert poses.landmarks.shape == (2, 33, 4) and poses.landmarks.dtype == np.float32
    np.testing.assert_array_equal(poses.image_sizes, [[640, 480], [10, 20]])
    assert len(Poses.from_poses([])) == 0
