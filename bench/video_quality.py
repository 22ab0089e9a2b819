"""Quality of the labelled-video job on the annotated dev videos: raw vs smoothed labels, counts.

Run from the repository root::

    python bench/video_quality.py [--data ../shared/data] [--cache ../cache] [--grid]
                                  [--classifier svm|knn|...] [--world-features off|only|concat]

For each video in ``videos/annotations.json`` a model is trained as ``poseclf train`` does
(world landmarks, the rows of ``datasets/exclusions.csv`` left out; its default classifier
and features unless ``--classifier`` / ``--world-features`` say otherwise) on photo datasets
only (never on frames of the scored video):

* ``pushup2.mp4``: ``pushups_visolus`` (pushups_up / pushups_down); counts ``pushups_down``.
* ``squat.mp4``: no squat photos exist, so ``up`` = standing people (sit/stand "standing" and
  yoga "mountain") and ``down`` = sitting people (sit/stand "sitting": hips near knee height,
  like the bottom of a squat); counts ``down``.
* ``sit.mp4``: both sit/stand photo sets.
* ``yoga.mp4``: every class of both yoga photo sets (a general yoga model); only its warrior2 and
  triangle segments have a class the model knows, so frame accuracy is scored on those.

``poseclf video`` (:func:`poseclf.video.run.run_video`, default settings) writes a timeline per
video; the script prints frame accuracy of the raw and smoothed labels (frames whose ground truth is
a model class or no_person; ``transition`` frames are not scored), label switches (raw, smoothed,
ground truth with transitions merged into the label before them), the excess switches per minute,
and counted vs true repetitions. ``--grid`` replays the per-frame probabilities through other
smoothing settings (no second BlazePose pass) to show how the choice generalises across videos.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from poseclf.classify.defaults import (
    CLASSIFIERS,
    DEFAULT_CLASSIFIER,
    DEFAULT_WORLD_FEATURES,
    WORLD_MODES,
)
from poseclf.classify.model import PoseModel
from poseclf.pose.extraction import PoseExtractor
from poseclf.pose.landmarks import NO_PERSON
from poseclf.pose.poses import training_arrays, training_world_landmarks
from poseclf.pose.video_sources import iter_frames, open_source
from poseclf.video.run import make_counter, run_video
from poseclf.video.smoothing import LabelSmoother

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import CACHE, DATA, reviewed_table  # noqa: E402 (bench/ is not a package)

TRANSITION = "transition"


@dataclass(frozen=True)
class VideoTask:
    """A scored video: training photos per class, ground-truth label mapping, counted class."""

    video: str
    sources: dict[str, list[tuple[str, str]]]  # class -> [(dataset, class folder)]
    truth_map: dict[str, str]  # ground-truth label -> model class
    count: str | None = None


def _yoga_sources(data: Path) -> dict[str, list[tuple[str, str]]]:
    sources: dict[str, list[tuple[str, str]]] = {}
    for dataset in ("yoga_manoj", "yoga_marchenkova"):
        for folder in sorted(p for p in (data / dataset).iterdir() if p.is_dir()):
            sources.setdefault(folder.name, []).append((dataset, folder.name))
    return sources


def tasks(data: Path) -> list[VideoTask]:
    sitstand = ("sitstand_multimediaimg", "sitstand_rhpr")
    return [
        VideoTask("pushup2.mp4",
                  {"pushups_up": [("pushups_visolus", "pushups_up")],
                   "pushups_down": [("pushups_visolus", "pushups_down")]},
                  {"up": "pushups_up", "down": "pushups_down"}, count="pushups_down"),
        VideoTask("squat.mp4",
                  {"up": [(d, "standing") for d in sitstand] + [("yoga_marchenkova", "mountain")],
                   "down": [(d, "sitting") for d in sitstand]},
                  {"up": "up", "down": "down"}, count="down"),
        VideoTask("sit.mp4",
                  {c: [(d, c) for d in sitstand] for c in ("sitting", "standing")},
                  {"sitting": "sitting", "standing": "standing"}),
        VideoTask("yoga.mp4", _yoga_sources(data),
                  {"warrior2": "warrior2", "triangle": "triangle"}),
    ]


def train_model(task: VideoTask, data: Path, cache: Path, classifier: str,
                world_features: str = DEFAULT_WORLD_FEATURES) -> PoseModel:
    parts = []
    for label, folders in task.sources.items():
        for dataset, folder in folders:
            df = reviewed_table(data / dataset, cache)
            df = df[df["detected"] & (df["label"] == folder)].copy()
            df["label"] = label
            parts.append(df)
    table = pd.concat(parts, ignore_index=True)
    lm, sizes, labels = training_arrays(table)
    return PoseModel.train(lm, sizes, labels, classifier=classifier, cv=0,
                           world_landmarks=training_world_landmarks(table),
                           embedder_params={"world": world_features})


def ground_truth(annotations: dict, video: str) -> np.ndarray:
    entry = annotations[video]
    truth = np.empty(entry["n_frames"], dtype=object)
    for seg in entry["segments"]:
        truth[seg["start"]: seg["end"] + 1] = seg["label"]
    return truth


def switches(labels) -> int:
    labels = list(labels)
    return sum(a != b for a, b in zip(labels[:-1], labels[1:], strict=True))


def merged_truth(truth: np.ndarray) -> list[str]:
    """Ground truth with each transition frame given the label before it (what a classifier
    without a transition class can at best show)."""
    out, last = [], None
    for label in truth:
        if label != TRANSITION:
            last = label
        out.append(last if last is not None else label)
    return out


def raw_probabilities(video: Path, model: PoseModel, n_frames: int | None = None) -> np.ndarray:
    """(n_frames, n_classes) per-frame probabilities, NaN rows where no pose was found."""
    capture, _ = open_source(video)
    rows = []
    try:
        with PoseExtractor(static_image_mode=False) as extractor:
            for frame in iter_frames(capture):
                pose = extractor(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                rows.append(np.full(len(model.classes_), np.nan) if pose is None
                            else model.predict_pose(pose)[1])
                if n_frames is not None and len(rows) >= n_frames:
                    break
    finally:
        capture.release()
    return np.asarray(rows)


def replay(proba: np.ndarray, classes: list[str], fps: float, count: str | None,
           **smoothing) -> tuple[list[str], int | None]:
    """Smoothed labels and repetitions, the same way run_video computes them."""
    smoother = LabelSmoother(classes, **smoothing)
    counter = None
    if count is not None:
        counter = make_counter(count, fps)
        index = counter.index_in(classes)
    labels = []
    for p in proba:
        result = smoother.update(None if np.isnan(p).any() else p)
        if counter is not None:
            counter.update(result.probabilities[index] if result.detected else None)
        labels.append(result.label)
    return labels, (counter.count if counter else None)


def score(labels, truth: np.ndarray, truth_map: dict[str, str]) -> tuple[float, int]:
    mapped = np.array([truth_map.get(t, NO_PERSON if t == NO_PERSON else None) for t in truth],
                      dtype=object)
    scored = np.array([m is not None for m in mapped])
    hits = np.array(labels, dtype=object)[scored] == mapped[scored]
    return float(hits.mean()), int(scored.sum())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--classifier", default=DEFAULT_CLASSIFIER, choices=CLASSIFIERS,
                        help=f"default: {DEFAULT_CLASSIFIER} (poseclf train's)")
    parser.add_argument("--world-features", default=DEFAULT_WORLD_FEATURES, choices=WORLD_MODES,
                        help=f"as poseclf train (default: {DEFAULT_WORLD_FEATURES})")
    parser.add_argument("--grid", action="store_true",
                        help="also replay other smoothing settings on the same probabilities")
    args = parser.parse_args(argv)
    annotations = json.loads((args.data / "videos" / "annotations.json").read_text())
    results = {}
    print(f"{'video':12} {'frames':>6} {'scored':>6} {'acc raw':>8} {'acc smooth':>10} "
          f"{'sw raw':>6} {'sw smooth':>9} {'sw truth':>8} {'excess/min':>10} "
          f"{'reps':>5} {'true':>5} {'fps':>6}")
    for task in tasks(args.data):
        video = args.data / "videos" / task.video
        model = train_model(task, args.data, args.cache, args.classifier,
                            args.world_features)
        truth = ground_truth(annotations, task.video)
        fps = float(annotations[task.video]["fps"])
        with tempfile.TemporaryDirectory() as tmp:
            timeline = Path(tmp) / "timeline.csv"
            report = run_video(video, model, timeline=timeline, count=task.count,
                               progress=False)
            rows = pd.read_csv(timeline, dtype={"raw_label": str, "label": str})
        n = min(len(rows), len(truth))
        raw_acc, scored = score(rows["raw_label"][:n], truth[:n], task.truth_map)
        smooth_acc, _ = score(rows["label"][:n], truth[:n], task.truth_map)
        sw_raw, sw_smooth = switches(rows["raw_label"]), switches(rows["label"])
        sw_truth = switches(merged_truth(truth))
        minutes = n / fps / 60
        reps = annotations[task.video].get("repetitions", {}).get("count")
        print(f"{task.video:12} {n:6d} {scored:6d} {raw_acc:8.1%} {smooth_acc:10.1%} "
              f"{sw_raw:6d} {sw_smooth:9d} {sw_truth:8d} {(sw_smooth - sw_truth) / minutes:10.1f} "
              f"{'-' if report.repetitions is None else report.repetitions:>5} "
              f"{'-' if reps is None else reps:>5} {report.fps:6.1f}")
        results[task.video] = (task, model, truth, fps, rows)
    if args.grid:
        grid(results, args.data)
    return 0


GRID = {"window": (5, 10, 20), "min_frames": (1, 2, 3, 6), "margin": (0.0, 0.1, 0.15, 0.2)}


def grid(results: dict, data: Path) -> None:
    """Replay every setting in :data:`GRID` on stored per-frame probabilities of each video."""
    print("\nsmoothing grid (alpha 0.2, max_missing 5): smoothed accuracy / switches "
          "(truth) / reps (true) per video")
    annotations = json.loads((data / "videos" / "annotations.json").read_text())
    true_reps = {name: annotations[name].get("repetitions", {}).get("count") for name in results}
    probas = {}
    for name, (task, model, _truth, _fps, rows) in results.items():
        start = time.perf_counter()
        probas[name] = raw_probabilities(data / "videos" / name, model)
        default_labels, _ = replay(probas[name], model.classes_, _fps, task.count)
        same = np.mean(np.array(default_labels[: len(rows)], dtype=object) == rows["label"])
        print(f"  {name}: per-frame probabilities in {time.perf_counter() - start:.1f} s; "
              f"replay with defaults agrees with run_video on {same:.1%} of frames")
    for window, min_frames, margin in itertools.product(*GRID.values()):
        cells = []
        for name, (task, model, truth, fps, _rows) in results.items():
            labels, reps = replay(probas[name], model.classes_, fps, task.count, window=window,
                                  min_frames=min_frames, margin=margin)
            n = min(len(labels), len(truth))
            acc, _ = score(labels[:n], truth[:n], task.truth_map)
            cell = f"{acc:5.1%} {switches(labels):3d}({switches(merged_truth(truth)):2d})"
            if reps is not None:
                cell += f" {reps}({true_reps[name]})"
            cells.append(f"{name.split('.')[0]}: {cell}")
        print(f"  w={window:2d} min={min_frames} margin={margin:.2f} | " + " | ".join(cells))


if __name__ == "__main__":
    raise SystemExit(main())
