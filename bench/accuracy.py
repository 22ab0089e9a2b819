"""Accuracy and speed of the poseclf classifiers against a plain MediaPipe-style k-NN.

Run from the repository root::

    python bench/accuracy.py [--view-options] [--classifiers knn svm] [--data ../shared/data]

Prints, in one run: stratified 5-fold accuracy of each classifier on each table (in-source),
leave-one-source-out accuracy (train on one source, test on the classes it shares with another:
the yoga sources both ways, the sit/stand sources both ways, push-up photos and video frames both
ways), each beside MediaPipe's reference k-NN, and the per-pose prediction time of the
classifiers against the reference loop.

The tables are the landmark tables in ``datasets/`` with the reviewed rows of
``datasets/exclusions.csv`` left out (as the shipped models are trained), world landmarks
included; ``--data`` extracts them from image folders instead (cached in ``--cache``).
``--view-options`` adds, for each classifier, a row per option of issue 17 (view augmentation
from world landmarks, 3D world features: :data:`VIEW_OPTIONS`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from poseclf.classify.classifiers import CLASSIFIERS
from poseclf.classify.embedding import mirror_landmarks
from poseclf.classify.evaluation import cross_validate_model
from poseclf.classify.model import PoseModel
from poseclf.classify.pose_classifier import PoseClassifier
from poseclf.classify.pose_rows import pose_rows
from poseclf.errors import ImageReadError
from poseclf.pose.image_paths import is_image_path
from poseclf.pose.images import read_image
from poseclf.pose.landmarks import NO_PERSON
from poseclf.pose.poses import Poses, training_arrays, training_world_landmarks
from poseclf.pose.table import check_table, load_table, save_table

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
TABLES = REPO / "datasets"  # landmark tables the project extracted (see datasets/README.md)
CACHE = REPO.parent / "cache"  # outside the repository
EXCLUSIONS = REPO / "datasets" / "exclusions.csv"  # rows left out after review (bad detections)


def image_datasets(data: Path) -> list[Path]:
    """Dataset folders (``<dataset>/<class>/<image>``) under ``data``, sorted by name."""
    return sorted(
        d for d in data.iterdir()
        if d.is_dir() and any(c.is_dir() and any(map(is_image_path, c.iterdir()))
                              for c in d.iterdir())
    )


def extract_table(dataset: Path) -> pd.DataFrame:
    """Landmark table of one dataset folder: a plain loop over read_image + PoseExtractor."""
    from poseclf.pose.extraction import PoseExtractor

    paths = sorted(p for p in dataset.rglob("*") if is_image_path(p))
    poses, sizes, reasons = [], np.zeros((len(paths), 2)), []
    with PoseExtractor(static_image_mode=True) as extractor:
        for i, path in enumerate(paths):
            try:
                image = read_image(path)
            except ImageReadError as err:
                poses.append(None)
                reasons.append(f"unreadable: {err}")
                continue
            sizes[i] = image.shape[1], image.shape[0]
            poses.append(extractor(image))
            reasons.append("" if poses[-1] is not None else NO_PERSON)
    rows = Poses.from_poses(poses, sizes).to_table(
        [str(p.relative_to(dataset)) for p in paths], [p.parent.name for p in paths], reasons)
    return check_table(rows, dataset)


def cached_table(dataset: Path, cache: Path = CACHE) -> pd.DataFrame:
    """The dataset's landmark table from ``cache/<name>.csv``, extracted on first use."""
    path = cache / f"{dataset.name}.csv"  # CSV: pyarrow may not import
    if path.is_file():
        return load_table(path)
    df = extract_table(dataset)
    save_table(df, path)
    return df


def reviewed_table(dataset: Path, cache: Path = CACHE, exclude: bool = True) -> pd.DataFrame:
    """:func:`cached_table` without the rows :data:`EXCLUSIONS` names for this dataset, as
    ``poseclf train --exclude datasets/exclusions.csv`` trains the shipped models."""
    from poseclf.tables.exclusions import apply_exclusions, load_exclusions

    table = cached_table(dataset, cache)
    if not exclude:
        return table
    return apply_exclusions(table, load_exclusions([EXCLUSIONS]), dataset.name)[0]


# -- reference: MediaPipe pose-classification k-NN, written plainly (one Python loop per pose) --
REF_TOP_N_BY_MAX = 30  # published constants of the MediaPipe pose-classification colab
REF_TOP_N_BY_MEAN = 10
REF_AXES_WEIGHTS = np.array([1.0, 1.0, 0.2])
REF_TORSO_MULTIPLIER = 2.5
_NAMES = {}


