"""Open-set rejection ("unknown" / "partial") on the development data, in one run.

Run from the repository root::

    python bench/rejection.py [--data ../shared/data] [--cache ../cache] [--classifier svm]
                              [--percentiles 95 97 99] [--no-videos] [--no-exclusions]
                              [--no-world]

Models are trained as ``poseclf train`` does: with BlazePose world landmarks, and without the
rows that ``datasets/exclusions.csv`` names (bad detections found by looking at the photos;
``--no-exclusions`` keeps them). The push-up target is also printed for the raw folder.

Prints:

1. **In-class acceptance**: for each image dataset, stratified 5-fold: a model (with its own
   rejection threshold calibrated on the training folds only) labels the held-out fold; share of
   held-out poses accepted, plain accuracy, accuracy on the accepted poses, unknown / partial.
2. **Out-of-class rejection**: a model trained on each whole dataset labels every photo of the
   OTHER datasets; share rejected (unknown or partial), per other dataset.
3. **Cross-source acceptance** (generalisation): photos of the SAME classes from another source
   (sit/stand <-> sit/stand, yoga <-> yoga on the classes both have); these should be accepted.
4. A sweep of the threshold percentile: the trade-off between 1 and 2.
5. **Videos**: ``poseclf video`` on ``pushup2.mp4`` and ``squat.mp4`` (models trained on photos as
   in ``bench/video_quality.py``, without and with the shipped everyday negatives, minus the
   frames of the measured video), repetitions counted with and without rejection, and the
   frames rejected.

Sections 1-4 train without negatives (each model is measured on every other dataset, so no
dataset could be a negative); ``bench/rejection_protocols.py`` measures the negatives honestly.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from poseclf.classify.model import PoseModel
from poseclf.classify.negatives import everyday_negatives
from poseclf.classify.novelty import PARTIAL_LABEL, UNKNOWN_LABEL
from poseclf.pose.poses import training_arrays, training_world_landmarks
from poseclf.video.run import run_video

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import (  # noqa: E402 (bench/ is no package)
    CACHE,
    DATA,
    EXCLUSIONS,
    REPO,
    cached_table,
    image_datasets,
    reviewed_table,
)

OUTER_FOLDS = 5
OUTER_RANDOM_STATE = 1  # outer folds differ from the model's own calibration folds (seed 0)
SITSTAND = ("sitstand_multimediaimg", "sitstand_rhpr")
CROSS_SOURCE = [("sitstand_multimediaimg", "sitstand_rhpr"), ("sitstand_rhpr",
                "sitstand_multimediaimg"), ("yoga_manoj", "yoga_marchenkova"),
                ("yoga_marchenkova", "yoga_manoj")]
#: Shipped tables holding frames of a video (never negatives when that video is measured).
VIDEO_TABLES = {"pushup2.mp4": ("pushup_video",), "sit.mp4": ("sit_video",)}
#: Video tasks: (video, {model class: [(dataset, class folder)]}, counted class).
VIDEO_TASKS = [
    ("pushup2.mp4", {"pushups_up": [("pushups_visolus", "pushups_up")],
                     "pushups_down": [("pushups_visolus", "pushups_down")]}, "pushups_down"),
    # no squat photos: standing people are "up", sitting people (hips near knee height) "down"
    ("squat.mp4", {"up": [(d, "standing") for d in SITSTAND] + [("yoga_marchenkova", "mountain")],
                   "down": [(d, "sitting") for d in SITSTAND]}, "down"),
]


class Data(NamedTuple):
    """The detected rows of one dataset."""

    lm: np.ndarray
    sizes: np.ndarray
    labels: np.ndarray
    world: np.ndarray | None  # None: models use image landmarks only (--no-world)

    def rows(self, index) -> Data:
        return Data(self.lm[index], self.sizes[index], self.labels[index],
                    None if self.world is None else self.world[index])


def load_data(table: pd.DataFrame, world: bool) -> Data:
    lm, sizes, labels = training_arrays(table)
    return Data(lm, sizes, np.asarray(labels, dtype=object).astype(str),
                training_world_landmarks(table) if world else None)


def concat(parts: list[Data]) -> Data:
    worlds = [p.world for p in parts]
    return Data(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("lm", "sizes",
                                                                          "labels")),
                None if any(w is None for w in worlds) else np.concatenate(worlds))


def _train(data: Data, classifier: str, percentile: float, negatives=None) -> PoseModel:
    return PoseModel.train(data.lm, data.sizes, data.labels, classifier, cv=0,
                           novelty_params={"percentile": percentile},
                           world_landmarks=data.world, negatives=negatives)


def _score(model: PoseModel, data: Data):
    return model.predict_with_scores(data.lm, data.sizes, world_landmarks=data.world)


def in_class(arrays: dict, classifier: str, percentile: float) -> dict:
    """Held-out-fold acceptance and accuracies per dataset."""
    out = {}
    for name, data in arrays.items():
        labels = data.labels
        pred = np.empty(len(labels), dtype=object)
        plain = np.empty(len(labels), dtype=object)
        folds = StratifiedKFold(OUTER_FOLDS, shuffle=True, random_state=OUTER_RANDOM_STATE)
        for train, test in folds.split(data.lm, labels):
            model = _train(data.rows(train), classifier, percentile)
            result = _score(model, data.rows(test))
            pred[test] = result.labels
            plain[test] = np.asarray(model.classes_, dtype=object)[result.proba.argmax(axis=1)]
        accepted = ~np.isin(pred, (UNKNOWN_LABEL, PARTIAL_LABEL))
        out[name] = {
            "n": len(labels), "acceptance": accepted.mean(),
            "accuracy": np.mean(plain == labels),
            "accuracy_accepted": np.mean(plain[accepted] == labels[accepted]),
            "unknown": int(np.sum(pred == UNKNOWN_LABEL)),
            "partial": int(np.sum(pred == PARTIAL_LABEL)),
        }
    return out


def rejected_share(model: PoseModel, data: Data) -> float:
    return float(np.mean(np.isin(_score(model, data).labels, (UNKNOWN_LABEL, PARTIAL_LABEL))))


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def print_in_class(stats: dict) -> None:
    print(f"{'dataset':24} {'n':>4} {'accepted':>9} {'accuracy':>9} {'acc.accepted':>12} "
          f"{'unknown':>8} {'partial':>8}")
    for name, s in stats.items():
        print(f"{name:24} {s['n']:4d} {_pct(s['acceptance']):>9} {_pct(s['accuracy']):>9} "
              f"{_pct(s['accuracy_accepted']):>12} {s['unknown']:8d} {s['partial']:8d}")


def out_of_class(arrays: dict, models: dict) -> dict:
    """{model dataset: {other dataset: share rejected}}."""
    return {m: {o: rejected_share(models[m], arrays[o]) for o in arrays if o != m}
            for m in arrays}


def print_out_of_class(table: dict) -> None:
    names = list(table)
    print(f"{'model / photos of':24} " + " ".join(f"{n[:14]:>14}" for n in names))
    for m in names:
        cells = [" " * 14 if o == m else f"{_pct(table[m][o]):>14}" for o in names]
        print(f"{m:24} " + " ".join(cells))


def targets(arrays: dict, models: dict) -> dict:
    """The issue's out-of-class targets, pooled over photos."""
    out = {}
    if "pushups_visolus" in models:
        others = concat([arrays[o] for o in arrays if o != "pushups_visolus"])
        out["push-up model on yoga + sit/stand (target >= 90%)"] = rejected_share(
            models["pushups_visolus"], others)
        for s in SITSTAND:
            if s in models:
                out[f"{s} model on push-ups (target >= 80%)"] = rejected_share(
                    models[s], arrays["pushups_visolus"])
    return out


