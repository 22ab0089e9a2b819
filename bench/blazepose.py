"""BlazePose Lite, Full and Heavy on the development photos and videos: what each costs and buys.

Run from the repository root (the Lite and Heavy files from ``../shared/models``)::

    python bench/blazepose.py [--engine solutions|tasks] [--photos N] [--classifiers knn svm]
                              [--world-features only|off|concat]
                              [--max-frames N] [--models ../shared/models]
                              [--data ../shared/data] [--fresh]

One run prints, for each model: time per photo (image mode, BlazePose only) and share of photos
with a person; landmark agreement with Heavy (median and 90th percentile over the photos both
found, of the mean distance of Heavy's visible landmarks, in % of Heavy's torso length); time
per frame on the dev videos (tracking mode, BlazePose only), also with the three models taking
turns on the first ``--speed-frames`` frames of the videos with a person from the start (fairer
on a shared machine; ``sit.mp4`` opens on an empty room, where only the detector runs), and
Lite's frame rate over Full's;
classification accuracy on each photo dataset, stratified 5-fold and leave-one-source-out
(bench/accuracy.py's functions), and a model trained on Full landmarks labelling this model's
landmarks of the held-out fold (the cost of a mismatch); rejection (bench/rejection.py's
in-class acceptance and out-of-class rejection at the 99th percentile); push-ups counted on
``pushup2.mp4`` and squats on ``squat.mp4`` against ``videos/annotations.json`` (models trained
on this model's photo landmarks as in bench/rejection.py, no negatives). The tables go to
``../cache/blazepose/<engine>_<model>/`` and are reused (``--fresh`` extracts again).

``--engine solutions`` (default) runs mediapipe's legacy graph, as a user who put the files in
mediapipe's folder gets: mediapipe is imported from a folder of links to the installed package
plus the two files (the venv is not written). ``--engine tasks`` runs the Tasks API on the
``.task`` files poseclf builds, as a user who installed the files in the poseclf user folder
gets (built in a temporary ``$POSECLF_HOME``). ``--photos N`` takes N photos per class (evenly
spaced) and ``--max-frames N`` the first N frames of each video, for a quick run.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import CACHE, DATA, EXCLUSIONS, REPO, image_datasets  # noqa: E402

from poseclf.classify.defaults import DEFAULT_CLASSIFIER, DEFAULT_WORLD_FEATURES  # noqa: E402

MODELS = REPO.parent / "shared" / "models"
NAMES = {0: "lite", 1: "full", 2: "heavy"}
LITE_OVER_FULL_TARGET = 1.8  # issue 19: Lite's frames per second over Full's, on video
PERCENTILE = 99.0
TIMING_VIDEOS = ("pushup2.mp4", "squat.mp4", "sit.mp4", "yoga.mp4")
SPEED_VIDEOS = ("pushup2.mp4", "squat.mp4", "yoga.mp4")  # a person from the first frame on


def mediapipe_overlay(models: Path, folder: Path) -> None:
    """Import mediapipe from ``folder``: links to the installed package, with Lite and Heavy
    beside Full in ``modules/pose_landmark`` (the legacy API reads its models there only)."""
    site = Path(importlib.util.find_spec("mediapipe").origin).parent
    link = folder / "mediapipe"
    link.mkdir(parents=True)
    for entry in site.iterdir():
        if entry.name != "modules":
            (link / entry.name).symlink_to(entry)
    (link / "modules").mkdir()
    for entry in (site / "modules").iterdir():
        if entry.name != "pose_landmark":
            (link / "modules" / entry.name).symlink_to(entry)
    landmark = link / "modules" / "pose_landmark"
    landmark.mkdir()
    for entry in (site / "modules" / "pose_landmark").iterdir():
        landmark.joinpath(entry.name).symlink_to(entry)
    for complexity in (0, 2):
        name = f"pose_landmark_{NAMES[complexity]}.tflite"
        landmark.joinpath(name).symlink_to((models / name).resolve())
    sys.path.insert(0, str(folder))
    assert "mediapipe" not in sys.modules, "mediapipe was imported before the overlay"


def extract_options(complexity: int, engine: str, models: Path):
    from poseclf.pose.extraction import ExtractOptions

    landmark = None if complexity == 1 or engine == "solutions" else (
        models / f"pose_landmark_{NAMES[complexity]}.tflite")
    options = ExtractOptions(complexity, backend=engine,
                             landmark_model=None if landmark is None else str(landmark)).check()
    assert options.backend == engine, options  # the engine asked for is the one that runs
    return options


class Timed:
    """An extractor that adds up the seconds its calls take, the first call left out (it
    starts the graph: TensorFlow Lite's delegate, and the detector in tracking mode)."""

    def __init__(self, extractor) -> None:
        self.extractor, self.seconds, self.calls, self.first = extractor, 0.0, 0, True

    def __call__(self, image):
        start = time.perf_counter()
        pose = self.extractor(image)
        if not self.first:
            self.seconds += time.perf_counter() - start
            self.calls += 1
        self.first = False
        return pose


def sample_photos(dataset: Path, n: int | None) -> list[Path]:
    """The photos of ``dataset``; with ``n``, at most ``n`` per class, evenly spaced."""
    from poseclf.pose.image_paths import is_image_path

    paths = sorted(p for p in dataset.rglob("*") if is_image_path(p))
    if n is None:
        return paths
    picked = []
    for folder in sorted({p.parent for p in paths}):
        inside = [p for p in paths if p.parent == folder]
        picked += [inside[int(i)] for i in np.unique(np.linspace(0, len(inside) - 1,
                                                                  min(n, len(inside))).round())]
    return picked


def extract_photos(dataset: Path, paths: list[Path], options) -> tuple[pd.DataFrame, float]:
    """The table of ``paths`` and the BlazePose seconds per photo (reading not counted)."""
    from poseclf.errors import ImageReadError
    from poseclf.pose.images import read_image
    from poseclf.pose.landmarks import NO_PERSON
    from poseclf.pose.poses import Poses
    from poseclf.pose.table import check_table

    poses, sizes, reasons = [], np.zeros((len(paths), 2)), []
    with options.extractor(True) as extractor:
        timed = Timed(extractor)
        for i, path in enumerate(paths):
            try:
                image = read_image(path)
            except ImageReadError as err:
                poses.append(None)
                reasons.append(f"unreadable: {err}")
                continue
            sizes[i] = image.shape[1], image.shape[0]
            poses.append(timed(image))
            reasons.append("" if poses[-1] is not None else NO_PERSON)
    rows = Poses.from_poses(poses, sizes).to_table(
        [str(p.relative_to(dataset)) for p in paths], [p.parent.name for p in paths], reasons)
    rows["extractor"] = options.tag
    return check_table(rows, dataset), timed.seconds / max(timed.calls, 1)


def photo_tables(args, complexity: int) -> dict[str, tuple[pd.DataFrame, float]]:
    """{dataset: (table, seconds per photo)}, cached in ``--cache``."""
    from poseclf.pose.table import load_table, save_table

    folder = args.cache / "blazepose" / f"{args.engine}_{NAMES[complexity]}_{args.photos or 'all'}"
    out = {}
    for dataset in image_datasets(args.data):
        table, timing = folder / f"{dataset.name}.csv", folder / f"{dataset.name}.json"
        if table.is_file() and timing.is_file() and not args.fresh:
            out[dataset.name] = load_table(table), json.loads(timing.read_text())["s_per_photo"]
            continue
        options = extract_options(complexity, args.engine, args.models)
        df, seconds = extract_photos(dataset, sample_photos(dataset, args.photos), options)
        save_table(df, table)
        timing.write_text(json.dumps({"s_per_photo": seconds}))
        out[dataset.name] = df, seconds
        print(f"  {NAMES[complexity]:5} {dataset.name}: {len(df)} photos, "
              f"{1e3 * seconds:.0f} ms/photo", flush=True)
    return out


def reviewed(tables: dict) -> dict[str, pd.DataFrame]:
    """The tables without the rows ``datasets/exclusions.csv`` names (as the shipped models)."""
    from poseclf.tables.exclusions import apply_exclusions, load_exclusions

    exclusions = load_exclusions([EXCLUSIONS])
    return {name: apply_exclusions(df, exclusions, name)[0] for name, (df, _) in tables.items()}


# -- landmark agreement ------------------------------------------------------------------------
def agreement(table: pd.DataFrame, heavy: pd.DataFrame) -> np.ndarray:
    """Per photo both found: mean pixel distance of Heavy's visible landmarks to this table's,
    over Heavy's torso length (shoulder centre to hip centre)."""
    from poseclf.pose.poses import Poses

    both = table[["path", "detected"]].merge(heavy[["path", "detected"]], on="path",
                                              suffixes=("", "_h"))
    paths = both["path"][both["detected"] & both["detected_h"]]
    if paths.empty:
        return np.array([])
    a = Poses.from_table(table.set_index("path").loc[paths].reset_index())
    h = Poses.from_table(heavy.set_index("path").loc[paths].reset_index())
    scale = h.image_sizes[:, None, :]
    pa, ph = a.landmarks[..., :2] * scale, h.landmarks[..., :2] * scale
    torso = np.linalg.norm(ph[:, 11:13].mean(1) - ph[:, 23:25].mean(1), axis=1)
    visible = h.landmarks[..., 3] > 0.5
    dist = np.linalg.norm(pa - ph, axis=2)
    mean = (dist * visible).sum(1) / np.maximum(visible.sum(1), 1)
    return 100 * mean / np.maximum(torso, 1.0)


# -- classification ----------------------------------------------------------------------------
def arrays(table: pd.DataFrame) -> tuple:
    from poseclf.pose.poses import training_arrays, training_world_landmarks

    lm, sizes, labels = training_arrays(table)
    return lm, sizes, labels.astype(str), training_world_landmarks(table)


def fold_accuracy(tables: dict, classifier: str, world: str) -> dict[str, float]:
    from poseclf.classify.evaluation import cross_validate_model

    return {name: cross_validate_model(*arrays(df)[:3], classifier,
                                       embedder_params={"world": world},
                                       world_landmarks=arrays(df)[3])["accuracy"]
            for name, df in tables.items()}


def cross_source(tables: dict, classifier: str, world: str) -> dict[str, float]:
    from accuracy import CROSS_SOURCE, SHORT, source_accuracy

    return {f"{SHORT.get(a, a)}>{SHORT.get(b, b)}": source_accuracy(
        arrays(tables[a]), arrays(tables[b]), classifier, {"embedder_params": {"world": world}})
        for a, b in CROSS_SOURCE if a in tables and b in tables}


def full_trained(full: dict, tables: dict, classifier: str, world: str) -> dict[str, float]:
    """5-fold over the photos both found: trained on Full's landmarks of the training folds,
    labelling this model's landmarks of the held-out fold."""
    from sklearn.model_selection import StratifiedKFold

    from poseclf.classify.pose_classifier import PoseClassifier
    from poseclf.classify.pose_rows import pose_rows

    out = {}
    for name, df in tables.items():
        f = full[name][full[name]["detected"]]
        m = df[df["detected"]]
        paths = sorted(set(f["path"]) & set(m["path"]))
        fa = arrays(f.set_index("path").loc[paths].reset_index())
        ma = arrays(m.set_index("path").loc[paths].reset_index())
        labels = fa[2]
        right = 0
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        for train, test in folds.split(labels, labels):
            est = PoseClassifier(classifier, rejection=False, embedder_params={"world": world})
            est.fit(pose_rows(fa[0][train], fa[1][train], fa[3][train]), labels[train])
            pred = est.predict(pose_rows(ma[0][test], ma[1][test], ma[3][test]))
            right += int(np.sum(pred == labels[test]))
        out[name] = right / len(labels)
    return out


def rejection(tables: dict, classifier: str) -> tuple[float, float]:
    """Mean in-class acceptance (held-out folds) and mean out-of-class rejection."""
    from rejection import _train, in_class, load_data, out_of_class

    data = {name: load_data(df, world=True) for name, df in tables.items()}
    accepted = np.mean([s["acceptance"] for s in in_class(data, classifier, PERCENTILE).values()])
    models = {name: _train(d, classifier, PERCENTILE) for name, d in data.items()}
    rejected = np.mean([s for row in out_of_class(data, models).values() for s in row.values()])
    return float(accepted), float(rejected)


# -- videos ------------------------------------------------------------------------------------
def count_model(tables: dict, sources: dict, classifier: str):
    from rejection import _train, concat, load_data

    parts = []
    for label, folders in sources.items():
        for dataset, folder in folders:
            df = tables[dataset]
            df = df[df["detected"] & (df["label"] == folder)].copy()
            df["label"] = label
            parts.append(load_data(df, world=True))
    return _train(concat(parts), classifier, PERCENTILE)


def video_pass(video: Path, options, model=None, count: str | None = None,
               max_frames: int | None = None) -> dict:
    """One tracking pass over ``video``: BlazePose seconds, frames, frames with a pose, and the
    repetitions of ``count`` (``poseclf video``'s smoothing and counter) when a model is given."""
    from poseclf.pose.video_sources import iter_frames, open_source
    from poseclf.video.run import label_frames, make_smoother_and_counter

    capture, info = open_source(video)
    frames_in = itertools.islice(iter_frames(capture), max_frames)
    found = frames = 0
    repetitions = None
    with options.extractor(False) as extractor:
        timed = Timed(extractor)
        if model is None:
            for frame in frames_in:
                found += timed(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)) is not None
                frames += 1
        else:
            smoother, counter = make_smoother_and_counter(model.classes_, info, count=count)
            for result in label_frames(frames_in, timed, model, smoother, counter):
                found += result.pose is not None
                frames += 1
                repetitions = result.repetitions
    capture.release()
    return {"seconds": timed.seconds, "frames": frames, "timed": timed.calls, "found": found,
            "repetitions": repetitions}


