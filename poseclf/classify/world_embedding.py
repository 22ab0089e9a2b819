"""3D pose features from BlazePose world landmarks, turned so that the hips face the camera.

The picture embedding changes when the camera moves around a person; the world landmarks
(metres, hip-centred, camera axes: x right, y down, z away) allow undoing that: each pose is
rotated about the vertical axis so that its hip line (right hip -> left hip) points along +x,
the way it does for a person facing the camera. Then, as for the picture
(:func:`~poseclf.classify.embedding.normalized_points`): centre on the hip midpoint, divide by
``max(multiplier * torso, farthest landmark)`` (here in 3D) and take the difference vectors of
the embedder's landmark pairs (and, with ``angles``, the joint angles in 3D).

**Poses without world landmarks** (NaN, e.g. tables extracted before poseclf kept them) use their
picture landmarks as the 3D points instead: pixels ``(x * width, y * height, z * width)``, the
same camera axes with a less reliable depth. The scale is normalised away, so the features are
comparable, finite and never all equal; a pose seen from the side then still gets turned to face
the camera. The yaw normalisation falls back to the shoulder line when the hip line is vertical
(no horizontal extent), and to no rotation when both are.
"""

from __future__ import annotations

import numpy as np

from ..pose.landmarks import LANDMARK_DIMS, LANDMARK_NAMES, N_LANDMARKS, WORLD_DIMS

LINE_EPS = 1e-6  # relative horizontal length of a hip/shoulder line below which it has no yaw
SIZE_EPS = 1e-9  # 3D pose size below which the pose has no size (all points equal)
N_IMAGE_COLUMNS = N_LANDMARKS * LANDMARK_DIMS + 2  # pose_matrix: landmarks, width, height
N_WORLD_COLUMNS = N_LANDMARKS * WORLD_DIMS

_I = {name: i for i, name in enumerate(LANDMARK_NAMES)}
_HIPS = (_I["left_hip"], _I["right_hip"])
_SHOULDERS = (_I["left_shoulder"], _I["right_shoulder"])
#: The hip and shoulder lines' ends, as index arrays: both lines (or midpoints) in one operation.
_LEFT_ENDS = np.array([_HIPS[0], _SHOULDERS[0]])
_RIGHT_ENDS = np.array([_HIPS[1], _SHOULDERS[1]])


def world_points(X: np.ndarray) -> np.ndarray:
    """3D points ``(n, 33, 3)`` of pose rows ``(n, 233)`` (or ``(n, 134)``): the world
    landmarks, or, for a row without them, its picture landmarks in pixels."""
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    has = world = None
    if X.shape[1] >= N_IMAGE_COLUMNS + N_WORLD_COLUMNS:
        world = X[:, N_IMAGE_COLUMNS:N_IMAGE_COLUMNS + N_WORLD_COLUMNS].reshape(
            n, N_LANDMARKS, WORLD_DIMS)
        has = np.isfinite(world).all(axis=(1, 2))
        if has.all():  # a video frame's pose nearly always: no picture points to make
            return world.copy()
    image = X[:, :N_LANDMARKS * LANDMARK_DIMS].reshape(n, N_LANDMARKS, LANDMARK_DIMS)
    sizes = X[:, N_IMAGE_COLUMNS - 2:N_IMAGE_COLUMNS]
    pts = image[:, :, :3] * sizes[:, None, [0, 1, 0]]
    if has is not None:
        pts[has] = world[has]
    return pts


def facing_yaw(points: np.ndarray) -> np.ndarray:
    """Yaw (radians, ``(n,)``) that turns each pose's hip line onto +x (the shoulder line when
    the hips have no horizontal extent, 0 when neither has)."""
    lines = points[:, _LEFT_ENDS] - points[:, _RIGHT_ENDS]  # (n, 2, 3): hip line, shoulder line
    hip, shoulder = lines[:, 0], lines[:, 1]
    extent = np.maximum(np.abs(points[..., :2]).max(axis=(1, 2)), SIZE_EPS) * LINE_EPS
    horizontal = np.hypot(lines[..., 0], lines[..., 2]) > extent[:, None]  # (n, 2)
    use_hips = horizontal[:, 0]
    line = np.where(use_hips[:, None], hip, shoulder)
    has_line = use_hips | horizontal[:, 1]
    return np.where(has_line, np.arctan2(line[:, 2], line[:, 0]), 0.0)


def facing_points(points: np.ndarray, torso_size_multiplier: float) -> np.ndarray:
    """Hip-centred, yaw-normalised, size-normalised 3D points ``(n, 35, 3)`` (rows 33 and 34:
    hip and shoulder midpoints), from :func:`world_points`."""
    n = len(points)
    pts = np.empty((n, N_LANDMARKS + 2, 3))
    pts[:, :N_LANDMARKS] = points
    pts[:, N_LANDMARKS:] = (points[:, _LEFT_ENDS] + points[:, _RIGHT_ENDS]) / 2  # the midpoints
    pts -= pts[:, N_LANDMARKS][:, None]
    # turn by -yaw about y: a point (x, z) at angle yaw goes to angle 0
    a = facing_yaw(pts)
    c, s = np.cos(a)[:, None], np.sin(a)[:, None]
    x, z = pts[..., 0].copy(), pts[..., 2].copy()
    pts[..., 0] = c * x + s * z
    pts[..., 2] = c * z - s * x
    # plain element-wise squares (np.linalg.norm costs more than the rest for one pose)
    sq = pts * pts
    radius = np.sqrt(sq.sum(axis=2))
    size = np.maximum(radius[:, N_LANDMARKS + 1] * torso_size_multiplier, radius.max(axis=1))
    pts /= np.maximum(size, SIZE_EPS).reshape(n, 1, 1)
    return pts


def world_features(X: np.ndarray, pairs: np.ndarray, angles: np.ndarray | None,
                   torso_size_multiplier: float, angle_weight: float) -> np.ndarray:
    """3D difference vectors of ``pairs`` ``(k, 2)`` and, when ``angles`` ``(m, 3)`` is given,
    3D joint angles (``angle / pi * angle_weight``), of pose rows: ``(n, 3k [+ m])``."""
    pts = facing_points(world_points(X), torso_size_multiplier)
    parts = [(pts[:, pairs[:, 1]] - pts[:, pairs[:, 0]]).reshape(len(pts), -1)]
    if angles is not None:
        u = pts[:, angles[:, 0]] - pts[:, angles[:, 1]]
        v = pts[:, angles[:, 2]] - pts[:, angles[:, 1]]
        angle = np.arctan2(np.linalg.norm(np.cross(u, v), axis=2), (u * v).sum(axis=2))
        parts.append(angle / np.pi * angle_weight)
    return np.concatenate(parts, axis=1)
