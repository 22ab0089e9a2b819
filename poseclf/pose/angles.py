"""Named joint angles of a pose: from the 3D world landmarks, with the picture's 2D angle beside it.

An angle is the one at the middle joint of three landmarks (the elbow between shoulder and
wrist, ...), in degrees: 180 is a straight limb, small values a tightly bent one. ``trunk_lean``
is the angle of the trunk (hip centre to shoulder centre) from the vertical: 0 upright, 90 lying
flat, in the world frame (MediaPipe's world landmarks have y pointing down, like the picture,
so "vertical" is the camera's vertical) or in the picture.

The world angles do not depend on the view: a knee bent to 90 degrees measures 90 whether the
camera sees it from the side or from the front, where the picture's angle of the same knee is
near 180. The picture's angle (``<name>_2d``) is kept beside it because it is what a viewer of
the video sees, and because BlazePose's depth is its least precise coordinate.

The side-free names (``elbow``, ``shoulder``, ``hip``, ``knee``, ``ankle``) are the mean of the
left and right angle, each weighted by how visible its three landmarks are (the least visible
of the three): in a side view the hidden limb, which BlazePose only guesses, counts less.

Everything works on stacks of poses (``(n, 33, 4)`` landmarks), so a landmark table is done in
one call (:func:`angle_table`) and a video frame is a stack of one (:func:`pose_angles`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .landmarks import PoseLandmark as L

if TYPE_CHECKING:
    import pandas as pd

    from .landmarks import Pose
    from .poses import Poses

#: Joint angles of one body side: name -> (end, vertex, end) landmark indices.
JOINTS: dict[str, tuple[int, int, int]] = {
    "left_elbow": (L.LEFT_SHOULDER, L.LEFT_ELBOW, L.LEFT_WRIST),
    "right_elbow": (L.RIGHT_SHOULDER, L.RIGHT_ELBOW, L.RIGHT_WRIST),
    "left_shoulder": (L.LEFT_ELBOW, L.LEFT_SHOULDER, L.LEFT_HIP),
    "right_shoulder": (L.RIGHT_ELBOW, L.RIGHT_SHOULDER, L.RIGHT_HIP),
    "left_hip": (L.LEFT_SHOULDER, L.LEFT_HIP, L.LEFT_KNEE),
    "right_hip": (L.RIGHT_SHOULDER, L.RIGHT_HIP, L.RIGHT_KNEE),
    "left_knee": (L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE),
    "right_knee": (L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE),
    "left_ankle": (L.LEFT_KNEE, L.LEFT_ANKLE, L.LEFT_FOOT_INDEX),
    "right_ankle": (L.RIGHT_KNEE, L.RIGHT_ANKLE, L.RIGHT_FOOT_INDEX),
}
#: Side-free angles: the visibility-weighted mean of the left and right one.
SIDE_FREE = ("elbow", "shoulder", "hip", "knee", "ankle")
TRUNK_LEAN = "trunk_lean"
#: Every named angle, in the column order of :func:`joint_angles`.
ANGLE_NAMES: tuple[str, ...] = (*SIDE_FREE, TRUNK_LEAN, *JOINTS)
#: Suffix of the picture's angle (``knee_2d``).
PICTURE_SUFFIX = "_2d"

_ENDS_A = np.array([j[0] for j in JOINTS.values()])
_VERTICES = np.array([j[1] for j in JOINTS.values()])
_ENDS_B = np.array([j[2] for j in JOINTS.values()])
_SIDES = {name: (list(JOINTS).index(f"left_{name}"), list(JOINTS).index(f"right_{name}"))
          for name in SIDE_FREE}
_LEFT = np.array([_SIDES[n][0] for n in SIDE_FREE])
_RIGHT = np.array([_SIDES[n][1] for n in SIDE_FREE])
_SHOULDERS = [L.LEFT_SHOULDER, L.RIGHT_SHOULDER]
_HIPS = [L.LEFT_HIP, L.RIGHT_HIP]


def check_angle_name(name: str) -> tuple[str, bool]:
    """``(angle, picture)`` of an angle name such as ``"knee"`` or ``"left_elbow_2d"``.

    Raises ValueError listing the names when ``name`` is none of them.
    """
    text = str(name)
    picture = text.endswith(PICTURE_SUFFIX)
    base = text[: -len(PICTURE_SUFFIX)] if picture else text
    if base not in ANGLE_NAMES:
        raise ValueError(f"unknown angle {text!r}; the angles are {', '.join(ANGLE_NAMES)} "
                         f"(add {PICTURE_SUFFIX} for the picture's angle, e.g. knee_2d)")
    return base, picture


def _vertex_angles(points: np.ndarray) -> np.ndarray:
    """(n, len(JOINTS)) degrees at each joint's vertex; ``points`` is (n, 33, d)."""
    u = points[:, _ENDS_A] - points[:, _VERTICES]
    v = points[:, _ENDS_B] - points[:, _VERTICES]
    with np.errstate(invalid="ignore", divide="ignore"):  # a zero-length limb: NaN, no warning
        cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
        return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _lean(points: np.ndarray) -> np.ndarray:
    """(n,) degrees between the trunk (hips to shoulders) and the upward vertical (-y)."""
    trunk = points[:, _SHOULDERS].mean(1) - points[:, _HIPS].mean(1)
    norm = np.linalg.norm(trunk, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.degrees(np.arccos(np.clip(-trunk[:, 1] / norm, -1.0, 1.0)))


def _named(points: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """(n, len(ANGLE_NAMES)) angles of ``points`` (n, 33, d) in ANGLE_NAMES order."""
    sides = _vertex_angles(points)
    joint_vis = np.minimum(np.minimum(visibility[:, _ENDS_A], visibility[:, _VERTICES]),
                           visibility[:, _ENDS_B])
    w_left, w_right = joint_vis[:, _LEFT], joint_vis[:, _RIGHT]
    total = w_left + w_right
    # no visibility at all (a table without it): the plain mean of both sides
    w_left = np.where(total > 0, w_left, 0.5)
    w_right = np.where(total > 0, w_right, 0.5)
    both = (w_left * sides[:, _LEFT] + w_right * sides[:, _RIGHT]) / (w_left + w_right)
    return np.concatenate([both, _lean(points)[:, None], sides], axis=1)


def joint_angles(landmarks: np.ndarray, world_landmarks: np.ndarray | None = None,
                 image_sizes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The named angles of a stack of poses, from the world landmarks and from the picture.

    Parameters
    ----------
    landmarks : ndarray of shape (n, 33, 4)
        x, y normalised to the image, z, visibility (a :class:`~poseclf.pose.poses.Poses`'
        ``landmarks``); NaN rows (nobody found) give NaN angles.
    world_landmarks : ndarray of shape (n, 33, 3), optional
        Metric 3D landmarks; None or NaN rows give NaN world angles.
    image_sizes : ndarray of shape (n, 2), optional
        (width, height) in pixels, so that the picture's angles are those of the picture and
        not of the normalised square (None: the square).

    Returns
    -------
    world, picture : ndarray of shape (n, len(ANGLE_NAMES)), float64
        Degrees, columns in :data:`ANGLE_NAMES` order.

    Examples
    --------
    >>> import numpy as np
    >>> lm = np.zeros((1, 33, 4)); lm[..., 3] = 1.0
    >>> lm[0, [11, 13, 15], :2] = [[0.0, 0.0], [0.0, 0.5], [0.5, 0.5]]  # a right angle
    >>> world, picture = joint_angles(lm)
    >>> round(float(picture[0, ANGLE_NAMES.index("left_elbow")]), 1)
    90.0
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 3 or lm.shape[1:] != (33, 4):
        raise ValueError(f"landmarks must have shape (n, 33, 4), got {lm.shape}")
    n = len(lm)
    visibility = np.nan_to_num(lm[..., 3], nan=0.0)
    pixels = lm[..., :2]
    if image_sizes is not None:
        pixels = pixels * np.asarray(image_sizes, dtype=np.float64).reshape(n, 1, 2)
    picture = _named(pixels, visibility)
    if world_landmarks is None:
        world = np.full_like(picture, np.nan)
    else:
        wl = np.asarray(world_landmarks, dtype=np.float64)
        if wl.shape != (n, 33, 3):
            raise ValueError(f"world_landmarks must have shape ({n}, 33, 3), got {wl.shape}")
        world = _named(wl, visibility)
    return world, picture


def pose_angles(pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """The named angles of one pose: ``(world, picture)``, each of shape (len(ANGLE_NAMES),)."""
    world = None if pose.world_landmarks is None else pose.world_landmarks[None]
    w, p = joint_angles(pose.landmarks[None], world, np.asarray([pose.image_size]))
    return w[0], p[0]


def angle_table(poses: Poses) -> pd.DataFrame:
    """One row per pose of a batch (a landmark table's rows: ``Poses.from_table(df)``): the world
    angle of each name, then the picture's angle as ``<name>_2d``; NaN where nothing was found.
    """
    import pandas as pd

    world, picture = joint_angles(poses.landmarks, poses.world_landmarks, poses.image_sizes)
    columns = [*ANGLE_NAMES, *(f"{n}{PICTURE_SUFFIX}" for n in ANGLE_NAMES)]
    return pd.DataFrame(np.concatenate([world, picture], axis=1).round(2), columns=columns)
