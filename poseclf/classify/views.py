"""View augmentation: a pose seen from other camera angles, made from its 3D world landmarks.

BlazePose's world landmarks (metres, hip-centred, axes those of the camera: x right, y down, z
away) are rotated about the vertical axis (``yaw``) or the left-right axis (``pitch``) and
projected back into the picture with the pose's own scale: a least-squares fit of the picture
landmarks (pixels) against the world landmarks, ``pixels ~ scale * world[:, :2] + shift``.
The synthetic picture is the real one plus the displacement the rotation causes
(``scale * (rotated - world)``), so a rotation by 0 gives the real landmarks back exactly and the
detector's own 2D detail is kept; z moves likewise (in MediaPipe's units, on the scale of x) and
visibility is kept as it is.

Each angle gives two views (``+angle`` and ``-angle``); yaw and pitch rotations are separate
views (not combined), so ``views=(15, 30), pitch=10`` adds 6 views per pose. A pose without
world landmarks (NaN), or whose fit is degenerate (a scale that is not positive), gets none.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> world = rng.normal(0, 0.3, (2, 33, 3))
>>> lm = np.concatenate([0.5 + world[..., :2] / 2, world[..., 2:] / 2, np.ones((2, 33, 1))], 2)
>>> out = augment_views(lm, np.ones((2, 2)), world, (15, 30), pitch=10)
>>> out.landmarks.shape, out.source.tolist()[:7]
((12, 33, 4), [0, 0, 0, 0, 0, 0, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..pose.landmarks import LANDMARK_NAMES, N_LANDMARKS
from .defaults import MAX_VIEW_ANGLE

MIN_VIEW_SCALE = 1e-6  # px per metre: a fitted scale below this is degenerate (no views)
_HIPS = [LANDMARK_NAMES.index("left_hip"), LANDMARK_NAMES.index("right_hip")]


class Views(NamedTuple):
    """Synthetic views: picture landmarks ``(m, 33, 4)``, world landmarks ``(m, 33, 3)`` and,
    for each, the index of the pose it was made from ``(m,)``."""

    landmarks: np.ndarray
    world: np.ndarray
    source: np.ndarray


def check_view_angles(views: Sequence[float] | None, pitch: float | None = None
                      ) -> tuple[tuple[float, ...], float]:
    """The yaw angles and pitch as floats in ``(0, 90]`` degrees (``None``: none); ValueError
    naming the bad value otherwise."""
    angles = () if views is None else tuple(np.atleast_1d(np.asarray(views, dtype=object)))
    out = []
    for a in (*angles, *(() if pitch in (None, 0) else (pitch,))):
        try:
            value = float(a)
        except (TypeError, ValueError):
            raise ValueError(f"view angles must be numbers in degrees, got {a!r}") from None
        if not 0 < value <= MAX_VIEW_ANGLE:
            raise ValueError(f"view angles must be in (0, {MAX_VIEW_ANGLE:g}] degrees, got "
                             f"{value:g}")
        out.append(value)
    yaw = tuple(out[:len(angles)])
    return yaw, (out[-1] if len(out) > len(angles) else 0.0)


def rotation(yaw: float = 0.0, pitch: float = 0.0) -> np.ndarray:
    """``(3, 3)`` matrix rotating camera-axis points by ``yaw`` degrees about the vertical (y)
    then ``pitch`` degrees about the left-right (x) axis."""
    a, b = np.radians(yaw), np.radians(pitch)
    about_y = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0],
                        [-np.sin(a), 0.0, np.cos(a)]])
    about_x = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(b), -np.sin(b)],
                        [0.0, np.sin(b), np.cos(b)]])
    return about_x @ about_y


def picture_scale(landmarks: np.ndarray, sizes: np.ndarray, world: np.ndarray) -> np.ndarray:
    """Pixels per metre of each pose, ``(n,)``: the least-squares ``s`` of
    ``pixels ~ s * world[:, :2] + shift`` over the 33 landmarks (x and y together)."""
    px = landmarks[..., :2] * sizes[:, None, :]
    w = world[..., :2]
    px_c = px - px.mean(axis=1, keepdims=True)
    w_c = w - w.mean(axis=1, keepdims=True)
    num = (px_c * w_c).sum(axis=(1, 2))
    den = (w_c * w_c).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def rotated_view(landmarks: np.ndarray, sizes: np.ndarray, world: np.ndarray,
                 scale: np.ndarray, yaw: float = 0.0, pitch: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Picture and world landmarks of the poses seen rotated by ``yaw``/``pitch`` degrees.

    ``scale`` is :func:`picture_scale`. The world landmarks turn about the hip midpoint; the
    picture landmarks move by the projected displacement (x, y in pixels, z on x's scale).
    """
    hip = world[:, _HIPS].mean(axis=1, keepdims=True)
    turned = (world - hip) @ rotation(yaw, pitch).T + hip
    moved = (turned - world) * scale[:, None, None]  # pixels
    out = np.array(landmarks, dtype=np.float64, copy=True)
    out[..., 0] += moved[..., 0] / sizes[:, None, 0]
    out[..., 1] += moved[..., 1] / sizes[:, None, 1]
    out[..., 2] += moved[..., 2] / sizes[:, None, 0]
    return out.astype(np.asarray(landmarks).dtype), turned


