"""Training and per-pose prediction time against table size, and what thinning costs.

Run from the repository root::

    python bench/scale.py [--sizes 1000,10000,100000] [--classifiers svm,knn]
                          [--compare-at 10000] [--max-poses N]

Builds landmark tables of each size from the shipped training tables (``yoga_manoj``,
``sitstand_rhpr``, ``pushups_visolus``: every detected row, drawn again and again with a little
Gaussian noise on the landmarks, as the frames of a long video are), writes each as CSV and
times (in CPU seconds, one BLAS thread) what ``poseclf train`` does with it by default: reading
the table, 5-fold cross-validation, training with the everyday negatives and calibrating
rejection. Then the per-pose prediction the video loop makes (:meth:`PoseModel.score_pose`:
probabilities, novelty and the whole rejection rule), in ms per pose, on 20 poses of the
training table (a video of the same activity) and 20 photos of other sources, with the pruned
nearest-neighbour search (:mod:`poseclf.classify.pruned_search`, as shipped) and, on a copy of
the same model, comparing with every reference; and the function calls per pose (Python
functions and builtins, as ``cProfile`` counts them, over both sets of poses): the fixed cost
of a pose. Targets (issue 18): 100k poses trained in <= 60 s, <= 1 ms per pose.

``--compare-at N`` also trains on an N-pose table with every pose (``max_poses=None``) and
compares both models on real photos of other sources (``yoga_marchenkova``,
``sitstand_multimediaimg``, ``pushup_video``, classes the training tables share): what the
bound costs in accuracy. Needs only the shipped tables (no ../shared).
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import pickle
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from poseclf.classify import pruned_search
from poseclf.classify.defaults import default_max_poses
from poseclf.classify.model import PoseModel
from poseclf.classify.negatives import everyday_negatives
from poseclf.pose.landmarks import Pose
from poseclf.pose.poses import Poses
from poseclf.pose.table import load_table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_path import per_call_ms  # noqa: E402 (bench/ is not a package)

REPO = Path(__file__).resolve().parents[1]
TRAIN_TABLES = ("yoga_manoj", "sitstand_rhpr", "pushups_visolus")
TEST_TABLES = ("yoga_marchenkova", "sitstand_multimediaimg", "pushup_video")
NOISE = 0.004  # landmark noise (fraction of the picture; world: twice that in metres)
TRAIN_TARGET_S = 60.0
PREDICT_TARGET_MS = 1.0
TARGET_SIZE = 100_000
#: Seconds are CPU seconds of this process (one BLAS thread): on a busy machine, wall time
#: counts the other processes too; on a quiet one the two agree.
CLOCK = time.process_time


def detected_rows(names) -> pd.DataFrame:
    tables = [load_table(REPO / "datasets" / f"{name}.csv") for name in names]
    return pd.concat([t[t["detected"]] for t in tables], ignore_index=True)


def noisy_table(rows: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows drawn from ``rows`` with replacement, landmark columns jittered."""
    rng = np.random.default_rng(seed)
    table = rows.iloc[rng.integers(0, len(rows), n)].reset_index(drop=True)
    table["path"] = [f"{p}#{i}" for i, p in enumerate(table["path"])]
    moving = [c for c in table.columns if c.endswith(("_x", "_y", "_z", "_wx", "_wy", "_wz"))]
    scale = np.where(pd.Index(moving).str.contains(r"_w[xyz]$"), 2 * NOISE, NOISE)
    table[moving] = table[moving].to_numpy() + rng.normal(0, 1, (n, len(moving))) * scale
    return table


def train(table: pd.DataFrame, classifier: str, max_poses: int | None) -> PoseModel:
    poses = Poses.from_table(table)
    return PoseModel.train(poses.landmarks, poses.image_sizes, table["label"].to_numpy(),
                           classifier, cv=5, world_landmarks=poses.world_landmarks,
                           negatives=everyday_negatives(), max_poses=max_poses)


def probe_poses(table: pd.DataFrame, n: int = 20) -> list[Pose]:
    """The first ``n`` detected poses of a table, as the video loop passes them."""
    poses = Poses.from_table(table.iloc[:n])
    return [Pose(poses.landmarks[i], poses.world_landmarks[i],
                 tuple(int(v) for v in poses.image_sizes[i])) for i in range(len(poses))]


def unpruned(model: PoseModel, pose: Pose) -> PoseModel:
    """The same model, searching its references by comparing with every one (the pruned
    search off: a copy whose caches are rebuilt, on ``pose``, above a raised size limit)."""
    saved = pruned_search.PRUNE_MIN_REFERENCES, pruned_search.PRUNE_MIN_TRAINING_POSES
    pruned_search.PRUNE_MIN_REFERENCES = pruned_search.PRUNE_MIN_TRAINING_POSES = 1 << 62
    try:
        copy = pickle.loads(pickle.dumps(model))
        copy.score_pose(pose)
    finally:
        pruned_search.PRUNE_MIN_REFERENCES, pruned_search.PRUNE_MIN_TRAINING_POSES = saved
    return copy


