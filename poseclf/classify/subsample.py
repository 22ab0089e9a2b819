"""Training sets bounded in size: a large table is thinned to evenly spaced poses per class.

Training and calibration cost grows with the square of the training set (SVM, the k-NN's and
the novelty score's nearest neighbours), and a table of every frame of an hour of video holds
100,000 poses that differ little from their neighbours. Above ``max_poses``, each class keeps an
equal share of the budget (a class with fewer poses keeps them all and leaves the rest to the
others), taken evenly spaced in table order, so every part of every video (and every source)
stays represented. Deterministic: the same table gives the same sample.
"""

from __future__ import annotations

import numpy as np

from .defaults import DEFAULT_MAX_POSES as DEFAULT_MAX_POSES  # --help shows it without NumPy


def class_quotas(counts: dict[str, int], max_poses: int) -> dict[str, int]:
    """Poses kept per class: equal shares of ``max_poses``, small classes keeping all theirs."""
    if max_poses < len(counts):
        raise ValueError(f"max_poses={max_poses} is fewer than the {len(counts)} classes")
    quotas: dict[str, int] = {}
    left, budget = sorted(counts, key=lambda c: (counts[c], c)), max_poses
    while left:
        share = budget // len(left)
        name = left[0]
        if counts[name] <= share:  # the smallest class fits: it keeps all
            quotas[name] = counts[name]
            budget -= counts[name]
            left.pop(0)
            continue
        extra = budget - share * len(left)  # the remainder goes to the largest classes
        for i, rest in enumerate(left):
            quotas[rest] = share + (1 if i >= len(left) - extra else 0)
        break
    return quotas


def subsample_indices(labels, max_poses: int | None) -> np.ndarray:
    """Sorted row indices of at most ``max_poses`` rows, evenly spaced within each class.

    ``None`` or a table no larger than ``max_poses`` keeps every row.
    """
    labels = np.asarray(labels)
    if max_poses is None or len(labels) <= max_poses:
        return np.arange(len(labels))
    names, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quotas = class_quotas({str(n): int(c) for n, c in zip(names, counts, strict=True)},
                          max_poses)
    keep = []
    for code, name in enumerate(names):
        rows = np.flatnonzero(inverse == code)
        quota = quotas[str(name)]
        picks = np.floor((np.arange(quota) + 0.5) * len(rows) / quota).astype(int)
        keep.append(rows[picks])
    return np.sort(np.concatenate(keep))
