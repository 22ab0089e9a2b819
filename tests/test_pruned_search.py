"""The pruned nearest-neighbour searches give the brute-force answers (one pose in a large set)."""

from __future__ import annotations

import numpy as np
import pytest

from poseclf.classify.classifiers import PoseKNNClassifier
from poseclf.classify.nearest import mean_nearest_distance, searchable, squares
from poseclf.classify.novelty import NoveltyScorer
from poseclf.classify.pruned_search import (
    PRUNE_MIN_REFERENCES,
    PRUNE_MIN_TRAINING_POSES,
    CoordinateBound,
    ProjectedReferences,
    smallest_indices,
)


def clustered(n: int, d: int, seed: int, clusters: int = 12) -> np.ndarray:
    """Poses-like data: a few clusters along correlated directions, plus noise."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(6, d))
    centres = rng.normal(size=(clusters, 6)) * 3
    members = centres[rng.integers(0, clusters, n)] + rng.normal(size=(n, 6))
    return members @ mixing + rng.normal(scale=0.3, size=(n, d))


#: Distances are |q|^2 + |r|^2 - 2 q.r in float64 in both searches: at a distance of 0 the
#: cancellation leaves ~1e-13 in the square, ~1e-8 after the square root, whichever search.
ATOL = 1e-7


def queries(ref: np.ndarray, seed: int) -> np.ndarray:
    """Near a reference, between clusters, and far from everything."""
    rng = np.random.default_rng(seed)
    near = ref[rng.integers(0, len(ref), 20)] + rng.normal(scale=0.05, size=(20, ref.shape[1]))
    between = rng.normal(size=(10, ref.shape[1])) * ref.std(axis=0) + ref.mean(axis=0)
    far = rng.normal(size=(5, ref.shape[1])) * 50
    return np.concatenate([near, between, far, ref[:3]])  # ref[:3]: a distance of 0


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("k", [1, 5, 17])
@pytest.mark.parametrize("shape", ["clustered", "isotropic"])
def test_projected_references_find_the_k_smallest_squared_distances(seed, k, shape):
    """Isotropic data: the first axes hold half the spread, the bound is loose and many
    references must be checked beyond the first few."""
    ref = (clustered(5000, 60, seed) if shape == "clustered"
           else np.random.default_rng(seed).normal(size=(5000, 60)))
    pruned = ProjectedReferences(ref)
    for q in queries(ref, seed + 10):
        brute = np.sort(((ref - q) ** 2).sum(axis=1))[:k]
        np.testing.assert_allclose(np.sort(pruned.smallest_sq(q, k)), brute,
                                   rtol=1e-9, atol=1e-9)


def test_mean_nearest_distance_is_the_same_with_the_pruned_search():
    ref = clustered(PRUNE_MIN_REFERENCES + 500, 40, 3)
    ref_sq = squares(ref)
    pruned = searchable(ref, ref_sq)
    assert isinstance(pruned, ProjectedReferences)
    assert searchable(ref[:100], ref_sq[:100]) is None  # small sets: brute force
    Q = queries(ref, 4)
    one_by_one = np.concatenate([mean_nearest_distance(Q[i:i + 1], ref, 5, ref_sq, pruned)
                                 for i in range(len(Q))])
    np.testing.assert_allclose(one_by_one, mean_nearest_distance(Q, ref, 5, ref_sq),
                               rtol=1e-10, atol=ATOL)
    # a few rows at once use it too
    np.testing.assert_allclose(mean_nearest_distance(Q[:7], ref, 5, ref_sq, pruned),
                               one_by_one[:7], rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("k", [1, 30])
def test_coordinate_bound_finds_the_k_smallest_maximum_distances(seed, k):
    train = clustered(6000, 50, seed).astype(np.float32)
    train_t = np.ascontiguousarray(train.T)
    bound = CoordinateBound(train_t)
    for q in queries(train, seed + 20).astype(np.float32):
        mirrored = q[::-1].copy()  # any second query: the nearest of the two counts
        pair = np.stack([q, mirrored])
        brute = np.minimum(np.abs(train - q).max(axis=1), np.abs(train - mirrored).max(axis=1))
        found, distances = bound.nearest(pair, k)
        np.testing.assert_array_equal(found, np.argsort(brute, kind="stable")[:k])
        np.testing.assert_array_equal(distances, brute[found])


def test_coordinate_bound_keeps_the_lower_indices_of_equally_near_references():
    """Repeated training poses (the same frame twice) are at equal distances: of those at the
    cut, the lower indices are kept, as a stable sort of every distance keeps them."""
    rng = np.random.default_rng(3)
    train = np.repeat(clustered(1500, 40, 3).astype(np.float32), 4, axis=0)[rng.permutation(6000)]
    bound = CoordinateBound(np.ascontiguousarray(train.T))
    for q in train[:10] + np.float32(0.01):
        brute = np.abs(train - q).max(axis=1)
        for k in (1, 3, 30):
            found, _ = bound.nearest(q[None], k)
            np.testing.assert_array_equal(found, np.argsort(brute, kind="stable")[:k])


@pytest.mark.parametrize("n", [PRUNE_MIN_TRAINING_POSES, PRUNE_MIN_REFERENCES + 1000])
def test_knn_neighbours_are_those_of_the_whole_comparison(n):
    """In a large training set each pose takes the pruned stage 1: the same neighbours, the
    same distances and votes as comparing with every training pose."""
    X = clustered(n, 30, 5)
    X[len(X) // 2:] = X[:len(X) - len(X) // 2]  # every pose twice: equal distances at the cuts
    y = np.random.default_rng(5).integers(0, 5, len(X))
    knn = PoseKNNClassifier().fit(X, y)
    arrays = knn._search_arrays()
    assert arrays["bound"] is not None
    Q = queries(X, 6)
    pruned_d, pruned_i = knn.kneighbors(Q)
    pruned_proba = knn.predict_proba(Q)
    arrays["bound"] = None  # the whole comparison
    whole_d, whole_i = knn.kneighbors(Q)
    np.testing.assert_array_equal(pruned_i, whole_i)
    np.testing.assert_array_equal(pruned_d, whole_d)
    np.testing.assert_array_equal(pruned_proba, knn.predict_proba(Q))


def test_novelty_of_one_pose_equals_the_batch_novelty_in_a_large_set():
    X = clustered(PRUNE_MIN_REFERENCES + 200, 24, 7)
    y = np.repeat(["a", "b", "c"], len(X) // 3 + 1)[:len(X)]
    scorer = NoveltyScorer().fit(X, y, negatives=clustered(300, 24, 8) + 4.0)
    assert scorer._references()["reference_search"] is not None
    Q = queries(X, 9)
    classes = np.resize(["a", "b", "c"], len(Q))
    one = np.array([scorer.novelty(Q[i:i + 1])[0] for i in range(len(Q))])
    np.testing.assert_allclose(one, scorer.novelty(Q), rtol=1e-10, atol=ATOL)
    one_thresholds = np.array([scorer.thresholds(Q[i:i + 1], classes[i:i + 1])[0]
                               for i in range(len(Q))])
    np.testing.assert_allclose(one_thresholds, scorer.thresholds(Q, classes),
                               rtol=1e-10, atol=ATOL)


@pytest.mark.parametrize("n", [10, 300, 10_000])
@pytest.mark.parametrize("m", [1, 32, 120])
def test_smallest_indices_are_argpartitions_set(n, m):
    """Random values, sorted ones (the sample's cut then keeps few) and many equal values."""
    rng = np.random.default_rng(n + m)
    m = min(m, n)
    for values in (rng.normal(size=n).astype(np.float32), np.sort(rng.random(n)),
                   rng.integers(0, 3, n).astype(np.float32)):
        found = smallest_indices(values, m)
        assert len(found) == len(set(found.tolist())) == m
        np.testing.assert_array_equal(np.sort(values[found]),
                                      np.sort(values[np.argpartition(values, m - 1)[:m]]))