def predict_ms(model: PoseModel, poses: list[Pose], repeat: int = 100) -> float:
    cycle = itertools.cycle(poses)
    return per_call_ms(lambda: model.score_pose(next(cycle)), repeat, clock=CLOCK)


def calls_per_pose(model: PoseModel, poses: list[Pose]) -> float:
    """Function calls (Python functions and builtins, as cProfile counts them) per
    :meth:`PoseModel.score_pose`: the fixed cost of a pose that is not arithmetic."""
    for pose in poses:  # caches built first
        model.score_pose(pose)
    profile = cProfile.Profile()
    profile.enable()
    for pose in poses:
        model.score_pose(pose)
    profile.disable()
    return pstats.Stats(profile).total_calls / len(poses)


def accuracy(model: PoseModel, test: pd.DataFrame) -> float:
    test = test[test["label"].isin(model.classes_)]
    poses = Poses.from_table(test)
    labels = model.predict_with_scores(poses.landmarks, poses.image_sizes,
                                       world_landmarks=poses.world_landmarks,
                                       reject=False).labels
    return float(np.mean(labels == test["label"].to_numpy()))


def _bound(max_poses: int | None, classifier: str) -> int:
    """``--max-poses``, or the classifier's own bound (as ``poseclf train``'s default)."""
    return max_poses or default_max_poses(classifier)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--classifiers", default="svm,knn")
    parser.add_argument("--max-poses", type=int, default=None,
                        help="training-set bound (default: each classifier's, as poseclf train)")
    parser.add_argument("--compare-at", type=int, default=0, metavar="N",
                        help="also train on N poses without the bound and compare accuracy")
    args = parser.parse_args(argv)
    rows, test = detected_rows(TRAIN_TABLES), detected_rows(TEST_TABLES)
    sizes = [int(s) for s in args.sizes.split(",")]
    classifiers = args.classifiers.split(",")
    print(f"{len(rows)} real training rows, {len(set(rows['label']))} classes; "
          f"--max-poses {args.max_poses or 'per classifier'}; one BLAS thread (as the video "
          "loop)")
    other = probe_poses(test.sample(frac=1.0, random_state=0))
    print("ms/pose of PoseModel.score_pose on 20 poses of the training table (as a video of "
          "the same activity) and on 20 photos of other sources; pruned search (as shipped) and "
          "comparing with every reference (the pruning off)")
    print("| poses | table read s | classifier | train s | target | ms/pose: training poses | "
          "other sources | target | unpruned: training poses | other sources | calls/pose |")
    print("|---:|---:|---|---:|---|---:|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=1):
        for n in sizes:
            path = Path(tmp) / f"scale_{n}.csv"
            noisy_table(rows, n).to_csv(path, index=False)
            start = CLOCK()
            table = load_table(path)
            read_s = CLOCK() - start
            probe = probe_poses(table)
            for classifier in classifiers:
                start = CLOCK()
                model = train(table, classifier, _bound(args.max_poses, classifier))
                total = read_s + CLOCK() - start
                brute = unpruned(model, probe[0])
                ms = [predict_ms(m, poses) for m in (model, brute) for poses in (probe, other)]
                train_mark = ("" if n != TARGET_SIZE else
                              f"<= {TRAIN_TARGET_S:.0f} s: {_met(total <= TRAIN_TARGET_S)}")
                ms_mark = f"<= {PREDICT_TARGET_MS:g}: {_met(max(ms[:2]) <= PREDICT_TARGET_MS)}"
                print(f"| {n:,} | {read_s:.1f} | {classifier} | {total:.1f} | {train_mark} | "
                      f"{ms[0]:.2f} | {ms[1]:.2f} | {ms_mark} | {ms[2]:.2f} | {ms[3]:.2f} | "
                      f"{calls_per_pose(model, probe + other):.0f} |", flush=True)
        if args.compare_at:
            table = noisy_table(rows, args.compare_at, seed=1)
            print(f"\nAccuracy on {len(test)} real rows of {', '.join(TEST_TABLES)} "
                  f"(shared classes), trained on {args.compare_at:,} poses:")
            print("| classifier | every pose: train s | acc | bounded: train s | acc | Δ points |")
            print("|---|---:|---:|---:|---:|---:|")
            for classifier in classifiers:
                figures = []
                for bound in (None, _bound(args.max_poses, classifier)):
                    start = CLOCK()
                    model = train(table, classifier, bound)
                    figures += [CLOCK() - start, accuracy(model, test)]
                print(f"| {classifier} | {figures[0]:.1f} | {figures[1]:.1%} | {figures[2]:.1f} "
                      f"| {figures[3]:.1%} | {100 * (figures[3] - figures[1]):+.1f} |",
                      flush=True)


if __name__ == "__main__":
    main()
