"""ONNX export (issue 22): every model's graph against poseclf on every dev pose, its size and
its speed, in one run.

Run from the repository root (needs ``pip install ".[export]"``)::

    python bench/export.py [--repeat 300] [--models pushups yoga ...] [--no-trained]

For each shipped model, then each trained case of ``tests/onnx_compare.py`` (every classifier,
world features on and off), prints the largest absolute difference between the graph's
probabilities and poseclf's, how many labels agree (``unknown`` and ``partial`` included) on
every detected pose of every table in ``datasets/`` (the falls tables too), the ONNX file's
size, and milliseconds per pose: onnxruntime on one thread, one pose per call (what an app does
for a video frame) and 64 per call (a table), beside poseclf's own :meth:`PoseModel.score_pose`
on the same pose, in CPU time (run with ``OPENBLAS_NUM_THREADS=1``: bench/fast_path.py says
why). Targets:
probabilities within 1e-5 and every label the same; the yoga graph under 2 MB; under 0.2 ms a
pose. Needs only the repository (no ../shared).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import onnxruntime as ort

from poseclf.classify.model import PoseModel
from poseclf.classify.onnx_export import model_to_onnx, needs_world_landmarks

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from onnx_compare import TRAINED, compare, dev_poses, trained_model  # noqa: E402 (tests/ helper)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_path import per_call_ms  # noqa: E402 (bench/ is not a package; best of 3 timings)

SHIPPED = ("pushups", "sitstand", "sitstandlie", "yoga")
PROBA_TARGET = 1e-5
SIZE_TARGET_MB = 2.0  # the shipped yoga model's graph
MS_TARGET = 0.2  # one pose per call
BATCH = 64  # poses per call of the batched timing (ms per pose)


def session(data: bytes) -> ort.InferenceSession:
    """One-thread session, as an app runs one pose per frame."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def measure(name: str, model: PoseModel, poses, repeat: int,
            clock: Callable[[], float]) -> bool:
    """Print one model's line; True when it meets every target that applies."""
    data = model_to_onnx(model).SerializeToString()
    sess = session(data)
    result = compare(sess, model, poses)
    one = poses[:1]
    feed = {"landmarks": one.landmarks, "image_size": one.image_sizes}
    if needs_world_landmarks(model):
        feed["world_landmarks"] = one.world_landmarks
    onnx_ms = per_call_ms(lambda: sess.run(None, feed), repeat, clock)
    pose = one.pose(0)
    poseclf_ms = per_call_ms(lambda: model.score_pose(pose), repeat, clock)
    batch = poses[:BATCH]
    feed_batch = {"landmarks": batch.landmarks, "image_size": batch.image_sizes}
    if needs_world_landmarks(model):
        feed_batch["world_landmarks"] = batch.world_landmarks
    batch_ms = per_call_ms(lambda: sess.run(None, feed_batch), max(1, repeat // 10),
                           clock) / len(batch)
    agree = len(result.expected) - len(result.differing)
    size_mb = len(data) / 1e6
    print(f"{name:20s} {result.max_abs_diff:9.1e} {agree:5d}/{len(result.expected):<5d} "
          f"{size_mb:6.2f} MB {onnx_ms:8.3f} ms {batch_ms:8.3f} ms {poseclf_ms:8.3f} ms")
    for row in result.differing[:3]:
        print(f"{'':20s} pose {row}: poseclf {result.expected[row]}, onnx {result.got[row]}")
    ok = result.max_abs_diff <= PROBA_TARGET and not len(result.differing)
    ok &= onnx_ms < MS_TARGET
    if name == "yoga":
        ok &= size_mb < SIZE_TARGET_MB
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300, help="calls per timing")
    parser.add_argument("--wall", action="store_true",
                        help="time in wall-clock seconds instead of CPU time")
    parser.add_argument("--models", nargs="+", default=list(SHIPPED), help="shipped models")
    parser.add_argument("--no-trained", action="store_true",
                        help="only the shipped models (the trained cases take ~10 s to train)")
    args = parser.parse_args()

    dev = dev_poses()
    tables = sorted(set(dev.tables))
    print(f"{len(dev.poses)} detected poses of {len(tables)} tables in datasets/; onnxruntime "
          f"{ort.__version__}, one thread; {'wall' if args.wall else 'CPU'} time\n")
    print(f"{'model':20s} {'max |dp|':>9s} {'labels same':>11s} {'size':>9s} "
          f"{'onnx 1 pose':>11s} {f'onnx/{BATCH}':>11s} {'poseclf 1':>11s}")
    clock = time.perf_counter if args.wall else time.process_time
    failed = [name for name in args.models
              if not measure(name, PoseModel.load(name), dev.poses, args.repeat, clock)]
    if not args.no_trained:
        for case in TRAINED:
            if not measure(case, trained_model(case), dev.poses, args.repeat, clock):
                failed.append(case)
    verdict = "all met" if not failed else "missed by " + ", ".join(failed)
    print(f"\ntargets (|dp| <= {PROBA_TARGET:g}, every label, yoga < {SIZE_TARGET_MB:g} MB, "
          f"< {MS_TARGET:g} ms a pose): {verdict}")


if __name__ == "__main__":
    main()
