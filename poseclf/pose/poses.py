"""A batch of poses: the arrays every stage after extraction works on, and the table rows.

:class:`Poses` holds ``n`` poses as three arrays (landmarks, world landmarks, image sizes).
It is made from :class:`~poseclf.pose.landmarks.Pose` objects (``None`` for "nobody found"), from a
landmark table, or sliced from another batch, and it writes the landmark columns of table rows.
It is the one place that knows how a pose is laid out in a table row; a new per-pose column
touches this module and :mod:`poseclf.pose.table` only.

Imports: NumPy, :mod:`poseclf.pose.landmarks` and :mod:`poseclf.pose.table` (the column
names); pandas only in :meth:`Poses.to_table`, so that ``poseclf stats`` reads a table without it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .landmarks import LANDMARK_DIMS, N_LANDMARKS, WORLD_DIMS, Pose
from .table import LANDMARK_COLUMNS, META_COLUMNS, TABLE_COLUMNS, WORLD_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

_N_IMAGE = N_LANDMARKS * LANDMARK_DIMS


@dataclass(frozen=True)
class Poses:
    """``n`` poses as arrays; a missing pose or missing world landmarks are NaN.

    Attributes
    ----------
    landmarks : ndarray of shape (n, 33, 4), float32
        x, y normalised to the image, z on the scale of x, visibility (see :class:`Pose`).
    world_landmarks : ndarray of shape (n, 33, 3), float32
        Metric 3D landmarks; NaN rows where the backend gave none.
    image_sizes : ndarray of shape (n, 2), float32
        (width, height) in pixels of each pose's image; 0 for an unreadable image.

    Examples
    --------
    >>> import numpy as np
    >>> poses = Poses(np.zeros((3, 33, 4)), image_sizes=[[640, 480]] * 3)
    >>> len(poses), poses.has_world.tolist()
    (3, [False, False, False])
    >>> len(poses[np.array([True, False, True])])
    2
    """

    landmarks: np.ndarray
    world_landmarks: np.ndarray | None = None
    image_sizes: np.ndarray | None = None

    def __post_init__(self) -> None:
        lm = np.asarray(self.landmarks, dtype=np.float32)
        if lm.ndim == 2 and lm.shape[1] == _N_IMAGE:
            lm = lm.reshape(len(lm), N_LANDMARKS, LANDMARK_DIMS)
        if lm.ndim != 3 or lm.shape[1:] != (N_LANDMARKS, LANDMARK_DIMS):
            raise ValueError(f"landmarks must have shape (n, {N_LANDMARKS}, {LANDMARK_DIMS}), "
                             f"got {lm.shape}")
        n = len(lm)
        if self.world_landmarks is None:
            world = np.full((n, N_LANDMARKS, WORLD_DIMS), np.nan, np.float32)
        else:
            world = np.asarray(self.world_landmarks, dtype=np.float32)
        if world.shape != (n, N_LANDMARKS, WORLD_DIMS):
            raise ValueError(f"world_landmarks must have shape ({n}, {N_LANDMARKS}, "
                             f"{WORLD_DIMS}), got {world.shape}")
        if self.image_sizes is None:
            sizes = np.ones((n, 2), np.float32)  # the landmarks' own square: no aspect correction
        else:
            sizes = np.asarray(self.image_sizes, dtype=np.float32)
        if sizes.shape != (n, 2):
            raise ValueError(f"image_sizes must have shape ({n}, 2) (width, height), "
                             f"got {sizes.shape}")
        object.__setattr__(self, "landmarks", lm)
        object.__setattr__(self, "world_landmarks", world)
        object.__setattr__(self, "image_sizes", sizes)

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def empty(cls) -> Poses:
        """A batch of no poses."""
        return cls(np.zeros((0, N_LANDMARKS, LANDMARK_DIMS), np.float32))

    @classmethod
    def from_poses(cls, poses: Sequence[Pose | None],
                   image_sizes: Sequence[tuple[int, int]] | None = None) -> Poses:
        """Stack single poses; ``None`` (nobody found) gives a NaN pose of size ``image_sizes[i]``
        (or 0 x 0 when no sizes are given)."""
        n = len(poses)
        lm = np.full((n, N_LANDMARKS, LANDMARK_DIMS), np.nan, np.float32)
        world = np.full((n, N_LANDMARKS, WORLD_DIMS), np.nan, np.float32)
        sizes = np.zeros((n, 2), np.float32)
        if image_sizes is not None:
            sizes[:] = np.asarray(image_sizes, dtype=np.float32).reshape(n, 2)
        for i, pose in enumerate(poses):
            if pose is None:
                continue
            lm[i] = pose.landmarks
            sizes[i] = pose.image_size
            if pose.world_landmarks is not None:
                world[i] = pose.world_landmarks
        return cls(lm, world, sizes)

    @classmethod
    def from_table(cls, df: pd.DataFrame) -> Poses:
        """Every row of a checked landmark table (:func:`poseclf.pose.table.check_table`)."""
        n = len(df)
        lm = df[list(LANDMARK_COLUMNS)].to_numpy(dtype=np.float32)
        world = df[list(WORLD_COLUMNS)].to_numpy(dtype=np.float32)
        return cls(lm.reshape(n, N_LANDMARKS, LANDMARK_DIMS),
                   world.reshape(n, N_LANDMARKS, WORLD_DIMS),
                   df[["width", "height"]].to_numpy(dtype=np.float32))

    # -- a sequence of poses --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.landmarks)

    def __getitem__(self, index) -> Poses:
        """The poses at ``index`` (a boolean mask, integer positions or a slice) as a batch."""
        if isinstance(index, (int, np.integer)):
            index = [index]
        return Poses(self.landmarks[index], self.world_landmarks[index], self.image_sizes[index])

    def __iter__(self) -> Iterator[Pose | None]:
        return (self.pose(i) for i in range(len(self)))

    def pose(self, i: int) -> Pose | None:
        """The ``i``-th pose as a :class:`Pose` (``None`` where nothing was found)."""
        if not self.detected[i] or not (self.image_sizes[i] > 0).all():
            return None
        world = self.world_landmarks[i] if self.has_world[i] else None
        return Pose(self.landmarks[i], world, tuple(int(v) for v in self.image_sizes[i]))

    # -- what each pose has ----------------------------------------------------------------------
    @property
    def detected(self) -> np.ndarray:
        """(n,) bool: the pose has finite landmarks (a person was found)."""
        return np.isfinite(self.landmarks).all(axis=(1, 2))

    @property
    def has_world(self) -> np.ndarray:
        """(n,) bool: the pose has finite world landmarks."""
        return np.isfinite(self.world_landmarks).all(axis=(1, 2))

    def world_or_none(self) -> np.ndarray | None:
        """The world landmarks when at least one pose has them, else ``None``."""
        return self.world_landmarks if self.has_world.any() else None

    def mirrored(self) -> Poses:
        """The poses of the horizontally flipped images (left and right swapped)."""
        from .landmarks import MIRROR_PERMUTATION

        order = list(MIRROR_PERMUTATION)
        lm = self.landmarks[:, order].copy()
        lm[..., 0] = 1.0 - lm[..., 0]
        world = self.world_landmarks[:, order].copy()
        world[..., 0] = -world[..., 0]
        return Poses(lm, world, self.image_sizes.copy())

    # -- table rows -----------------------------------------------------------------------------
    def to_table(self, path: Sequence[str], label: Sequence[str], reason: Sequence[str],
                 extra: Mapping[str, object] | pd.DataFrame | None = None) -> pd.DataFrame:
        """Table rows of these poses: the schema's columns in order, then ``extra`` columns.

        ``detected`` is True where ``reason`` is empty; width and height are the image sizes.
        """
        import pandas as pd

        n = len(self)
        reason = [str(r) for r in reason]
        head = pd.DataFrame({
            "path": pd.Series(list(path), dtype=object),
            "label": pd.Series(list(label), dtype=object),
            "width": self.image_sizes[:, 0].astype(np.int64),
            "height": self.image_sizes[:, 1].astype(np.int64),
            "detected": np.array([r == "" for r in reason], dtype=bool),
            "reason": pd.Series(reason, dtype=object),
        }, columns=list(META_COLUMNS))
        if len(head) != n:
            raise ValueError(f"{n} poses but {len(head)} paths, labels and reasons")
        values = np.concatenate([self.landmarks.reshape(n, len(LANDMARK_COLUMNS)),
                                 self.world_landmarks.reshape(n, len(WORLD_COLUMNS))], axis=1)
        body = pd.DataFrame(values, columns=list(LANDMARK_COLUMNS + WORLD_COLUMNS))
        parts = [head, body]
        if extra is not None:
            parts.append(pd.DataFrame(extra, index=range(n)) if not isinstance(
                extra, pd.DataFrame) else extra.reset_index(drop=True))
        table = pd.concat(parts, axis=1)
        assert tuple(table.columns[: len(TABLE_COLUMNS)]) == TABLE_COLUMNS
        return table


def training_arrays(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detected rows only: landmarks (n, 33, 4), image sizes (n, 2), labels (n,)."""
    kept = df[df["detected"]]
    poses = Poses.from_table(kept)
    return poses.landmarks, poses.image_sizes, kept["label"].to_numpy(dtype=object)


def training_world_landmarks(df: pd.DataFrame) -> np.ndarray:
    """World landmarks (n, 33, 3) of the rows :func:`training_arrays` returns (NaN if absent)."""
    return Poses.from_table(df[df["detected"]]).world_landmarks
