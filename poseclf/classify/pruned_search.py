"""Exact nearest-neighbour search of one pose in a large reference set, pruned by lower bounds.

A video frame asks for the nearest training poses of one pose. Comparing it with every one of
a few thousand references (a matrix product for the novelty score, a max over every feature
for the k-NN) is most of the time a pose takes once a model has thousands of poses. Both
searches here compare with every reference on a few coordinates first (a lower bound of the
true distance), then compute the true distance of the references the bound cannot rule out.
The answer is the brute-force one: the same k smallest distances (to within float64 rounding
for :class:`ProjectedReferences`; exactly for :class:`CoordinateBound`, whose float32 maxima
involve no sums). Small reference sets keep the brute-force path.
"""

from __future__ import annotations

import numpy as np

#: Reference sets smaller than this are searched by brute force (pruning gains little there;
#: the shipped models have 350-980 references). ``PoseModel.score_pose`` per pose, measured
#: with bench/scale.py and side by side on a busy machine: 13% less time with 4,000 references
#: (the k-NN's 2,000-pose bound and mirror images), 27% less with 10,000 (the SVM's 5,000).
PRUNE_MIN_REFERENCES = 2048
#: The same for the k-NN's :class:`CoordinateBound`, whose answer is exactly the brute-force
#: one whatever the bound: ``PoseKNNClassifier.predict_proba`` per pose, brute force vs pruned,
#: 2,000 training poses 177-204 vs 129-137 us, 976 105-140 vs 100-119 us, 346 68-95 vs 111-124.
PRUNE_MIN_TRAINING_POSES = 1024
#: Principal components of :class:`ProjectedReferences`' bound. Measured on a 20,000-pose
#: reference (153 novelty features) with photos of other sources: 32 components leave a median
#: of 38 references whose true distance must be computed (16: 173; 48: 19).
PROJECTED_COMPONENTS = 32
#: Features of :class:`CoordinateBound`'s bound (those of largest spread). Measured on a
#: 20,000-pose k-NN training set (69 features): 24 leave a median of 56 candidates for 30 places.
#: With the candidates' rows gathered (not their columns), fewer features and more candidates
#: cost less: bench/scale.py's 100k-pose k-NN (4,000 references), 40 poses, best of 3 runs,
#: ``nearest`` per pose: 24 features 186 us, 16 features 143 us (12: 147 us, 8: 238 us), with
#: 2 first references per neighbour sought (4: 152 us).
BOUND_FEATURES = 16
#: References whose true distance is computed first, per neighbour sought (at least 32).
_FIRST_PER_NEIGHBOR = 4
#: The same for :class:`CoordinateBound` (its answer does not depend on it: an exact maximum
#: has no rounding, and the candidates are every reference the bound does not rule out).
_FIRST_PER_NEIGHBOR_MAX = 2
#: :func:`smallest_indices` looks at every this-many-th value first.
_SAMPLE_STEP = 8
#: Relative allowances for rounding: float64 in the true distances, float32 in the projected
#: bound (a float32 dot product of 32 terms errs by < 32 * 6e-8 of |p| |qp|).
_ROUNDING = 1e-9
_ROUNDING_32 = 1e-5


def worth_pruning(n_references: int) -> bool:
    """Whether a set of this many references gets a pruned search (read at each build, so a
    bench can compare with the brute-force search by raising :data:`PRUNE_MIN_REFERENCES`)."""
    return n_references >= PRUNE_MIN_REFERENCES


def worth_pruning_knn(n_training: int) -> bool:
    """:func:`worth_pruning` for the k-NN's training set (:data:`PRUNE_MIN_TRAINING_POSES`)."""
    return n_training >= PRUNE_MIN_TRAINING_POSES


def _first_count(n: int, k: int, per_neighbor: int = _FIRST_PER_NEIGHBOR) -> int:
    return min(n, max(per_neighbor * k, 32))


def smallest_indices(values: np.ndarray, m: int) -> np.ndarray:
    """Indices of the ``m`` smallest of 1-D ``values`` in no order: the set
    ``np.argpartition(values, m - 1)[:m]`` gives, found among the values at most a cut taken
    from every :data:`_SAMPLE_STEP`-th value (which usually keeps ~2 m of them). numpy's
    ``argpartition`` of every value costs ~90 us for 10,000 float32 values, the cut and the
    values below it ~15 us."""
    sample = values[::_SAMPLE_STEP]
    rank = 2 * m // _SAMPLE_STEP
    if rank < len(sample):
        below = np.flatnonzero(values <= np.partition(sample, rank)[rank])
        if len(below) >= m:
            return below[np.argpartition(values[below], m - 1)[:m]]
    return np.argpartition(values, m - 1)[:m]


