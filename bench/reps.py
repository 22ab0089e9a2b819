"""Repetitions measured on the annotated dev videos, and what measuring costs per frame.

Run from the repository root::

    python bench/reps.py [--data ../shared/data] [--cache ../cache] [--repeat 5]

For ``pushup2.mp4`` (shipped ``pushups`` model, counting ``pushups_down``, ``--rules pushups``)
and ``squat.mp4`` (a model trained on the sit/stand and yoga "mountain" tables, counting
``down``, ``--rules squats``; see ``bench/video_quality.py``), BlazePose runs once per video
(landmarks kept in ``--cache``), then the video loop's labelling
(:func:`poseclf.video.run.label_frames`) replays them with a
:class:`~poseclf.video.reps.RepetitionTracker`. Printed per repetition: found or not, the
errors of its start and end (frames and seconds) against ``annotations.json``, whether its bottom
frame is inside the annotated bottom range, its key angle's range against an independent
computation (a per-frame loop with atan2, a centred 5-frame median instead of the EMA), and the
numbers the shipped rules check. Then the cost: the time of ``RepetitionTracker.update`` per
frame (angles, their smoothing, the cutting; best of ``--repeat`` passes) and of drawing its
overlay (:class:`~poseclf.pictures.draw.RepsAnnotator`, which runs in the writer thread), against
the issue's 0.2 ms budget.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from poseclf.classify.model import PoseModel
from poseclf.pictures.draw import RepsAnnotator
from poseclf.pose.angles import JOINTS
from poseclf.pose.extraction import PoseExtractor
from poseclf.pose.poses import Poses
from poseclf.pose.video_sources import VideoInfo, iter_frames, open_source
from poseclf.video.form_rules import load_rules
from poseclf.video.reps import RepetitionTracker
from poseclf.video.run import label_frames, load_model, make_smoother_and_counter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import CACHE, DATA  # noqa: E402 (bench/ is not a package)

BUDGET_MS = 0.2  # issue 20: what measuring may add to the loop per frame


def landmarks(video: Path, cache: Path) -> dict:
    path = cache / f"reps_{video.name}.{video.stat().st_size}.npz"
    if not path.is_file():
        capture, info = open_source(video)
        with PoseExtractor(static_image_mode=False) as extractor:
            poses = [extractor(cv2.cvtColor(f, cv2.COLOR_BGR2RGB)) for f in iter_frames(capture)]
        capture.release()
        batch = Poses.from_poses(poses, [info.size] * len(poses))
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, landmarks=batch.landmarks, world=batch.world_landmarks,
                 sizes=batch.image_sizes, fps=info.fps)
    data = np.load(path)
    return {k: data[k] for k in data.files}


def squat_model() -> PoseModel:
    """Standing people up, sitting ones down (tests/table_models.py)."""
    sys.path.insert(0, str(REPO / "tests"))
    from table_models import SQUAT_PARTS, model_from_tables

    return model_from_tables(SQUAT_PARTS)


def independent(data: dict, joint: str, frames: range) -> float:
    """Range of the side-free ``joint`` angle over ``frames`` by another road."""
    values = []
    for i in frames:
        world, vis = data["world"][i], data["landmarks"][i][:, 3]
        if not np.isfinite(world).all():
            values.append(math.nan)
            continue
        total = weights = 0.0
        for side in ("left", "right"):
            a, b, c = JOINTS[f"{side}_{joint}"]
            u, v = world[a] - world[b], world[c] - world[b]
            angle = math.degrees(math.atan2(float(np.linalg.norm(np.cross(u, v))),
                                            float(np.dot(u, v))))
            w = float(min(vis[a], vis[b], vis[c]))
            total, weights = total + w * angle, weights + w
        values.append(total / weights)
    smooth = pd.Series(values).rolling(5, center=True, min_periods=1).median()
    return float(smooth.max() - smooth.min())


def replay(data: dict, model, count: str, rules: str, *, measure: bool = True):
    """Seconds spent in the tracker's update over the video, and the tracker."""
    poses = list(Poses(data["landmarks"], data["world"], data["sizes"]))
    fps = float(data["fps"])
    info = VideoInfo(int(data["sizes"][0][0]), int(data["sizes"][0][1]), fps, len(poses), "dev")
    smoother, counter = make_smoother_and_counter(model.classes_, info, count=count)
    tracker = RepetitionTracker(fps, rules=load_rules(rules))
    timed = _Timed(tracker)
    given = iter(poses)
    blank = np.zeros((2, 2, 3), np.uint8)
    results = list(label_frames((blank for _ in poses), lambda rgb: next(given), model,
                                smoother, counter, reps=timed if measure else None))
    tracker.finish()
    return timed.seconds, tracker, results