def accepted_classes(arrays: dict, model: PoseModel, skip: str) -> str:
    """The classes of other datasets a model accepts most often: ``dataset/class n/N``."""
    counts = []
    for name, data in arrays.items():
        if name == skip:
            continue
        accepted = np.isin(_score(model, data).labels, model.classes_)
        for label in np.unique(data.labels):
            mine = data.labels == label
            if accepted[mine].any():
                counts.append((int(accepted[mine].sum()), f"{name[:14]}/{label}",
                               int(mine.sum())))
    counts.sort(reverse=True)
    return ", ".join(f"{where} {n}/{total}" for n, where, total in counts[:6])


def cross_source(arrays: dict, models: dict) -> None:
    print(f"{'model':24} {'photos of':24} {'classes':34} {'n':>4} {'accepted':>9} "
          f"{'accuracy':>9}")
    for m, o in CROSS_SOURCE:
        if m not in models or o not in arrays:
            continue
        labels = arrays[o].labels
        shared = sorted(set(models[m].classes_) & set(labels))
        keep = np.isin(labels, shared)
        result = _score(models[m], arrays[o].rows(keep))
        plain = np.asarray(models[m].classes_, dtype=object)[result.proba.argmax(axis=1)]
        accepted = np.isin(result.labels, models[m].classes_)
        print(f"{m:24} {o:24} {','.join(shared)[:34]:34} {keep.sum():4d} "
              f"{_pct(accepted.mean()):>9} {_pct(np.mean(plain == labels[keep])):>9}")


