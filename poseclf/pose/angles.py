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

import math
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
_TRIPLES = [(int(a), int(b), int(c)) for a, b, c in JOINTS.values()]  # left, right, left, ...
_EVEN = 1e-9  # weight each side gets whatever its visibility
#: Every landmark the angles use, gathered at once: ends, vertices, other ends, then the trunk's.
_GATHER = np.concatenate([_ENDS_A, _VERTICES, _ENDS_B, _SHOULDERS, _HIPS])


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


def _named(points: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """Angles of ``points`` (n, k, 33, 3): (n, k, len(ANGLE_NAMES)), in ANGLE_NAMES order;
    ``visibility`` (n, 33) weighs the sides of the side-free angles.

    Written for a single video frame as much as for a table: one gather of the landmarks, one
    pass over the 11 vector pairs (10 joints and the trunk against the vertical), and
    ``np.divide(where=)`` rather than ``np.errstate`` (a zero-length limb gives NaN without a
    warning, and without the 10 us of switching the error state).
    """
    g = points[..., _GATHER, :]
    j = len(JOINTS)
    u = np.empty(g.shape[:-2] + (j + 1, 3))
    v = np.empty_like(u)
    u[..., :j, :] = g[..., :j, :] - g[..., j:2 * j, :]  # vertex to one end
    v[..., :j, :] = g[..., 2 * j:3 * j, :] - g[..., j:2 * j, :]  # vertex to the other
    u[..., j, :] = g[..., 3 * j, :] + g[..., 3 * j + 1, :] - g[..., 3 * j + 2, :] \
        - g[..., 3 * j + 3, :]  # trunk: hips to shoulders (twice the centres' difference)
    v[..., j, :] = (0.0, -1.0, 0.0)  # up: y points down in the picture and the world frame
    dot = (u * v).sum(-1)
    norms = np.sqrt((u * u).sum(-1) * (v * v).sum(-1))
    cos = np.divide(dot, norms, out=np.full_like(dot, np.nan), where=norms > 0)
    angles = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    joint_vis = visibility[:, _GATHER[:3 * j]].reshape(len(visibility), 3, j).min(1)
    # the tiny even weight makes it the plain mean of both sides when neither is visible
    # (a table without visibility) and changes nothing measurable otherwise
    w_left = joint_vis[:, None, _LEFT] + _EVEN
    w_right = joint_vis[:, None, _RIGHT] + _EVEN
    both = (w_left * angles[..., _LEFT] + w_right * angles[..., _RIGHT]) / (w_left + w_right)
    return np.concatenate([both, angles[..., j:], angles[..., :j]], axis=-1)


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
    # world and picture go through the same arithmetic as two layers of one array
    points = np.full((n, 2, 33, 3), np.nan)
    if world_landmarks is not None:
        wl = np.asarray(world_landmarks, dtype=np.float64)
        if wl.shape != (n, 33, 3):
            raise ValueError(f"world_landmarks must have shape ({n}, 33, 3), got {wl.shape}")
        points[:, 0] = wl
    points[:, 1, :, :2] = lm[..., :2]
    points[:, 1, :, 2] = 0.0
    if image_sizes is not None:
        points[:, 1, :, :2] *= np.asarray(image_sizes, dtype=np.float64).reshape(n, 1, 2)
    visibility = np.nan_to_num(lm[..., 3], nan=0.0)
    angles = _named(points, visibility)
    return angles[:, 0], angles[:, 1]


def pose_angles(pose: Pose) -> np.ndarray:
    """The named angles of one pose (a video frame's): shape (2, len(ANGLE_NAMES)), the world
    angles in row 0 (NaN without world landmarks), the picture's in row 1.

    Plain Python on the 33 points rather than NumPy: for a single pose the ~60 NumPy calls of
    :func:`joint_angles` cost twice as long as the arithmetic itself (50 against 90 us per
    frame); the two agree to 1e-5 degrees (``tests/test_angles.py``).
    """
    lm = pose.landmarks
    width, height = pose.image_size
    visibility = lm[:, 3].tolist()
    weights = [min(visibility[a], visibility[b], visibility[c]) + _EVEN for a, b, c in _TRIPLES]
    picture = (lm[:, :3] * (width, height, 0.0)).tolist()
    world = (pose.world_landmarks.tolist() if pose.world_landmarks is not None
             else [[math.nan] * 3] * 33)
    rows = []
    for points in (world, picture):
        sides = [_angle(points, a, b, c) for a, b, c in _TRIPLES]
        both = [(weights[2 * k] * sides[2 * k] + weights[2 * k + 1] * sides[2 * k + 1])
                / (weights[2 * k] + weights[2 * k + 1]) for k in range(len(SIDE_FREE))]
        (lsx, lsy, lsz), (rsx, rsy, rsz) = points[L.LEFT_SHOULDER], points[L.RIGHT_SHOULDER]
        (lhx, lhy, lhz), (rhx, rhy, rhz) = points[L.LEFT_HIP], points[L.RIGHT_HIP]
        tx, ty, tz = lsx + rsx - lhx - rhx, lsy + rsy - lhy - rhy, lsz + rsz - lhz - rhz
        norm = math.sqrt(tx * tx + ty * ty + tz * tz)
        lean = math.degrees(math.acos(max(-1.0, min(1.0, -ty / norm)))) if norm > 0 else math.nan
        rows.append([*both, lean, *sides])
    return np.array(rows)


def _angle(points: list, a: int, b: int, c: int) -> float:
    """Degrees at ``b`` between ``a`` and ``c`` (NaN for a zero-length limb or NaN points)."""
    (ax, ay, az), (bx, by, bz), (cx, cy, cz) = points[a], points[b], points[c]
    ux, uy, uz, vx, vy, vz = ax - bx, ay - by, az - bz, cx - bx, cy - by, cz - bz
    norm = math.sqrt((ux * ux + uy * uy + uz * uz) * (vx * vx + vy * vy + vz * vz))
    if not norm > 0:
        return math.nan
    return math.degrees(math.acos(max(-1.0, min(1.0, (ux * vx + uy * vy + uz * vz) / norm))))


def angle_table(poses: Poses) -> pd.DataFrame:
    """One row per pose of a batch (a landmark table's rows: ``Poses.from_table(df)``): the world
    angle of each name, then the picture's angle as ``<name>_2d``; NaN where nothing was found.
    """
    import pandas as pd

    world, picture = joint_angles(poses.landmarks, poses.world_landmarks, poses.image_sizes)
    columns = [*ANGLE_NAMES, *(f"{n}{PICTURE_SUFFIX}" for n in ANGLE_NAMES)]
    return pd.DataFrame(np.concatenate([world, picture], axis=1).round(2), columns=columns)