def view_rotations(views: Sequence[float], pitch: float = 0.0) -> list[tuple[float, float]]:
    """``(yaw, pitch)`` of every synthetic view: ``(+-a, 0)`` for each yaw angle, then
    ``(0, +-pitch)``."""
    out = [(sign * a, 0.0) for a in views for sign in (1.0, -1.0)]
    if pitch:
        out += [(0.0, pitch), (0.0, -pitch)]
    return out


def augment_views(landmarks, image_sizes, world_landmarks, views: Sequence[float] = (),
                  *, pitch: float = 0.0) -> Views:
    """Synthetic views of every pose with usable world landmarks (see the module docstring).

    Parameters
    ----------
    landmarks : array of shape (n, 33, 4)
        Picture landmarks (x, y normalised to the image, z, visibility).
    image_sizes : array of shape (n, 2)
        Image (width, height) in pixels.
    world_landmarks : array of shape (n, 33, 3)
        BlazePose world landmarks; rows with NaN get no views.
    views : sequence of float
        Yaw angles in degrees, each in (0, 90]; each gives the views ``+a`` and ``-a``.
    pitch : float, default=0
        Pitch angle in degrees (0: none); gives the views ``+pitch`` and ``-pitch``.

    Returns
    -------
    Views
        Grouped by source pose (all views of pose 0, then of pose 1, ...), in the order of
        :func:`view_rotations`.
    """
    yaw, pitch = check_view_angles(views, pitch)
    lm = np.asarray(landmarks)
    sizes = np.asarray(image_sizes, dtype=np.float64).reshape(-1, 2)
    world = np.asarray(world_landmarks, dtype=np.float64)
    if lm.shape[1:] != (N_LANDMARKS, 4) or world.shape != (len(lm), N_LANDMARKS, 3):
        raise ValueError(f"need landmarks (n, {N_LANDMARKS}, 4) and world landmarks (n, "
                         f"{N_LANDMARKS}, 3), got {lm.shape} and {world.shape}")
    rotations = view_rotations(yaw, pitch)
    scale = picture_scale(lm, sizes, world)
    usable = np.isfinite(world).all(axis=(1, 2)) & np.isfinite(scale) & (scale > MIN_VIEW_SCALE)
    idx = np.flatnonzero(usable)
    if not rotations or not len(idx):
        return Views(np.empty((0, N_LANDMARKS, 4), lm.dtype), np.empty((0, N_LANDMARKS, 3)),
                     np.empty(0, dtype=np.intp))
    made = [rotated_view(lm[idx], sizes[idx], world[idx], scale[idx], y, p)
            for y, p in rotations]
    # (n_views, k, ...) -> (k, n_views, ...): the views of one pose stay together
    pics = np.stack([m[0] for m in made], axis=1).reshape(-1, N_LANDMARKS, 4)
    worlds = np.stack([m[1] for m in made], axis=1).reshape(-1, N_LANDMARKS, 3)
    return Views(pics, worlds, np.repeat(idx, len(rotations)))
