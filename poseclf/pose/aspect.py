"""Picture aspect from the poses: was a table's picture resized without keeping its aspect?

A photo squashed to a square (a 3:4 portrait stored as 299x299) stretches everyone in it. The
picture alone cannot tell, and fitting the image landmarks to BlazePose's world landmarks with
separate x and y scales does not either: the network predicts the world landmarks from the same
stretched picture, so they follow it (that fit moved by 6% for a 30% stretch).

Body proportions tell it better: in an upright pose whose shoulders (or hips) face the camera,
the horizontal shoulder and hip widths over the torso length, in pixels, are about the same for
every adult. :func:`pose_aspect_ratios` gives, per pose, that ratio over its median in unresized
photos (:data:`REFERENCE_WIDTHS`): about 1 for an unresized picture, above 1 for one stretched
horizontally, below 1 for one squashed; other poses give NaN (the world landmarks choose the
poses: they say upright and frontal independently of the picture's scale). BlazePose's keypoints
follow a stretch only in part: 40 RHPR photos stretched 1.3x gave per-pose ratios 1.16x those of
the originals, squashed 1/1.3x gave 0.83x, so the ratio understates the factor (about its 0.6th
power). One pose says little (builds, clothes and view differ: about +-10% between the
quartiles); the median over a table's poses (:func:`estimate_aspect`) is what ``poseclf stats``
reports. :func:`correct_aspect` gives a table whose rows describe the pictures at their original
aspect (a given or estimated factor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .landmarks import PoseLandmark

if TYPE_CHECKING:
    import pandas as pd

    from .poses import Poses

#: Median horizontal width over torso length (pixels; upright and frontal poses) of the
#: shoulders and of the hips in the development tables whose pictures keep their aspect
#: (yoga_manoj, yoga_marchenkova, sitstand_rhpr: 313 poses; the tables' own medians are
#: 0.97-1.05 of these).
REFERENCE_WIDTHS = {"shoulders": 0.654, "hips": 0.380}
_SEGMENTS = {"shoulders": (PoseLandmark.LEFT_SHOULDER, PoseLandmark.RIGHT_SHOULDER),
             "hips": (PoseLandmark.LEFT_HIP, PoseLandmark.RIGHT_HIP)}
UPRIGHT_MIN = 0.9  # |vertical| / length of the torso (hip centre to shoulder centre)
FRONTAL_MIN = 0.85  # |horizontal| / length of the shoulder or hip segment
MIN_POSES = 20  # fewer usable poses: no verdict on the table
RESIZED_OFF_BY = 0.1  # a median ratio this far from 1 (10%) counts as resized
ASPECT_LIMITS = (0.25, 4.0)  # factors the correction accepts


def pose_aspect_ratios(landmarks: np.ndarray, world: np.ndarray,
                       image_sizes: np.ndarray) -> np.ndarray:
    """Per pose, how much wider than normal its body is in the picture (from proportions).

    Parameters
    ----------
    landmarks : array of shape (n, 33, 4)
        BlazePose image landmarks (x, y normalised to the picture).
    world : array of shape (n, 33, 3)
        BlazePose world landmarks (metres; x to the right, y down): pick the upright poses
        whose shoulders or hips face the camera.
    image_sizes : array of shape (n, 2)
        Picture (width, height) in pixels.

    Returns
    -------
    ndarray of shape (n,)
        About 1 for a picture shown at its true aspect, above 1 for one stretched horizontally,
        below 1 for one squashed. NaN where the pose is not upright, faces neither shoulders
        nor hips to the camera, or has no world landmarks.
    """
    lm = np.asarray(landmarks, dtype=np.float64).reshape(-1, 33, 4)
    w = np.asarray(world, dtype=np.float64).reshape(-1, 33, 3)
    sizes = np.asarray(image_sizes, dtype=np.float64).reshape(-1, 2)
    if not len(lm) == len(w) == len(sizes):
        raise ValueError(f"{len(lm)} poses, {len(w)} world landmark sets, {len(sizes)} sizes")
    px = lm[:, :, :2] * sizes[:, None, :]
    sh, hp = list(_SEGMENTS["shoulders"]), list(_SEGMENTS["hips"])
    torso = w[:, sh].mean(axis=1) - w[:, hp].mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        upright = np.abs(torso[:, 1]) >= UPRIGHT_MIN * np.linalg.norm(torso, axis=1)
        torso_px = np.linalg.norm(px[:, sh].mean(axis=1) - px[:, hp].mean(axis=1), axis=1)
        ratios = []
        for name, (a, b) in _SEGMENTS.items():
            seg = w[:, b] - w[:, a]
            frontal = np.abs(seg[:, 0]) >= FRONTAL_MIN * np.linalg.norm(seg, axis=1)
            ratio = np.abs(px[:, b, 0] - px[:, a, 0]) / torso_px / REFERENCE_WIDTHS[name]
            ratios.append(np.where(upright & frontal & (torso_px > 0), ratio, np.nan))
        both = np.stack(ratios, axis=1)
        usable = np.isfinite(both)
        total = np.where(usable, both, 0.0).sum(axis=1)
        count = usable.sum(axis=1)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass(frozen=True)
class AspectEstimate:
    """A table's estimated picture aspect: median and quartiles of the per-pose ratios."""

    median: float
    q25: float
    q75: float
    n_used: int  # poses that gave a ratio (upright, frontal)
    n_poses: int  # detected poses

    @property
    def known(self) -> bool:
        """Enough poses for a verdict (:data:`MIN_POSES`)."""
        return self.n_used >= MIN_POSES

    @property
    def looks_resized(self) -> bool:
        """The median is at least :data:`RESIZED_OFF_BY` from 1 and rests on enough poses."""
        return self.known and abs(self.median - 1.0) >= RESIZED_OFF_BY

    def __str__(self) -> str:
        if not self.n_used:
            return f"no upright frontal pose among {self.n_poses}"
        return (f"{self.median:.2f} (quartiles {self.q25:.2f}-{self.q75:.2f}, "
                f"{self.n_used} of {self.n_poses} poses)")