class ProjectedReferences:
    """Squared Euclidean distances from one query to a fixed reference set, k smallest exactly.

    The bound: the distance between the projections of two points on the reference's first
    principal axes (orthonormal) is at most their distance.

    Parameters
    ----------
    reference : ndarray of shape (n, n_features), float64
    reference_sq : ndarray of shape (n,), optional
        ``|r|^2`` of each reference (computed when not given).
    n_components : int
        Principal axes of the bound.
    """

    def __init__(self, reference: np.ndarray, reference_sq: np.ndarray | None = None,
                 n_components: int = PROJECTED_COMPONENTS):
        self.reference = np.ascontiguousarray(reference, dtype=np.float64)
        self.reference_sq = (np.einsum("ij,ij->i", self.reference, self.reference)
                             if reference_sq is None else reference_sq)
        self.n_components = n_components
        self._largest = float(self.reference_sq.max())
        self._projection: tuple | None = None  # built at the first query (training never asks)

    def _projected(self) -> tuple:
        """Mean, axes, float32 projections, their squares and the largest square."""
        if self._projection is None:
            mean = self.reference.mean(axis=0)
            centred = self.reference - mean
            # eigenvectors of the scatter matrix, largest first (cheaper than an SVD of n rows)
            _, vectors = np.linalg.eigh(centred.T @ centred)
            basis = np.ascontiguousarray(vectors[:, ::-1][:, :min(self.n_components,
                                                                  centred.shape[1])])
            projected = centred @ basis
            squares = np.einsum("ij,ij->i", projected, projected)
            # the bound in float32 (half the memory to read); its rounding is allowed for below
            self._projection = (mean, basis, np.ascontiguousarray(projected, dtype=np.float32),
                                squares.astype(np.float32), float(squares.max()))
        return self._projection

    def _sq(self, q: np.ndarray, q_sq: float, rows: np.ndarray) -> np.ndarray:
        return q_sq + self.reference_sq[rows] - 2.0 * (self.reference[rows] @ q)

    def smallest_sq(self, query: np.ndarray, k: int) -> np.ndarray:
        """The ``k`` smallest squared distances from ``query`` (n_features,), ascending order
        not guaranteed; computed as ``|q|^2 + |r|^2 - 2 q.r`` as the brute-force search does."""
        mean, basis, projected, projected_sq, largest_projected = self._projected()
        q = np.asarray(query, dtype=np.float64)
        q_sq = float(q @ q)
        qp = (q - mean) @ basis
        qp_sq = float(qp @ qp)
        # |p|^2 - 2 p.qp: the projected squared distance minus |qp|^2 (same order)
        bound = projected_sq - 2.0 * (projected @ qp.astype(np.float32))
        m = _first_count(len(bound), k)
        kth = np.partition(self._sq(q, q_sq, smallest_indices(bound, m)), k - 1)[k - 1]
        allowance = (_ROUNDING_32 * (qp_sq + largest_projected)
                     + _ROUNDING * (q_sq + self._largest))
        candidates = np.flatnonzero(bound <= kth - qp_sq + allowance)
        return np.partition(self._sq(q, q_sq, candidates), k - 1)[:k]


class CoordinateBound:
    """Per-feature maximum distances (L-infinity, float32) from one query to a fixed set: the
    indices of the ``k`` smallest, found without computing every reference's maximum.

    The bound: the maximum over a few features is at most the maximum over all of them. The
    features are those whose values spread most over the set.

    Parameters
    ----------
    train_t : ndarray of shape (n_features, n), float32
        The set, one row per feature.
    n_features : int
        Features of the bound.
    train : ndarray of shape (n, n_features), float32, optional
        The same set, one row per reference (the transpose of ``train_t`` is made when not
        given): gathering a few references' rows is several times faster than their columns.
    """

    def __init__(self, train_t: np.ndarray, n_features: int = BOUND_FEATURES,
                 train: np.ndarray | None = None):
        spread = train_t.std(axis=1)
        self.train_t = train_t
        self.train = np.ascontiguousarray(train_t.T) if train is None else train
        self.features = np.sort(np.argsort(-spread, kind="stable")[:n_features])
        self.bound_t = np.ascontiguousarray(train_t[self.features])

    def max_distances(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per-feature maximum distance of references ``rows`` to the nearest of ``queries``
        (m, n_features): the query and its mirror image."""
        diff = np.subtract(queries[:, None, :], self.train[rows][None])
        return np.abs(diff, out=diff).max(axis=2).min(axis=0)

    def nearest(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the ``k`` references with the smallest per-feature maximum distance to
        the nearest of ``queries`` (m, n_features), and those distances, nearest first."""
        n = self.train_t.shape[1]
        q = queries[:, self.features]
        diff = np.subtract(q[:, :, None], self.bound_t[None])
        bound = np.abs(diff, out=diff).max(axis=1).min(axis=0)
        first = smallest_indices(bound, _first_count(n, k, _FIRST_PER_NEIGHBOR_MAX))
        kth = np.partition(self.max_distances(queries, first), k - 1)[k - 1]
        candidates = np.flatnonzero(bound <= kth)
        exact = self.max_distances(queries, candidates)
        # candidates are in index order: of references at equal distance at the cut, the
        # lower indices are kept (a stable sort of every reference's distance would keep them)
        best = np.argsort(exact, kind="stable")[:k]
        return candidates[best], exact[best]