def videos(args, complexity: int, tables: dict, classifier: str) -> dict[str, dict]:
    from rejection import VIDEO_TASKS

    options = extract_options(complexity, args.engine, args.models)
    tasks = {video: (sources, count) for video, sources, count in VIDEO_TASKS}
    out = {}
    for video in TIMING_VIDEOS:
        path = args.data / "videos" / video
        if not path.is_file():
            continue
        if video in tasks and all(d in tables for folders in tasks[video][0].values()
                                  for d, _ in folders):
            sources, count = tasks[video]
            out[video] = video_pass(path, options, count_model(tables, sources, classifier),
                                    count, args.max_frames)
        else:
            out[video] = video_pass(path, options, max_frames=args.max_frames)
        print(f"  {NAMES[complexity]:5} {video}: {out[video]['frames']} frames, "
              f"{1e3 * out[video]['seconds'] / out[video]['frames']:.1f} ms/frame, "
              f"repetitions {out[video]['repetitions']}", flush=True)
    return out


def interleaved_speed(args) -> dict[int, float]:
    """BlazePose ms per frame of each model in tracking mode, the models taking turns on the
    first ``--speed-frames`` frames of each video, ``--speed-rounds`` times; per model the
    fastest round (the least disturbed by other processes on a shared machine)."""
    options = {c: extract_options(c, args.engine, args.models) for c in NAMES}
    best = {c: np.inf for c in NAMES}
    for _ in range(args.speed_rounds):
        totals = {c: [0.0, 0] for c in NAMES}
        for video in SPEED_VIDEOS:
            path = args.data / "videos" / video
            if path.is_file():
                for c in NAMES:
                    run = video_pass(path, options[c], max_frames=args.speed_frames)
                    totals[c][0] += run["seconds"]
                    totals[c][1] += run["timed"]
        for c, (seconds, frames) in totals.items():
            best[c] = min(best[c], 1e3 * seconds / frames)
    print("  interleaved ms/frame: " + ", ".join(f"{NAMES[c]} {best[c]:.1f}" for c in NAMES))
    return best


