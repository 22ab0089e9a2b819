"""Nearest-neighbour distances of the novelty score, and the mirror images it rebuilds.

:func:`mean_nearest_distance` is the arithmetic of every novelty rule (float64, blocked so that
a large query never builds a huge matrix); :func:`mirror_map` finds the column map that turns a
pose's features into its mirror image's, so model files need not keep the mirror images;
:class:`FoldReference` is one calibration fold's reference set for ``cross_val_predict``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .pruned_search import ProjectedReferences, worth_pruning

_BLOCK_ELEMENTS = 1 << 20  # query x reference distances computed per block (8 MB float64)
#: The mirror images of the reference poses are not saved when they are the poses' own features
#: with the columns swapped and some negated (left and right exchanged, x directions flipped),
#: to within this in scaled units (float32 rounding leaves ~1e-6; thresholds are ~1): the file
#: keeps the column map (:attr:`NoveltyScorer.mirror_columns_`) and loading rebuilds them.
MIRROR_TOLERANCE = 1e-4
_MIRROR_PROBE_ROWS = 256  # rows on which the candidate column map is found (then checked on all)
#: Queries up to this many are searched one by one in a pruned reference set (a video frame);
#: larger batches compare with every reference in one matrix product, which is then faster.
PRUNED_MAX_QUERIES = 16

def scale_rows(X: np.ndarray, center: np.ndarray, scale: float) -> np.ndarray:
    return ((X - center) / scale).astype(np.float32)


def mirror_map(poses: np.ndarray, mirrors: np.ndarray,
               tolerance: float = MIRROR_TOLERANCE) -> tuple[np.ndarray, np.ndarray] | None:
    """Columns and signs with ``mirrors ~ poses[:, columns] * signs`` for every row (to within
    ``tolerance``), or None when the features of a mirror image are not such a signed
    permutation of the pose's."""
    if poses.shape != mirrors.shape or not len(poses):
        return None
    probe = np.unique(np.linspace(0, len(poses) - 1, _MIRROR_PROBE_ROWS).astype(int))
    a, b = poses[probe], mirrors[probe]
    columns = np.empty(poses.shape[1], dtype=np.int32)
    signs = np.empty(poses.shape[1], dtype=np.float32)
    for j in range(poses.shape[1]):
        same = np.abs(b[:, j, None] - a).max(axis=0)
        flipped = np.abs(b[:, j, None] + a).max(axis=0)
        k_same, k_flipped = int(np.argmin(same)), int(np.argmin(flipped))
        if same[k_same] <= flipped[k_flipped]:
            columns[j], signs[j] = k_same, 1.0
        else:
            columns[j], signs[j] = k_flipped, -1.0
    if np.abs(poses[:, columns] * signs - mirrors).max() > tolerance:
        return None
    return columns, signs


def with_mirrors(poses: np.ndarray, columns: np.ndarray | None,
                  signs: np.ndarray | None) -> np.ndarray:
    """Stored reference poses and, with a column map, their rebuilt mirror images after them."""
    if columns is None:
        return poses
    return np.concatenate([poses, (poses[:, columns] * signs).astype(poses.dtype)])


def mean_nearest_distance(Q: np.ndarray, ref: np.ndarray, n_neighbors: int,
                          ref_sq: np.ndarray | None = None,
                          pruned: ProjectedReferences | None = None) -> np.ndarray:
    """Mean of the ``n_neighbors`` smallest RMS feature distances from each query to ``ref``.

    Squared distances as ``|q|^2 + |r|^2 - 2 q.r`` (one matrix product) in float64, whatever
    the inputs' type: in float32 the cancellation leaves errors of ~1e-4 that differ with the
    CPU's BLAS kernel, so a model's novelty would depend on the machine. ``ref_sq``: the
    precomputed ``|r|^2`` of ``ref`` (then ``ref`` should be float64 already). ``pruned``: the
    same reference set as :class:`ProjectedReferences`, which a few queries (one video frame)
    search instead of comparing with every reference.
    """
    k = min(int(n_neighbors), len(ref))
    if pruned is not None and len(Q) <= PRUNED_MAX_QUERIES:
        nearest = [pruned.smallest_sq(q, k) for q in np.asarray(Q, dtype=np.float64)]
        return _mean_rms(np.array(nearest).reshape(len(Q), k), Q.shape[1])
    ref = np.asarray(ref, dtype=np.float64)
    if ref_sq is None:
        ref_sq = np.einsum("ij,ij->i", ref, ref)
    out = np.empty(len(Q))
    block = max(1, _BLOCK_ELEMENTS // max(1, len(ref)))
    for start in range(0, len(Q), block):
        q = np.asarray(Q[start:start + block], dtype=np.float64)
        sq = np.einsum("ij,ij->i", q, q)[:, None] + ref_sq[None] - 2.0 * (q @ ref.T)
        nearest = np.partition(sq, k - 1, axis=1)[:, :k] if k < len(ref) else sq
        out[start:start + block] = _mean_rms(nearest, Q.shape[1])
    return out


def _mean_rms(nearest_sq: np.ndarray, n_features: int) -> np.ndarray:
    """Mean over each row of the RMS feature distances whose squares are ``nearest_sq``
    (``sum / k``: ``ndarray.mean``'s arithmetic without its ~10 us of bookkeeping)."""
    rms = np.sqrt(np.maximum(nearest_sq, 0.0) / n_features)
    return rms.sum(axis=1) / rms.shape[1]


def squares(ref: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", ref, ref)


def searchable(ref: np.ndarray, ref_sq: np.ndarray) -> ProjectedReferences | None:
    """The pruned search of a large float64 reference set (None below
    :data:`~poseclf.classify.pruned_search.PRUNE_MIN_REFERENCES` poses)."""
    return ProjectedReferences(ref, ref_sq) if worth_pruning(len(ref)) else None


class FoldReference(BaseEstimator):
    """One calibration fold's reference set (its poses and their mirror images), scaled as the
    whole training set is; ``predict`` scores the held-out poses against it. Used by
    :meth:`~poseclf.classify.novelty.NoveltyScorer.fit` through ``cross_val_predict``; never
    saved."""

    def __init__(self, center=None, scale: float = 1.0, n_neighbors: int = 5):
        self.center = center
        self.scale = scale
        self.n_neighbors = n_neighbors

    def fit(self, X, y=None, X_mirror=None) -> FoldReference:
        ref = X if X_mirror is None else np.concatenate([X, X_mirror])
        self.reference_ = scale_rows(ref, self.center, self.scale)
        return self

    def predict(self, X) -> np.ndarray:
        """Novelty of each held-out pose (what ``cross_val_predict`` collects)."""
        return mean_nearest_distance(scale_rows(X, self.center, self.scale), self.reference_,
                                     self.n_neighbors)
