"""One pose through each shipped model's classifier, three ways, side by side in one run.

Run from the repository root::

    python bench/fast_path.py [--repeat 300] [--compare-with OTHER_CHECKOUT] [--models DIR]

Prints milliseconds per pose of the fitted classifier's ``predict_proba`` on one embedded pose
(a) as scikit-learn runs it, (b) inside ``sklearn.config_context(assume_finite=True,
skip_parameter_validation=True)``, and (c) through poseclf's lean path
(:func:`poseclf.classify.lean_predict.lean_predict_proba`), and the ratios (a)/(c) and (b)/(c):
whether scikit-learn's own switches make the lean path unnecessary. Then the whole per-frame
call, :meth:`PoseModel.score_pose` (embedding, classifier, novelty and its thresholds,
visibility), on the shipped models as they are in this checkout (or ``--models DIR``, e.g.
models trained by a newer poseclf before they are shipped); ``--compare-with`` times the
same call with another checkout's ``poseclf`` (e.g. the main branch) in a subprocess, both
measured in this run, alternately, in CPU time (a busy machine's other processes do not count;
run with ``OPENBLAS_NUM_THREADS=1``: on a busy machine, OpenBLAS's threads wait for a core on
every matrix product of the novelty and count that waiting, ~10x, as CPU time). Needs only
the shipped models and the shipped push-up table (no ../shared).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import sklearn

from poseclf.classify.embedding import pose_matrix
from poseclf.classify.lean_predict import lean_predict_proba
from poseclf.classify.model import PoseModel
from poseclf.pose.poses import Poses, training_arrays
from poseclf.pose.table import load_table

TABLE = Path(__file__).resolve().parents[1] / "datasets" / "pushups_visolus.csv"


def per_call_ms(call: Callable[[], object], repeat: int,
                clock: Callable[[], float] = time.perf_counter) -> float:
    """Best of three timings of ``repeat`` calls, in ms per call."""
    call()
    best = float("inf")
    for _ in range(3):
        start = clock()
        for _ in range(repeat):
            call()
        best = min(best, (clock() - start) / repeat * 1e3)
    return best


MODELS = ("pushups", "sitstand", "yoga")
REPO = Path(__file__).resolve().parents[1]


def score_pose_ms(repeat: int, models: Path = REPO / "models") -> dict[str, float]:
    """ms per :meth:`PoseModel.score_pose` of one push-up photo's pose (world landmarks
    included), per model file of ``models`` (pushups, sitstand, yoga), with the poseclf that
    is imported."""
    poses = Poses.from_table(load_table(TABLE))
    pose = poses.pose(0)
    out = {}
    for name in MODELS:
        model = PoseModel.load(Path(models) / f"{name}.skops")
        out[name] = per_call_ms(lambda m=model: m.score_pose(pose), repeat, time.process_time)
    return out


def score_pose_elsewhere(checkout: str, repeat: int, models: Path) -> dict[str, float]:
    """:func:`score_pose_ms` run with another checkout's poseclf (same models, same pose)."""
    env = {**os.environ, "PYTHONPATH": str(Path(checkout).resolve())}
    out = subprocess.run([sys.executable, __file__, "--score-pose-only", "--repeat",
                          str(repeat), "--models", str(models)], env=env, check=True,
                         capture_output=True, text=True)
    return {k: float(v) for k, v in (line.split() for line in out.stdout.split("\n") if line)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300, help="calls per timing")
    parser.add_argument("--compare-with", metavar="CHECKOUT",
                        help="also time score_pose with this checkout's poseclf")
    parser.add_argument("--models", type=Path, default=REPO / "models",
                        help="folder of pushups/sitstand/yoga.skops for the score_pose timing")
    parser.add_argument("--score-pose-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.score_pose_only:  # the subprocess of --compare-with
        for name, ms in score_pose_ms(args.repeat, args.models).items():
            print(name, ms)
        return
    landmarks, sizes, _ = training_arrays(load_table(TABLE))
    for name in ("pushups", "sitstand", "yoga"):
        model = PoseModel.load(name)
        embed, classifier = model.pipeline[:-1], model.pipeline[-1]
        one = embed.transform(pose_matrix(landmarks[:1], sizes[:1]))
        lean = lean_predict_proba(classifier, embed.transform(pose_matrix(landmarks[:4],
                                                                           sizes[:4])))
        plain = per_call_ms(lambda c=classifier, x=one: c.predict_proba(x), args.repeat)
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            switched = per_call_ms(lambda c=classifier, x=one: c.predict_proba(x), args.repeat)
        if lean is None:
            print(f"{name}: no lean path for {type(classifier).__name__}")
            continue
        fast = per_call_ms(lambda f=lean, x=one: f(x), args.repeat)
        print(f"{name:9s} sklearn {plain:.3f} ms   sklearn+switches {switched:.3f} ms   "
              f"lean {fast:.3f} ms   ratios {plain / fast:.1f}x and {switched / fast:.1f}x")
    print(f"\nPoseModel.score_pose, one pose with world landmarks, models of {args.models} "
          "(CPU time, best of 3, ms per call):")
    if not args.compare_with:
        for name, ms in score_pose_ms(args.repeat, args.models).items():
            print(f"{name:9s} {ms:.3f} ms")
        return
    here, there = [], []
    for _ in range(3):  # alternately, so that both see the same load on the machine
        there.append(score_pose_elsewhere(args.compare_with, args.repeat, args.models))
        here.append(score_pose_ms(args.repeat, args.models))
    for name in MODELS:
        a, b = min(t[name] for t in there), min(t[name] for t in here)
        print(f"{name:9s} {args.compare_with}: {a:.3f} ms   this checkout: {b:.3f} ms   "
              f"ratio {a / b:.2f}x")


if __name__ == "__main__":
    main()