# -- report ------------------------------------------------------------------------------------
def _mean(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else float("nan")


def report(results: dict, args) -> None:
    annotations = json.loads((args.data / "videos" / "annotations.json").read_text())
    names = [NAMES[c] for c in results]
    rows: list[tuple[str, list[str]]] = []

    def row(what: str, cell) -> None:
        rows.append((what, [cell(results[c]) for c in results]))

    n_photos = sum(len(df) for df, _ in next(iter(results.values()))["photos"].values())

    def pct(value: float) -> str:
        return f"{100 * value:.1f} %"

    row("BlazePose per photo, image mode (ms)",
        lambda r: f"{1e3 * _mean(s for _, s in r['photos'].values()):.0f}")
    row(f"photos with a person (of {n_photos})",
        lambda r: pct(sum(df["detected"].sum() for df, _ in r["photos"].values()) / n_photos))
    row("landmark distance to Heavy, median (% torso)",
        lambda r: f"{np.median(r['agreement']):.1f}" if len(r["agreement"]) else "-")
    row("landmark distance to Heavy, 90th pct (% torso)",
        lambda r: f"{np.percentile(r['agreement'], 90):.1f}" if len(r["agreement"]) else "-")

    def frame_ms(r) -> float:
        return 1e3 * sum(v["seconds"] for v in r["videos"].values()) / sum(
            v["timed"] for v in r["videos"].values())

    n_frames = sum(v["frames"] for v in next(iter(results.values()))["videos"].values())
    row(f"BlazePose per frame, tracking (ms, {n_frames} frames)", lambda r: f"{frame_ms(r):.1f}")
    row("frames per second (BlazePose only)", lambda r: f"{1e3 / frame_ms(r):.1f}")
    row("video frames with a person",
        lambda r: pct(sum(v["found"] for v in r["videos"].values()) / n_frames))
    for clf in args.classifiers:
        row(f"{clf} 5-fold accuracy, mean of datasets",
            lambda r, c=clf: pct(_mean(r["folds"][c].values())))
        row(f"{clf} leave-one-source-out, mean of pairs",
            lambda r, c=clf: pct(_mean(r["cross"][c].values())))
        row(f"{clf} trained on Full, 5-fold on these",
            lambda r, c=clf: pct(_mean(r["full_trained"][c].values())))
    row(f"in-class poses accepted ({args.classifiers[0]}, p{PERCENTILE:g})",
        lambda r: pct(r["rejection"][0]))
    row("other datasets' poses rejected", lambda r: pct(r["rejection"][1]))
    for video, what in (("pushup2.mp4", "push-ups"), ("squat.mp4", "squats")):
        true = annotations.get(video, {}).get("repetitions", {}).get("count")
        row(f"{what} counted on {video} (true {true})",
            lambda r, v=video: str(r["videos"].get(v, {}).get("repetitions", "-")))
    print(f"\nBlazePose models, engine {args.engine!r}, "
          f"{'all' if args.photos is None else args.photos} photos per class, "
          f"accuracy rows on features {args.world_features!r}\n")
    speed = next(iter(results.values())).get("interleaved")
    if speed:
        rows.insert(6, (f"ms per frame, models taking turns ({args.speed_frames} frames a "
                        f"video, best of {args.speed_rounds})",
                        [f"{speed[c]:.1f}" for c in results]))
    print("| | " + " | ".join(n.capitalize() for n in names) + " |")
    print("|---|" + "---:|" * len(names))
    for what, cells in rows:
        print(f"| {what} | " + " | ".join(cells) + " |")
    if 0 in results and 1 in results:
        ratios = [("whole videos, one model after the other",
                   frame_ms(results[1]) / frame_ms(results[0]))]
        if speed:
            ratios.append(("models taking turns", speed[1] / speed[0]))
        for how, ratio in ratios:
            verdict = "met" if ratio >= LITE_OVER_FULL_TARGET else "NOT met"
            print(f"\nLite / Full frames per second on video ({how}): {ratio:.2f}x "
                  f"(target >= {LITE_OVER_FULL_TARGET}x: {verdict})")
    for clf in args.classifiers:
        for key in ("folds", "cross", "full_trained"):
            print(f"{clf} {key}: " + "; ".join(
                f"{NAMES[c]} " + ", ".join(f"{k} {100 * v:.1f}" for k, v in r[key][clf].items())
                for c, r in results.items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("solutions", "tasks"), default="solutions")
    parser.add_argument("--photos", type=int, default=None, metavar="N",
                        help="N photos per class, evenly spaced (default: all)")
    parser.add_argument("--max-frames", type=int, default=None, metavar="N",
                        help="the first N frames of each video (default: all)")
    parser.add_argument("--speed-frames", type=int, default=150, metavar="N",
                        help="frames per video of the interleaved speed runs (default: 150)")
    parser.add_argument("--speed-rounds", type=int, default=2, metavar="N",
                        help="interleaved speed runs, the fastest kept (default: 2; 0: none)")
    parser.add_argument("--classifiers", nargs="+", default=[DEFAULT_CLASSIFIER],
                        help=f"classifiers compared (default: {DEFAULT_CLASSIFIER}, poseclf "
                             "train's); rejection and counts use the first")
    parser.add_argument("--world-features", choices=("off", "only", "concat"),
                        default=DEFAULT_WORLD_FEATURES,
                        help=f"features of the accuracy rows (default: {DEFAULT_WORLD_FEATURES}, "
                             "poseclf train's; rejection and counts always use train's)")
    parser.add_argument("--models", type=Path, default=MODELS)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--fresh", action="store_true", help="extract the photos again")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["POSECLF_HOME"] = str(Path(tmp) / "home")  # built .task files go here
        if args.engine == "solutions":
            mediapipe_overlay(args.models, Path(tmp) / "overlay")
        start = time.perf_counter()
        results = {}
        for complexity in (2, 1, 0):  # Heavy first: the others are compared with it
            print(f"BlazePose {NAMES[complexity]}", flush=True)
            found = photo_tables(args, complexity)
            tables = reviewed(found)
            r = results[complexity] = {"photos": found}
            r["agreement"] = np.concatenate([
                agreement(df, results[2]["photos"][name][0]) for name, (df, _) in found.items()])
            world = args.world_features
            r["folds"] = {c: fold_accuracy(tables, c, world) for c in args.classifiers}
            r["cross"] = {c: cross_source(tables, c, world) for c in args.classifiers}
            r["tables"] = tables
            r["videos"] = videos(args, complexity, tables, args.classifiers[0])
            r["rejection"] = rejection(tables, args.classifiers[0])
        for r in results.values():
            r["full_trained"] = {c: full_trained(results[1]["tables"], r["tables"], c,
                                              args.world_features)
                                 for c in args.classifiers}
        results = {c: results[c] for c in (0, 1, 2)}
        if args.speed_rounds:
            results[0]["interleaved"] = interleaved_speed(args)
        report(results, args)
        print(f"\n{time.perf_counter() - start:.0f} s in all")
    return 0


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=pd.errors.PerformanceWarning)
    sys.exit(main())