class _Timed:
    """The tracker with its update timed."""

    def __init__(self, tracker: RepetitionTracker) -> None:
        self.tracker, self.seconds = tracker, 0.0

    def update(self, *args):
        start = time.perf_counter()
        out = self.tracker.update(*args)
        self.seconds += time.perf_counter() - start
        return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    annotations = json.loads((args.data / "videos" / "annotations.json").read_text())
    costs, draw_costs = [], []
    for video, model, count, rules, key in (
            ("pushup2.mp4", load_model("pushups"), "pushups_down", "pushups", "elbow"),
            ("squat.mp4", squat_model(), "down", "squats", "knee")):
        data = landmarks(args.data / "videos" / video, args.cache)
        fps = float(data["fps"])
        truth = annotations[video]["repetitions"]
        best = math.inf
        for _ in range(args.repeat):
            seconds, tracker, results = replay(data, model, count, rules)
            best = min(best, seconds)
        frames = len(results)
        costs.append(1000 * best / frames)
        print(f"\n{video}: {len(tracker.repetitions)} repetitions measured, "
              f"{truth['count']} annotated; key angle {key}")
        print(" rep  start err    bottom (range)      end err     "
              f"{key} range / independent   rule measures")
        measures = [r.measure for r in load_rules(rules).rules]
        for i, annotated in enumerate(truth["per_rep"]):
            low, high = truth["bottom_ranges"][i]
            found = [r for r in tracker.repetitions
                     if r.start_frame <= annotated["end"] and r.end_frame >= annotated["start"]]
            if not found:
                print(f"  {i + 1}  NOT FOUND")
                continue
            r = found[0]
            ds, de = r.start_frame - annotated["start"], r.end_frame - annotated["end"]
            inside = "inside" if low <= r.bottom_frame <= high else "OUTSIDE"
            ours = r.angles[key][1] - r.angles[key][0]
            ref = independent(data, key, range(r.top_before_frame, r.top_after_frame + 1))
            numbers = ", ".join(f"{m} {r.measure(m):.1f}" for m in measures)
            verdict = "good" if r.good else "broke " + ", ".join(r.broken)
            print(f"  {i + 1}  {ds:+4d} ({ds / fps:+.2f} s)  {r.bottom_frame:4d} {inside:7s} "
                  f"[{low}, {high}]  {de:+4d} ({de / fps:+.2f} s)  {ours:5.1f} / {ref:5.1f} "
                  f"({ours - ref:+.1f})  {numbers}; {verdict}")
        # the overlay: drawn in the writer thread, not the loop's, but timed all the same
        frame = np.zeros((720, 1280, 3), np.uint8)
        annotator = RepsAnnotator()
        start = time.perf_counter()
        for result in results:
            annotator.annotate(frame, result)
        draw_costs.append(1000 * (time.perf_counter() - start) / frames)
    print(f"\nRepetitionTracker.update: {max(costs):.3f} ms per frame at most (best of "
          f"{args.repeat} passes; budget {BUDGET_MS} ms): "
          + ", ".join(f"{c:.3f}" for c in costs))
    print(f"RepsAnnotator (writer thread): {max(draw_costs):.3f} ms per 1280x720 frame")
    return 0 if max(costs) <= BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