def estimate_aspect(df: pd.DataFrame) -> AspectEstimate:
    """The picture aspect of a checked landmark table's detected rows (:class:`AspectEstimate`)."""
    from .poses import Poses

    return estimate_poses_aspect(Poses.from_table(df[df["detected"].astype(bool)]))


def estimate_poses_aspect(poses: Poses) -> AspectEstimate:
    """The picture aspect of a table's detected poses (:class:`AspectEstimate`)."""
    ratios = pose_aspect_ratios(poses.landmarks, poses.world_landmarks, poses.image_sizes)
    ratios = ratios[np.isfinite(ratios)]
    if not len(ratios):
        return AspectEstimate(np.nan, np.nan, np.nan, 0, len(poses))
    q25, median, q75 = np.percentile(ratios, [25, 50, 75])
    return AspectEstimate(float(median), float(q25), float(q75), len(ratios), len(poses))


def check_aspect_factor(factor: float) -> float:
    """``factor`` as a float in :data:`ASPECT_LIMITS`, else ValueError with the reason."""
    try:
        value = float(factor)
    except (TypeError, ValueError):
        raise ValueError(f"aspect factor must be a number, got {factor!r}") from None
    low, high = ASPECT_LIMITS
    if not np.isfinite(value) or not low <= value <= high:
        raise ValueError(f"aspect factor must be between {low} and {high} "
                         f"(horizontal over vertical stretch, 1 = none), got {factor!r}")
    return value


def correct_aspect(df: pd.DataFrame, factor: float | None = None) -> tuple[pd.DataFrame, float]:
    """The table's rows as if their pictures had not been stretched ``factor`` times
    horizontally: ``width / factor`` in whole pixels (x stays normalised to the picture, so the
    pixel x of every landmark shrinks by ``factor``; world landmarks are left as they are, they
    follow the stretch only a little).

    ``factor=None`` uses the table's :func:`estimate_aspect` median, or 1 (no change) when the
    table has too few usable poses. Returns the corrected copy and the factor applied.
    """
    if factor is None:
        estimate = estimate_aspect(df)
        factor = estimate.median if estimate.known else 1.0
    factor = check_aspect_factor(factor)
    out = df.copy()
    if factor != 1.0:
        width = out["width"].to_numpy(np.float64)
        out["width"] = np.where(width > 0, np.maximum(np.round(width / factor), 1),
                                0).astype(np.int64)
    return out, factor
