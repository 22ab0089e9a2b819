"""Pose rows: the one array :class:`~poseclf.classify.pose_classifier.PoseClassifier` takes.

A pose row holds one pose: the 132 image landmark values and the image width and height
(:func:`~poseclf.classify.embedding.pose_matrix`), then the 99 world landmark values, NaN when the
pose has none. :func:`pose_rows` builds them; :func:`check_rows` validates them as an estimator
does; the other functions take the parts back out.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import sparse

from ..pose.landmarks import LANDMARK_DIMS, N_LANDMARKS, WORLD_DIMS
from .embedding import pose_matrix

log = logging.getLogger(__name__)

N_IMAGE_COLUMNS = N_LANDMARKS * LANDMARK_DIMS + 2  # landmarks, then image width and height
N_WORLD_COLUMNS = N_LANDMARKS * WORLD_DIMS
N_POSE_COLUMNS = N_IMAGE_COLUMNS + N_WORLD_COLUMNS


def pose_rows(landmarks, image_sizes=None, world_landmarks=None) -> np.ndarray:
    """The ``(n, 233)`` float64 input of :class:`PoseClassifier`.

    Columns: :func:`~poseclf.classify.embedding.pose_matrix` (132 landmarks, width, height), then
    the ``(n, 33, 3)`` world landmarks flattened (NaN where ``world_landmarks`` is None or NaN).
    """
    image = pose_matrix(landmarks, image_sizes).astype(np.float64)
    if world_landmarks is None:
        world = np.full((len(image), N_WORLD_COLUMNS), np.nan)
    else:
        given = np.asarray(world_landmarks, dtype=np.float64)
        if given.shape != (len(image), N_LANDMARKS, WORLD_DIMS):
            raise ValueError(f"world_landmarks must have shape ({len(image)}, {N_LANDMARKS}, "
                             f"{WORLD_DIMS}), got {given.shape}")
        world = given.reshape(len(image), N_WORLD_COLUMNS)
    return np.concatenate([image, world], axis=1)


def check_rows(X) -> np.ndarray:
    """Pose rows as a 2-D float64 array of 233 (or, without world landmarks, 134) columns;
    the image columns finite (world columns are NaN for poses without world landmarks)."""
    if sparse.issparse(X):
        raise TypeError("sparse input is not supported: pose rows are a dense array (make "
                        "them with poseclf.classify.pose_rows.pose_rows)")
    if np.iscomplexobj(X):
        raise ValueError("Complex data not supported: pose rows are real numbers")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] not in (N_POSE_COLUMNS, N_IMAGE_COLUMNS):
        raise ValueError(f"pose rows must have shape (n, {N_POSE_COLUMNS}) (or (n, "
                         f"{N_IMAGE_COLUMNS}) without world landmarks), got {X.shape}; make "
                         "them with poseclf.classify.pose_rows.pose_rows")
    if not np.isfinite(X[:, :N_IMAGE_COLUMNS]).all():
        raise ValueError("Input contains NaN or infinity in the image landmark columns: give "
                         "detected poses only")
    return X


def image_matrix(X: np.ndarray) -> np.ndarray:
    """The :func:`~poseclf.classify.embedding.pose_matrix` part (float32, as the embedder was
    fitted)."""
    return X[:, :N_IMAGE_COLUMNS].astype(np.float32)


def row_landmarks(X: np.ndarray) -> np.ndarray:
    return X[:, :N_IMAGE_COLUMNS - 2].astype(np.float32).reshape(-1, N_LANDMARKS, LANDMARK_DIMS)


def row_world(X: np.ndarray) -> np.ndarray:
    return X[:, N_IMAGE_COLUMNS:].reshape(-1, N_LANDMARKS, WORLD_DIMS)


def usable_world(X: np.ndarray) -> np.ndarray | None:
    """Training world landmarks when every row has them, else None (image-only novelty)."""
    if X.shape[1] != N_POSE_COLUMNS:
        return None
    world = row_world(X)
    finite = np.isfinite(world).all(axis=(1, 2))
    if finite.all():
        return world
    if finite.any():
        log.warning("%d of %d training poses have no world landmarks: novelty uses the image "
                    "landmarks only", int((~finite).sum()), len(X))
    return None
