"""Joint angles on synthetic skeletons whose angles are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from poseclf.pose.angles import (
    ANGLE_NAMES,
    angle_table,
    check_angle_name,
    joint_angles,
    pose_angles,
)
from poseclf.pose.landmarks import Pose
from poseclf.pose.landmarks import PoseLandmark as L
from poseclf.pose.poses import Poses


def skeleton(knee_deg: float, *, lean_deg: float = 0.0, elbow_deg: float = 90.0):
    """A side-view skeleton (world landmarks, metres, y down) with both knees bent to
    ``knee_deg``, the trunk leaning ``lean_deg`` from vertical and the elbows at ``elbow_deg``."""
    world = np.zeros((33, 3))
    for hip, knee, ankle, shoulder, elbow, wrist, z in (
            (L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE, L.LEFT_SHOULDER, L.LEFT_ELBOW,
             L.LEFT_WRIST, 0.1),
            (L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE, L.RIGHT_SHOULDER, L.RIGHT_ELBOW,
             L.RIGHT_WRIST, -0.1)):
        world[hip] = (0.0, 0.0, z)
        world[knee] = (0.0, 0.45, z)  # thigh straight down
        a = np.radians(180.0 - knee_deg)  # shin swung back from straight
        world[ankle] = world[knee] + 0.4 * np.array([-np.sin(a), np.cos(a), 0.0])
        lean = np.radians(lean_deg)
        world[shoulder] = (0.5 * np.sin(lean), -0.5 * np.cos(lean), z)
        world[elbow] = world[shoulder] + (0.0, 0.3, 0.0)  # upper arm hangs down
        e = np.radians(180.0 - elbow_deg)
        world[wrist] = world[elbow] + 0.25 * np.array([np.sin(e), np.cos(e), 0.0])
    image = np.zeros((33, 4))
    image[:, :2] = 0.5 + world[:, :2] / 4  # the same side view in a square picture
    image[:, 3] = 1.0
    return image, world


@pytest.mark.parametrize("knee", [60.0, 90.0, 135.0, 175.0])
@pytest.mark.parametrize("lean", [0.0, 30.0, 80.0])
def test_known_angles_come_back_in_world_and_side_picture(knee, lean):
    image, world = skeleton(knee, lean_deg=lean, elbow_deg=100.0)
    w, p = joint_angles(image[None], world[None], np.array([[100, 100]]))
    for angles in (w[0], p[0]):
        got = dict(zip(ANGLE_NAMES, angles, strict=True))
        for name in ("knee", "left_knee", "right_knee"):
            assert got[name] == pytest.approx(knee, abs=1e-6)
        assert got["trunk_lean"] == pytest.approx(lean, abs=1e-6)
        assert got["elbow"] == pytest.approx(100.0, abs=1e-6)
        assert got["hip"] == pytest.approx(180.0 - lean, abs=1e-6)


def test_world_angle_does_not_depend_on_the_view_the_picture_angle_does():
    """The same bent knee seen from the front: the world angle stays, the picture's opens up."""
    image, world = skeleton(120.0)
    turn = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # 90 degrees about y
    front_world = world @ turn.T
    front_image = image.copy()
    front_image[:, :2] = 0.5 + front_world[:, :2] / 4
    w, p = joint_angles(front_image[None], front_world[None])
    knee = ANGLE_NAMES.index("knee")
    assert w[0, knee] == pytest.approx(120.0, abs=1e-6)
    assert p[0, knee] == pytest.approx(180.0, abs=1e-6)  # the shin points at the camera


def test_picture_angles_use_the_image_aspect():
    """A right angle in pixels of a 2:1 picture is not one in normalised coordinates."""
    lm = np.zeros((1, 33, 4))
    lm[..., 3] = 1.0
    lm[0, [L.LEFT_SHOULDER, L.LEFT_ELBOW, L.LEFT_WRIST], :2] = [[0.0, 0.0], [0.0, 0.5],
                                                                [0.25, 0.5]]
    _, square = joint_angles(lm)
    _, wide = joint_angles(lm, image_sizes=np.array([[200, 100]]))
    column = ANGLE_NAMES.index("left_elbow")
    assert square[0, column] == pytest.approx(90.0)
    assert wide[0, column] == pytest.approx(90.0)  # a right angle either way ...
    lm[0, L.LEFT_WRIST, :2] = [0.25, 0.75]  # ... but a diagonal is 45 degrees only in the square
    _, square = joint_angles(lm)
    _, wide = joint_angles(lm, image_sizes=np.array([[200, 100]]))
    assert square[0, column] == pytest.approx(135.0)
    # in pixels: elbow to shoulder (0, -50), elbow to wrist (50, 25)
    assert wide[0, column] == pytest.approx(90.0 + np.degrees(np.arctan(25 / 50)))


def test_side_free_angle_weights_the_more_visible_side():
    image, world = skeleton(90.0)
    a = np.radians(180.0 - 150.0)  # the right knee at 150 degrees, barely visible
    world[L.RIGHT_ANKLE] = world[L.RIGHT_KNEE] + 0.4 * np.array([-np.sin(a), np.cos(a), 0.0])
    image[[L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE], 3] = 0.1
    image[[L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE], 3] = 0.9
    w, _ = joint_angles(image[None], world[None])
    assert w[0, ANGLE_NAMES.index("knee")] == pytest.approx(0.9 * 90 + 0.1 * 150)


def test_missing_pose_and_missing_world_give_nan():
    image, world = skeleton(90.0)
    lm = np.stack([image, np.full((33, 4), np.nan)])
    w, p = joint_angles(lm, None)
    assert np.isnan(w).all() and np.isfinite(p[0]).all() and np.isnan(p[1]).all()


def test_one_pose_and_a_table_agree():
    image, world = skeleton(120.0, lean_deg=20.0)
    pose = Pose(image.astype(np.float32), world.astype(np.float32), (640, 480))
    w, p = pose_angles(pose)  # plain Python, the table's NumPy: two roads, one answer
    np.testing.assert_allclose(np.stack([w, p]), np.stack(joint_angles(
        image[None], world[None], np.array([[640, 480]]))).reshape(2, -1), atol=1e-4)
    no_world = pose_angles(Pose(pose.landmarks, None, pose.image_size))
    assert np.isnan(no_world[0]).all() and np.allclose(no_world[1], p)
    table = angle_table(Poses.from_poses([pose, None], [(640, 480)] * 2))
    assert list(table.columns[:len(ANGLE_NAMES)]) == list(ANGLE_NAMES)
    np.testing.assert_allclose(table.loc[0, list(ANGLE_NAMES)].to_numpy(float), w, atol=0.01)
    np.testing.assert_allclose(table.loc[0, [f"{n}_2d" for n in ANGLE_NAMES]].to_numpy(float), p,
                               atol=0.01)
    assert table.loc[1].isna().all()


def test_angle_names_are_checked():
    assert check_angle_name("knee_2d") == ("knee", True)
    assert check_angle_name("left_elbow") == ("left_elbow", False)
    with pytest.raises(ValueError, match="unknown angle 'kneee'.*knee_2d"):
        check_angle_name("kneee")