def _ref_embed(points: np.ndarray) -> np.ndarray:
    """MediaPipe's FullBodyPoseEmbedder on one (33, 3) pixel array: (23, 3) differences."""
    from poseclf.pose.landmarks import LANDMARK_NAMES

    if not _NAMES:
        _NAMES.update({n: i for i, n in enumerate(LANDMARK_NAMES)})

    def avg(a, b):
        return (points[_NAMES[a]] + points[_NAMES[b]]) * 0.5

    hips = avg("left_hip", "right_hip")
    torso = np.linalg.norm(avg("left_shoulder", "right_shoulder")[:2] - hips[:2])
    max_dist = np.max(np.linalg.norm(points[:, :2] - hips[:2], axis=1))
    size = max(torso * REF_TORSO_MULTIPLIER, max_dist)
    points = (points - hips) / size * 100
    pairs = [("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
             ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
             ("left_hip", "left_knee"), ("right_hip", "right_knee"),
             ("left_knee", "left_ankle"), ("right_knee", "right_ankle"),
             ("left_shoulder", "left_wrist"), ("right_shoulder", "right_wrist"),
             ("left_hip", "left_ankle"), ("right_hip", "right_ankle"),
             ("left_hip", "left_wrist"), ("right_hip", "right_wrist"),
             ("left_shoulder", "left_ankle"), ("right_shoulder", "right_ankle"),
             ("left_hip", "left_wrist"), ("right_hip", "right_wrist"),
             ("left_elbow", "right_elbow"), ("left_knee", "right_knee"),
             ("left_wrist", "right_wrist"), ("left_ankle", "right_ankle")]
    rows = [avg("left_shoulder", "right_shoulder") - avg("left_hip", "right_hip")]
    rows += [points[_NAMES[b]] - points[_NAMES[a]] for a, b in pairs]
    rows[0] = rows[0] / size * 100
    return np.array(rows)


def _ref_points(landmarks: np.ndarray, size: np.ndarray) -> np.ndarray:
    w, h = size
    return landmarks[:, :3] * np.array([w, h, w])


class ReferenceKNN:
    """The colab's PoseClassifier: per-sample loops, x-flipped query, majority of 10 votes."""

    def fit(self, landmarks, sizes, labels):
        self.samples = [(_ref_embed(_ref_points(lm, s)), y)
                        for lm, s, y in zip(landmarks, sizes, labels, strict=True)]
        return self

    def predict_one(self, landmarks: np.ndarray, size: np.ndarray) -> str:
        points = _ref_points(landmarks, size)
        emb = _ref_embed(points)
        flipped = _ref_embed(points * np.array([-1, 1, 1]))
        max_d = []
        for i, (s, _) in enumerate(self.samples):
            d = min(np.max(np.abs(s - emb) * REF_AXES_WEIGHTS),
                    np.max(np.abs(s - flipped) * REF_AXES_WEIGHTS))
            max_d.append((d, i))
        max_d = sorted(max_d, key=lambda t: t[0])[:REF_TOP_N_BY_MAX]
        mean_d = []
        for _, i in max_d:
            s = self.samples[i][0]
            d = min(np.mean(np.abs(s - emb) * REF_AXES_WEIGHTS),
                    np.mean(np.abs(s - flipped) * REF_AXES_WEIGHTS))
            mean_d.append((d, i))
        mean_d = sorted(mean_d, key=lambda t: t[0])[:REF_TOP_N_BY_MEAN]
        votes: dict[str, int] = {}
        for _, i in mean_d:
            votes[self.samples[i][1]] = votes.get(self.samples[i][1], 0) + 1
        return max(votes, key=votes.get)

    def predict(self, landmarks, sizes) -> np.ndarray:
        return np.array([self.predict_one(lm, s) for lm, s in zip(landmarks, sizes, strict=True)])


def reference_cv_accuracy(lm, sizes, labels, cv: int = 5) -> float:
    from sklearn.model_selection import StratifiedKFold

    _, counts = np.unique(labels, return_counts=True)
    folds = StratifiedKFold(min(cv, counts.min()), shuffle=True, random_state=0)
    pred = np.empty(len(labels), dtype=object)
    for train, test in folds.split(lm, labels):
        pred[test] = ReferenceKNN().fit(lm[train], sizes[train], labels[train]).predict(
            lm[test], sizes[test])
    return float(np.mean(pred == labels))


# -- the benchmark ------------------------------------------------------------------------------
CROSS_SOURCE = [  # (train dataset, test dataset): classes they share are compared
    ("yoga_manoj", "yoga_marchenkova"),
    ("yoga_marchenkova", "yoga_manoj"),
    ("sitstand_multimediaimg", "sitstand_rhpr"),
    ("sitstand_rhpr", "sitstand_multimediaimg"),
    ("pushups_visolus", "pushup_video"),  # push-up photos -> frames of one video
    ("pushup_video", "pushups_visolus"),
]
#: Short column names of the tables.
SHORT = {"yoga_manoj": "manoj", "yoga_marchenkova": "march", "sitstand_multimediaimg": "mmi",
         "sitstand_rhpr": "rhpr", "pushups_visolus": "photo", "pushup_video": "video",
         "sit_video": "sitvid"}
#: ``--view-options``: name -> PoseClassifier parameters (issue 17's options, alone and combined)
VIEW_OPTIONS: dict[str, dict] = {
    "picture only": {},  # PoseClassifier's own default (poseclf train's is "world only")
    "views 15,30": {"views": (15, 30)},
    "views 15,30 p10": {"views": (15, 30), "view_pitch": 10},
    "world only": {"embedder_params": {"world": "only"}},
    "world concat": {"embedder_params": {"world": "concat"}},
    "world only+views": {"embedder_params": {"world": "only"}, "views": (15, 30)},
    "concat+views": {"embedder_params": {"world": "concat"}, "views": (15, 30)},
    # yaw views of yaw-normalised 3D features are copies: for the k-NN, 5 copies of each pose
    # are neighbour counts 30/10 divided by 5; this row shows it (k-NN only)
    "world only, k 6/2": {"embedder_params": {"world": "only"}, "only": "knn",
                          "classifier_params": {"top_n_by_max_distance": 6,
                                                "top_n_by_mean_distance": 2}},
}


def _row(name: str, cells: list[str], width: int = 8) -> str:
    return f"{name:<28}" + "".join(f"{c:>{width}}" for c in cells)


def _options(base: dict, option: dict) -> dict:
    """PoseClassifier parameters: the command line's embedder parameters, then ``option``."""
    embedder = {**(base.get("embedder_params") or {}), **(option.get("embedder_params") or {})}
    return {**option, "embedder_params": embedder}


def _applying(options: dict, classifier: str) -> list[tuple[str, dict]]:
    """The options that apply to ``classifier`` (without their ``only`` key)."""
    return [(name, {k: v for k, v in params.items() if k != "only"})
            for name, params in options.items() if params.get("only", classifier) == classifier]


def fold_accuracy_table(tables: dict, classifiers, options: dict) -> None:
    """In-source: stratified 5-fold accuracy on each table (augmentation on training folds)."""
    print("\nIn-source: stratified 5-fold accuracy (%), augmentation on the training folds only")
    names = list(tables)
    print(_row("classifier / option", [SHORT.get(n, n[:7]) for n in names]), flush=True)
    print(_row("reference k-NN (loop)", [
        f"{100 * reference_cv_accuracy(*tables[n][:3]):.1f}" for n in names]), flush=True)
    for clf in classifiers:
        for name, params in _applying(options, clf):
            scores = [cross_validate_model(*tables[n][:3], clf, world_landmarks=tables[n][3],
                                           **params) for n in names]
            print(_row(f"{clf} {name}", [f"{100 * r['accuracy']:.1f}" for r in scores]),
                  flush=True)


def source_accuracy(train: tuple, test: tuple, classifier: str, params: dict) -> float:
    """Accuracy on ``test`` (landmarks, sizes, labels, world) of a classifier fitted on
    ``train``, both restricted to their shared classes; no rejection (compared elsewhere)."""
    shared = sorted(set(train[2]) & set(test[2]))
    ka, kb = np.isin(train[2], shared), np.isin(test[2], shared)
    est = PoseClassifier(classifier, rejection=False, **params)
    est.fit(pose_rows(train[0][ka], train[1][ka], train[3][ka]), train[2][ka])
    pred = est.predict(pose_rows(test[0][kb], test[1][kb], test[3][kb]))
    return float(np.mean(pred == test[2][kb]))


def cross_source_table(tables: dict, classifiers, options: dict) -> None:
    """Leave-one-source-out: train on one source, test on the shared classes of another."""
    print("\nLeave-one-source-out accuracy (%): train on one source, test on the classes it "
          "shares with another")
    pairs = [(a, b) for a, b in CROSS_SOURCE if a in tables and b in tables]
    print(_row("classifier / option", [f"{SHORT.get(a, a[:3])}>{SHORT.get(b, b[:3])}"
                                       for a, b in pairs], 12), flush=True)
    ref = []
    for a, b in pairs:
        (lm_a, s_a, y_a, _), (lm_b, s_b, y_b, _) = tables[a], tables[b]
        shared = sorted(set(y_a) & set(y_b))
        ka, kb = np.isin(y_a, shared), np.isin(y_b, shared)
        pred = ReferenceKNN().fit(lm_a[ka], s_a[ka], y_a[ka]).predict(lm_b[kb], s_b[kb])
        ref.append(f"{100 * np.mean(pred == y_b[kb]):.1f}")
    print(_row("reference k-NN (loop)", ref, 12), flush=True)
    for clf in classifiers:
        for name, params in _applying(options, clf):
            cells = [100 * source_accuracy(tables[a], tables[b], clf, params) for a, b in pairs]
            print(_row(f"{clf} {name}", [f"{c:.1f}" for c in cells], 12), flush=True)


def speed_table(tables: dict, n_train: int = 1000, n_queries: int = 200) -> None:
    tables = {name: t[:3] for name, t in tables.items()}
    lm = np.concatenate([t[0] for t in tables.values()])
    sizes = np.concatenate([t[1] for t in tables.values()])
    labels = np.concatenate([t[2] for t in tables.values()])
    lm = np.concatenate([lm, mirror_landmarks(lm)])
    sizes, labels = np.concatenate([sizes, sizes]), np.concatenate([labels, labels])
    rng = np.random.default_rng(0)
    pick = rng.choice(len(lm), n_train, replace=False)
    queries = rng.choice(len(lm), n_queries, replace=False)
    print(f"\nPer-pose prediction time, {n_train} training poses, {n_queries} single-pose calls")
    ref = ReferenceKNN().fit(lm[pick], sizes[pick], labels[pick])
    t0 = time.perf_counter()
    for q in queries[:50]:
        ref.predict_one(lm[q], sizes[q])
    t_ref = (time.perf_counter() - t0) / 50
    print(f"{'reference k-NN (loop)':<24}{t_ref * 1e3:9.3f} ms   (targets: k-NN >= 50x, "
          "single pose < 1 ms; timings are the best of 3 passes, other load inflates them)")
    for clf in CLASSIFIERS:
        model = PoseModel.train(lm[pick], sizes[pick], labels[pick], clf, cv=0, mirror=False)
        t, t_batch = np.inf, np.inf
        for _ in range(3):  # best of 3: the least disturbed by other processes
            t0 = time.perf_counter()
            for q in queries:
                model.predict_proba(lm[q:q + 1], sizes[q:q + 1])
            t = min(t, (time.perf_counter() - t0) / n_queries)
            t0 = time.perf_counter()
            model.predict_proba(lm[queries], sizes[queries])
            t_batch = min(t_batch, (time.perf_counter() - t0) / n_queries)
        print(f"{clf:<24}{t * 1e3:9.3f} ms single, {t_batch * 1e3:7.3f} ms/pose batched, "
              f"speed-up vs reference: {t_ref / t:4.0f}x single, {t_ref / t_batch:5.0f}x batched")


def project_tables(folder: Path = TABLES) -> dict[str, pd.DataFrame]:
    """The landmark tables of ``datasets/`` (``*_segments.csv`` and lists are not tables),
    without the rows :data:`EXCLUSIONS` names."""
    from poseclf.tables.exclusions import apply_exclusions, load_exclusions

    exclusions = load_exclusions([EXCLUSIONS])
    out = {}
    for path in sorted(folder.glob("*.csv")):
        if path == EXCLUSIONS or path.stem.endswith("_segments"):
            continue
        out[path.stem] = apply_exclusions(load_table(path), exclusions, path.stem)[0]
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None,
                        help=f"extract the tables from the image folders here (e.g. {DATA}) "
                        "instead of reading datasets/*.csv")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--view-options", action="store_true",
                        help="also each option of issue 17: " + ", ".join(VIEW_OPTIONS))
    parser.add_argument("--classifiers", nargs="+", default=list(CLASSIFIERS))
    parser.add_argument("--pairs", default="mediapipe", choices=("mediapipe", "all"))
    parser.add_argument("--angles", action="store_true")
    parser.add_argument("--directions", action="store_true",
                        help="add unit limb-direction features (PoseEmbedder(directions=True))")
    parser.add_argument("--speed-only", action="store_true",
                        help="only the per-pose prediction time table")
    args = parser.parse_args(argv)
    embedder_params = {"pairs": args.pairs, "angles": args.angles,
                       "directions": args.directions}
    if args.data is not None:
        found = {d.name: cached_table(d, args.cache) for d in image_datasets(args.data)}
    else:
        found = project_tables()
    tables = {}
    for name, table in found.items():
        lm, sizes, labels = training_arrays(table)
        if len(set(labels)) < 2:  # e.g. the fall clips' lying rows: nothing to tell apart
            print(f"{name}: {len(labels)} poses, 1 class: not measured")
            continue
        tables[name] = (lm, sizes, labels.astype(str), training_world_landmarks(table))
        print(f"{name}: {len(labels)} poses, {len(set(labels))} classes")
    print(f"embedder: {embedder_params}")
    chosen = VIEW_OPTIONS if args.view_options else {"default": {}}
    options = {name: _options({"embedder_params": embedder_params}, option)
               for name, option in chosen.items()}
    if not args.speed_only:
        fold_accuracy_table(tables, args.classifiers, options)
        cross_source_table(tables, args.classifiers, options)
    speed_table(tables)


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    main()
