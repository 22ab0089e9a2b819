"""Golden outputs of poseclf: what ``tests/test_same_outputs.py`` compares today's outputs with.

    python tests/golden/make_golden.py [--out DIR] [ITEM ...]

rewrites the golden files (all items, or the ones named: predictions, training, extraction,
video) in ``tests/golden/`` (or ``DIR``), from the poseclf that ``import poseclf`` finds and the
``models/`` and ``datasets/`` beside it. To pin an older commit, run this file with
``PYTHONPATH`` pointing at a checkout of it. The items that need ``../shared/data`` (extraction,
video) are left as they are when it is absent. ``POSECLF_UPDATE_GOLDEN=1 pytest
tests/test_same_outputs.py`` does the same from the test.

Every golden file is a CSV. Numbers are rounded (probabilities, novelty scores and figures to
:data:`DECIMALS`, landmarks to :data:`LANDMARK_DECIMALS`); the test compares them to within one
unit of that rounding, so a value sitting on a rounding boundary cannot make it flaky.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

GOLDEN = Path(__file__).resolve().parent
TESTS = GOLDEN.parent
if str(TESTS) not in sys.path:  # run as a script: conftest is how the tests find ../shared
    sys.path.insert(0, str(TESTS))

from conftest import SHARED_DATA  # noqa: E402

import poseclf  # noqa: E402

if TYPE_CHECKING:
    from poseclf.classify.model import PoseModel

#: The checkout whose code, models/ and datasets/ are pinned (the one ``import poseclf`` finds).
SOURCE = Path(poseclf.__file__).resolve().parents[1]
MODELS = SOURCE / "models"
DATASETS = SOURCE / "datasets"

DECIMALS = 6  # probabilities, novelty scores, thresholds, figures
LANDMARK_DECIMALS = 4  # BlazePose landmarks (bit-identical run to run on one CPU)

#: Shipped model -> the development tables of its task (its card's "Training tables").
MODEL_TABLES: dict[str, tuple[str, ...]] = {
    "pushups": ("pushups_visolus", "pushup_video"),
    "sitstand": ("sitstand_multimediaimg", "sitstand_rhpr", "sit_video"),
    "sitstandlie": ("sitstand_multimediaimg", "sitstand_rhpr", "sit_video", "falls_lying_s1",
                    "falls_lying_s3"),
    "yoga": ("yoga_manoj", "yoga_marchenkova"),
}
TRAIN_TABLE = "pushups_visolus"  # 91 rows, 2 classes: trains in about a second
TRAIN_EXCLUDE = "exclusions.csv"  # as models/build.sh trains the shipped models
TRAIN_CLASSIFIERS = ("svm", "knn")
#: Real photos for the extraction item: (data set, class, file), 2 classes x 2.
PHOTOS: tuple[tuple[str, str, str], ...] = (
    ("sitstand_multimediaimg", "sitting", "sittin3.jpg"),
    ("sitstand_multimediaimg", "sitting", "sitting1.jpg"),
    ("sitstand_multimediaimg", "standing", "1.jpg"),
    ("sitstand_multimediaimg", "standing", "11.jpg"),
)
VIDEO = "pushup2.mp4"  # in SHARED_DATA/videos
VIDEO_FRAMES = 180  # the first 6 s at 30 fps: one complete push-up (bottom at frame 110)
VIDEO_MODEL = "pushups"
VIDEO_COUNT = "pushups_down"  # as `poseclf video --count pushups_down`

Row = dict[str, str]


@dataclass(frozen=True)
class Item:
    """One golden file: its name, the columns that name a row, and how to compute its rows."""

    file: str
    key: tuple[str, ...]
    rows: Callable[[Path], list[Row]]  # argument: an empty scratch folder
    needs_shared: bool = False


# -- formatting ----------------------------------------------------------------------------------
def number(value, decimals: int = DECIMALS) -> str:
    """A float rounded to ``decimals``, written without exponent ('' for NaN or None)."""
    if value is None or not np.isfinite(value):
        return ""
    rounded = round(float(value), decimals) + 0.0  # + 0.0: no "-0"
    return np.format_float_positional(rounded, trim="-")


def prediction_columns(classes: Sequence[str], proba: np.ndarray | None,
                       prefix: str = "p_") -> Row:
    """One ``p_<class>`` column per class ('' without probabilities)."""
    return {f"{prefix}{c}": "" if proba is None else number(p)
            for c, p in zip(classes, proba if proba is not None else [None] * len(classes),
                            strict=True)}


# -- 1. shipped models on the committed tables ---------------------------------------------------
def shipped_model_names() -> list[str]:
    """Every model file in models/, by name."""
    return sorted(p.stem for p in MODELS.glob("*.skops"))


def predictions_rows(model_name: str) -> list[Row]:
    """The shipped model on every row of its task's tables: label (with rejection), novelty,
    the same with image landmarks only, and the class probabilities."""
    from poseclf.classify.model import PoseModel
    from poseclf.pose.poses import training_arrays, training_world_landmarks
    from poseclf.pose.table import load_table

    model = PoseModel.load(MODELS / f"{model_name}.skops")
    rows: list[Row] = []
    for name in MODEL_TABLES[model_name]:
        table = load_table(DATASETS / f"{name}.csv")
        landmarks, sizes, _ = training_arrays(table)
        both = model.predict_with_scores(landmarks, sizes,
                                         world_landmarks=training_world_landmarks(table))
        image = model.predict_with_scores(landmarks, sizes)
        found = iter(range(len(landmarks)))
        for path, truth, detected, reason in zip(table["path"], table["label"],
                                                 table["detected"], table["reason"], strict=True):
            row = {"table": name, "path": path, "true_label": truth}
            if not detected:  # no pose to classify: the table's reason (no_person)
                row.update(label=reason, novelty="", label_image_only=reason,
                           novelty_image_only="")
                row.update(prediction_columns(model.classes_, None))
            else:
                i = next(found)
                row.update(label=str(both.labels[i]), novelty=number(both.novelty[i]),
                           label_image_only=str(image.labels[i]),
                           novelty_image_only=number(image.novelty[i]))
                row.update(prediction_columns(model.classes_, both.proba[i]))
            rows.append(row)
    return rows


# -- 2. training ---------------------------------------------------------------------------------
def _train(classifier: str) -> PoseModel:
    """A model trained as ``poseclf train TABLE --exclude datasets/exclusions.csv
    --classifier CLASSIFIER`` trains it (every other option at its default)."""
    from poseclf.classify.evaluation import check_training_labels
    from poseclf.classify.model import PoseModel
    from poseclf.classify.negatives import everyday_negatives
    from poseclf.classify.novelty import DEFAULT_PERCENTILE
    from poseclf.classify.visibility import PARTIAL_MAX_HIDDEN_JOINTS, PARTIAL_MIN_VISIBILITY
    from poseclf.cli.train import DEFAULT_CV
    from poseclf.pose.poses import training_arrays, training_world_landmarks
    from poseclf.tables.exclusions import load_training_tables

    table, _ = load_training_tables([DATASETS / f"{TRAIN_TABLE}.csv"],
                                    [DATASETS / TRAIN_EXCLUDE])
    landmarks, sizes, labels = training_arrays(table)
    check_training_labels(labels)
    return PoseModel.train(
        landmarks, sizes, labels, classifier, cv=DEFAULT_CV, mirror=True,
        classifier_params=None, novelty_params={"percentile": DEFAULT_PERCENTILE},
        world_landmarks=training_world_landmarks(table), negatives=everyday_negatives(),
        visibility_params={"rule": "placed", "min_visibility": PARTIAL_MIN_VISIBILITY,
                           "max_hidden_joints": PARTIAL_MAX_HIDDEN_JOINTS})


_TRAINED: dict[str, PoseModel] = {}  # one training per classifier and process (two items use it)


def trained(classifier: str) -> PoseModel:
    """The model of :func:`_train`, trained once per process."""
    if classifier not in _TRAINED:
        _TRAINED[classifier] = _train(classifier)
    return _TRAINED[classifier]


def training_report_rows(_: Path | None = None) -> list[Row]:
    """Cross-validated figures (folds, accuracy, macro-F1, per-class recall, confusion matrix),
    training counts and rejection calibration of each classifier, one figure a row."""
    rows: list[Row] = []
    for classifier in TRAIN_CLASSIFIERS:
        meta = trained(classifier).metadata
        scores, rejection = meta["cv_scores"], meta["rejection"]
        figures: list[tuple[str, str]] = [
            ("n_samples", str(meta["n_samples"])),
            *((f"class_count:{c}", str(n)) for c, n in meta["class_counts"].items()),
            ("cv_folds", str(scores["folds"])),
            ("cv_accuracy", number(scores["accuracy"])),
            ("cv_macro_f1", number(scores["macro_f1"])),
            *((f"cv_recall:{c}", number(r)) for c, r in scores["recall"].items()),
            *((f"cv_confusion:{t}->{p}", str(n))
              for t, counts in zip(scores["labels"], scores["confusion"], strict=True)
              for p, n in zip(scores["labels"], counts, strict=True)),
            ("rejection_features", str(rejection["features"])),
            ("rejection_threshold", number(rejection["threshold"])),
            ("rejection_threshold_image", number(rejection["threshold_image"])),
            ("rejection_calibration_folds", str(rejection["calibration_folds"])),
            ("rejection_calibration_accepted", number(rejection["calibration_accepted"])),
        ]
        rows.extend({"classifier": classifier, "figure": f, "value": v} for f, v in figures)
    return rows


def training_predictions_rows(_: Path | None = None) -> list[Row]:
    """Each trained model on every row of its own table (excluded and undetected rows too)."""
    from poseclf.pose.poses import training_arrays, training_world_landmarks
    from poseclf.pose.table import load_table

    table = load_table(DATASETS / f"{TRAIN_TABLE}.csv")
    landmarks, sizes, _ = training_arrays(table)
    world = training_world_landmarks(table)
    rows: list[Row] = []
    for classifier in TRAIN_CLASSIFIERS:
        model = trained(classifier)
        scored = model.predict_with_scores(landmarks, sizes, world_landmarks=world)
        found = iter(range(len(landmarks)))
        for path, truth, detected, reason in zip(table["path"], table["label"],
                                                 table["detected"], table["reason"], strict=True):
            row = {"classifier": classifier, "path": path, "true_label": truth}
            if not detected:  # no pose to classify: the table's reason (no_person)
                row.update(label=reason, novelty="")
                row.update(prediction_columns(model.classes_, None))
            else:
                i = next(found)
                row.update(label=str(scored.labels[i]), novelty=number(scored.novelty[i]))
                row.update(prediction_columns(model.classes_, scored.proba[i]))
            rows.append(row)
    return rows


# -- 3. extraction of real photos ----------------------------------------------------------------
def extraction_rows(scratch: Path) -> list[Row]:
    """``poseclf extract``'s folder extraction of :data:`PHOTOS` (copied into ``scratch``):
    every table column but the modification time, landmarks rounded to
    :data:`LANDMARK_DECIMALS`."""
    from poseclf.pose.table import load_table
    from poseclf.tables.dataset import extract_folder

    data = scratch / "photos"
    for dataset, label, name in PHOTOS:
        (data / label).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED_DATA / dataset / label / name, data / label / name)
    table = scratch / "table.csv"
    extract_folder(data, table, workers=1, progress=False)
    df = load_table(table).drop(columns=["file_mtime"])
    rows: list[Row] = []
    for record in df.to_dict("records"):
        rows.append({c: (number(v, LANDMARK_DECIMALS) if isinstance(v, float | np.floating)
                      else str(v))
                     for c, v in record.items()})
    return rows


# -- 4. video ------------------------------------------------------------------------------------
def video_rows(_: Path | None = None) -> list[Row]:
    """``label_frames`` (the loop of ``poseclf video``) with the shipped push-up model and the
    push-up counter on the first :data:`VIDEO_FRAMES` frames of :data:`VIDEO`: per frame the raw
    answer, the smoothed label and probabilities, and the repetitions counted so far."""
    from poseclf.classify.model import PoseModel
    from poseclf.pose.extraction import PoseExtractor
    from poseclf.pose.video_sources import iter_frames, open_source
    from poseclf.video.run import label_frames, make_smoother_and_counter

    model = PoseModel.load(MODELS / f"{VIDEO_MODEL}.skops")
    capture, info = open_source(SHARED_DATA / "videos" / VIDEO)
    smoother, counter = make_smoother_and_counter(model.classes_, info, count=VIDEO_COUNT)
    rows: list[Row] = []
    try:
        with PoseExtractor(static_image_mode=False) as extractor:
            results = label_frames(iter_frames(capture), extractor, model, smoother, counter)
            for result in itertools.islice(results, VIDEO_FRAMES):  # reads no further frame
                smoothed = result.smoothed
                row = {"frame": str(result.index), "pose": str(int(result.pose is not None)),
                       "reason": "" if result.probabilities is not None else result.reason,
                       "raw_label": smoothed.raw_label, "label": smoothed.label,
                       "confidence": number(smoothed.confidence),
                       "detected": str(int(smoothed.detected)),
                       "repetitions": str(result.repetitions)}
                row.update(prediction_columns(model.classes_, result.probabilities))
                row.update(prediction_columns(model.classes_, smoothed.probabilities, "smooth_"))
                rows.append(row)
    finally:
        capture.release()
    return rows


# -- the items -----------------------------------------------------------------------------------
def items() -> list[Item]:
    """Every golden file, in the order the generator writes them."""
    found = [Item(f"predictions_{name}.csv", ("table", "path"),
                  lambda _, name=name: predictions_rows(name))
             for name in shipped_model_names()]
    return [
        *found,
        Item("training_report.csv", ("classifier", "figure"), training_report_rows),
        Item("training_predictions.csv", ("classifier", "path"), training_predictions_rows),
        Item("extraction.csv", ("path",), extraction_rows, needs_shared=True),
        Item("video_timeline.csv", ("frame",), video_rows, needs_shared=True),
    ]


#: Command-line names of groups of items.
GROUPS = {"predictions": "predictions_", "training": "training_", "extraction": "extraction",
          "video": "video_"}


def write_rows(path: Path, rows: list[Row]) -> None:
    """Write rows as CSV (columns of the first row; Unix line ends)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_rows(path: Path) -> list[Row]:
    """Rows of a golden CSV, every cell as text."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def compute(item: Item) -> list[Row]:
    """The rows of ``item`` today, computed in a scratch folder that is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="poseclf-golden-") as scratch:
        return item.rows(Path(scratch))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("items", nargs="*", metavar="ITEM",
                        help=f"what to rewrite ({', '.join(GROUPS)}; default: all)")
    parser.add_argument("--out", type=Path, default=GOLDEN, help="folder of the golden files "
                        "(default: tests/golden)")
    args = parser.parse_args(argv)
    unknown = [g for g in args.items if g not in GROUPS]
    if unknown:
        parser.error(f"unknown item {unknown[0]!r}; choose from {', '.join(GROUPS)}")
    wanted = [GROUPS[g] for g in args.items] or list(GROUPS.values())
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"poseclf {poseclf.__version__} from {SOURCE}")
    for item in items():
        if not any(item.file.startswith(prefix) for prefix in wanted):
            continue
        if item.needs_shared and not SHARED_DATA.is_dir():
            print(f"{item.file}: kept as it is ({SHARED_DATA} is absent)")
            continue
        rows = compute(item)
        write_rows(args.out / item.file, rows)
        print(f"{item.file}: {len(rows)} rows written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