def video_counts(data: Path, cache: Path, classifier: str, exclude: bool, world: bool) -> None:
    annotations = json.loads((data / "videos" / "annotations.json").read_text())
    print(f"{'video':12} {'model':13} {'frames':>6} {'reps':>5} {'reps no-reject':>14} {'true':>5} "
          f"{'unknown':>8} {'partial':>8} {'no_person':>9}")
    for video, sources, count in VIDEO_TASKS:
        parts = []
        for label, folders in sources.items():
            for dataset, folder in folders:
                df = reviewed_table(data / dataset, cache, exclude)
                df = df[df["detected"] & (df["label"] == folder)].copy()
                df["label"] = label
                parts.append(df)
        rows = load_data(pd.concat(parts, ignore_index=True), world)
        # the shipped everyday negatives, without the frames of this very video
        negatives = everyday_negatives().without(*VIDEO_TABLES.get(video, ()))
        for name, neg in (("no negatives", None), ("negatives", negatives)):
            model = _train(rows, classifier, 99.0, neg)
            reps = {}
            with tempfile.TemporaryDirectory() as tmp:
                for reject in (True, False):
                    timeline = Path(tmp) / f"{reject}.csv"
                    report = run_video(data / "videos" / video, model, timeline=timeline,
                                       count=count, progress=False, reject=reject)
                    reps[reject] = report.repetitions
                    if reject:
                        raw = pd.read_csv(timeline, dtype={"raw_label": str})["raw_label"]
            true = annotations[video].get("repetitions", {}).get("count")
            print(f"{video:12} {name:13} {len(raw):6d} {reps[True]:5d} {reps[False]:14d} "
                  f"{true:5d} {int((raw == UNKNOWN_LABEL).sum()):8d} "
                  f"{int((raw == PARTIAL_LABEL).sum()):8d} {int((raw == 'no_person').sum()):9d}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--classifier", default="svm")
    parser.add_argument("--percentile", type=float, default=99.0,
                        help="threshold percentile of the main tables (default: 99)")
    parser.add_argument("--percentiles", type=float, nargs="*", default=[90.0, 95.0, 97.0],
                        help="other percentiles for the sweep")
    parser.add_argument("--no-videos", action="store_true")
    parser.add_argument("--no-exclusions", action="store_true",
                        help=f"keep the rows {EXCLUSIONS.relative_to(REPO)} names")
    parser.add_argument("--no-world", action="store_true",
                        help="novelty on image landmarks only (no world landmarks)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    exclude, world = not args.no_exclusions, not args.no_world
    arrays, raw = {}, {}
    for dataset in image_datasets(args.data):
        arrays[dataset.name] = load_data(reviewed_table(dataset, args.cache, exclude), world)
        raw[dataset.name] = load_data(cached_table(dataset, args.cache), world)
    dropped = {n: len(raw[n].labels) - len(a.labels) for n, a in arrays.items()}
    print(f"classifier {args.classifier}, threshold percentile {args.percentile:g}, novelty "
          f"on {'image + world' if world else 'image'} landmarks, rows left out after review: "
          + (", ".join(f"{n} {k}" for n, k in dropped.items() if k) or "none") + "\n")
    print(f"1. In-class acceptance ({OUTER_FOLDS}-fold, held-out folds)")
    print_in_class(in_class(arrays, args.classifier, args.percentile))
    models = {n: _train(a, args.classifier, args.percentile) for n, a in arrays.items()}
    print("\n   thresholds: " + ", ".join(
        f"{n} {m.rejection_threshold:.3f}" for n, m in models.items()))
    print("\n2. Out-of-class rejection (share of the other datasets' photos rejected)")
    print_out_of_class(out_of_class(arrays, models))
    for text, value in targets(arrays, models).items():
        print(f"   {text}: {_pct(value)}")
    if "pushups_visolus" in models:
        print("   what the push-up model accepts most: "
              + accepted_classes(arrays, models["pushups_visolus"], "pushups_visolus"))
    if any(dropped.values()) and "pushups_visolus" in raw:
        unreviewed = _train(raw["pushups_visolus"], args.classifier, args.percentile)
        others = concat([a for n, a in arrays.items() if n != "pushups_visolus"])
        print(f"   push-up model trained on the raw folder (no rows left out): "
              f"{_pct(rejected_share(unreviewed, others))}")
    print("\n3. Cross-source acceptance (same classes, another source: should be accepted)")
    cross_source(arrays, models)
    print("\n4. Threshold percentile sweep: mean in-class acceptance | push-up model "
          "rejection of yoga+sit/stand | sit/stand models rejection of push-ups")
    for p in sorted({*args.percentiles, args.percentile}):
        stats = in_class(arrays, args.classifier, p) if p != args.percentile else None
        swept = {n: _train(a, args.classifier, p) for n, a in arrays.items()}
        acc = (np.mean([s["acceptance"] for s in stats.values()]) if stats
               else np.mean([s["acceptance"] for s in in_class(arrays, args.classifier,
                                                                p).values()]))
        t = targets(arrays, swept)
        print(f"   p={p:4g}: in-class {_pct(acc)} | " + " | ".join(_pct(v) for v in t.values()))
    if not args.no_videos:
        print("\n5. Videos: repetitions with and without rejection (frames rejected, "
              "with rejection)")
        video_counts(args.data, args.cache, args.classifier, exclude, world)
    print(f"\n({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
