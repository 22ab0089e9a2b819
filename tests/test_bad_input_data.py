"""Bad inputs to ``extract``, ``train``, ``evaluate``, ``outliers``, ``stats`` and ``review``,
through the CLI.

Every case runs the real ``poseclf`` in a subprocess and checks what a user sees and keeps: the
exit status (2 for an input error), one line on stderr that names the file or option and says
what to do, no traceback, and every file that was there before is byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, ctrl_c_as_in_a_terminal, shared_data_or_skip
from test_dataset import copy_photos

from poseclf.cli import main
from poseclf.pose.blazepose import mediapipe_model_path
from poseclf.pose.table import LANDMARK_COLUMNS, load_table, save_table
from poseclf.tables.mlkit_csv import mlkit_lines

pytestmark = pytest.mark.slow  # subprocesses, signals or notebooks: `pytest -m "not slow"` skips it

SHIPPED_TABLE = REPO / "datasets" / "pushups_visolus.csv"
FULL_MODEL = mediapipe_model_path(1)  # bundled with the wheel
#: Lines MediaPipe's C++ code writes to stderr by itself (not poseclf's words).
MEDIAPIPE_LOG_PREFIXES = ("W0000", "I0000", "E0000", "INFO: ", "WARNING: All log messages")


def poseclf(*args: str, cwd: Path | None = None, timeout: float = 120,
            home: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m poseclf ARGS`` from the repository (or ``cwd``); ``home``: its
    ``$POSECLF_HOME`` (default: the session's, from conftest)."""
    env = None if home is None else {**os.environ, "POSECLF_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "poseclf", *args], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout, env=env)


def poseclf_lines(stderr: str) -> list[str]:
    """poseclf's own stderr lines (MediaPipe's log lines left out)."""
    return [line for line in stderr.splitlines()
            if line.strip() and not line.startswith(MEDIAPIPE_LOG_PREFIXES)]


def digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# -- the files the cases use ----------------------------------------------------------------
def _table_variant(base: pd.DataFrame, path: Path, change) -> None:
    df = base.copy()
    change(df)
    df.to_csv(path, index=False)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder with good and bad tables, folders and side files (no photos needed)."""
    root = tmp_path_factory.mktemp("bad_inputs")
    base = load_table(SHIPPED_TABLE)
    base.to_csv(root / "table.csv", index=False)
    detected = base[base["detected"]]
    detected[detected["label"] == "pushups_up"].to_csv(root / "one_class.csv", index=False)
    detected.groupby("label").head(1).to_csv(root / "one_per_class.csv", index=False)
    nobody = base.head(3).copy()
    nobody["detected"] = False
    nobody["reason"] = "no_person"
    nobody.to_csv(root / "nobody.csv", index=False)

    def text_cell(df):
        df[LANDMARK_COLUMNS[3]] = df[LANDMARK_COLUMNS[3]].astype(object)
        df.loc[df.index[2], LANDMARK_COLUMNS[3]] = "oops"

    def nan_cell(df):
        df.loc[df.index[df["detected"]][0], LANDMARK_COLUMNS[0]] = np.nan

    def inf_cell(df):
        df.loc[df.index[df["detected"]][0], LANDMARK_COLUMNS[5]] = np.inf

    def yes_no(df):
        df["detected"] = np.where(df["detected"], "yes", "no")

    def empty_label(df):
        df["label"] = df["label"].astype(object)
        df.loc[df.index[0], "label"] = ""

    for name, change in (("text_cell", text_cell), ("nan_cell", nan_cell),
                         ("inf_cell", inf_cell), ("yes_no", yes_no),
                         ("empty_label", empty_label)):
        _table_variant(base, root / f"{name}.csv", change)
    (root / "garbage.parquet").write_bytes(b"PAR1 this is not parquet")
    (root / "notes.csv").write_text("my,own\nspreadsheet,1\n")
    (root / "notes.md").write_text("# notes\n")
    (root / "not_a_folder").write_text("a file where a folder is expected\n")
    (root / "a_folder").mkdir()
    (root / "empty_data").mkdir()
    (root / "flat_data").mkdir()
    (root / "flat_data" / "IMG_0001.jpg").write_bytes(b"\xff\xd8\xff not read")
    (root / "data" / "cls").mkdir(parents=True)
    (root / "data" / "cls" / "x.jpg").write_bytes(b"\xff\xd8\xff never read")
    (root / "segments.csv").write_text("start_frame,end_frame,label\n0,10,a\n")
    (root / "clip.mp4").write_bytes(b"not really a video")
    _grey_video(root / "grey.mp4")
    for name, person in (("person_text", "abc"), ("person_one", "1")):
        (root / f"{name}.csv").write_text(f"start_frame,end_frame,label,person\n0,3,a,{person}\n")
    (root / "person_twice.csv").write_text("start_frame,end_frame,label,person\n"
                                           "0,3,a,1\n2,4,b,1\n")
    lines = mlkit_lines(base)
    (root / "samples.csv").write_text("\n".join(lines[:3]) + "\n")
    (root / "bad_samples.csv").write_text(lines[0] + "\n" + lines[1].rsplit(",", 1)[0] + "\n")
    return root


def _grey_video(path: Path, frames: int = 5) -> None:
    """A real (decodable) video of a few grey frames: the segments files are read with it."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 64))
    for _ in range(frames):
        writer.write(np.full((64, 64, 3), 128, np.uint8))
    writer.release()


@dataclass(frozen=True)
class Case:
    """One bad command: its arguments (``{w}`` is the work folder), exit status, message."""

    id: str
    args: tuple[str, ...]
    status: int
    message: str  # text the one stderr line must hold (option or file and the fix)


T = "{w}/table.csv"
CASES = [
    # extract
    Case("missing data folder", ("extract", "{w}/nowhere", "-o", "{w}/new.csv"), 2,
         "nowhere: no such folder"),
    Case("photos not in class folders", ("extract", "{w}/flat_data", "-o", "{w}/new.csv"), 2,
         "put the photos in one sub-folder per class"),
    Case("no photos at all", ("extract", "{w}/empty_data", "-o", "{w}/new.csv"), 2,
         "no image found in a class sub-folder"),
    Case("table extension", ("extract", "{w}/data", "-o", "{w}/new.txt"), 2,
         "-o {w}/new.txt: unknown file type '.txt'; use .csv or .parquet or .pq"),
    Case("output is a folder", ("extract", "{w}/data", "-o", "{w}/a_folder"), 2,
         "is a folder; give a file name"),
    Case("output folder is a file", ("extract", "{w}/data", "-o", "{w}/not_a_folder/t.csv"), 2,
         "is a file, not a folder"),
    Case("heavy model absent", ("extract", "{w}/data", "-o", T, "--complexity", "2"), 2,
         "--install-blazepose pose_landmark_heavy.tflite"),
    Case("landmark model missing", ("extract", "{w}/data", "-o", T, "--complexity", "2",
                                    "--landmark-model", "{w}/nowhere.tflite"), 2,
         "--landmark-model {w}/nowhere.tflite: no such file"),
    Case("landmark model not blazepose", ("extract", "{w}/data", "-o", T, "--complexity", "0",
                                          "--landmark-model", "{w}/notes.md"), 2,
         "--landmark-model {w}/notes.md: is not a BlazePose landmark model poseclf knows"),
    Case("landmark model is full, not heavy", ("extract", "{w}/data", "-o", T, "--complexity",
                                               "2", "--landmark-model", "{full}"), 2,
         "is BlazePose full, not heavy; give pose_landmark_heavy.tflite or use --complexity 1"),
    Case("landmark model and task file", ("extract", "{w}/data", "-o", T, "--backend", "tasks",
                                          "--task-file", "{w}/notes.md", "--landmark-model",
                                          "{full}"), 2,
         "--landmark-model and --task-file both give the model"),
    Case("complexity 3", ("extract", "{w}/data", "-o", T, "--complexity", "3"), 2,
         "argument --complexity: invalid choice: 3"),
    Case("install missing file", ("models", "--install-blazepose", "{w}/nowhere.tflite"), 2,
         "--install-blazepose {w}/nowhere.tflite: no such file"),
    Case("install wrong file", ("models", "--install-blazepose", "{w}/notes.md"), 2,
         "is not one of MediaPipe's BlazePose landmark models"),
    Case("install a folder", ("models", "--install-blazepose", "{w}/a_folder"), 2,
         "--install-blazepose {w}/a_folder: no such file"),
    Case("tasks without the heavy file", ("extract", "{w}/data", "-o", T, "--backend", "tasks",
                                          "--complexity", "2"), 2,
         "BlazePose heavy (--complexity 2) is not installed"),
    Case("task file missing", ("extract", "{w}/data", "-o", T, "--backend", "tasks",
                               "--task-file", "{w}/nowhere.task"), 2, "no such .task file"),
    Case("task file not a bundle", ("extract", "{w}/data", "-o", T, "--backend", "tasks",
                                    "--task-file", "{w}/notes.md"), 2,
         "not a pose_landmarker .task file"),
    Case("detection confidence", ("extract", "{w}/data", "-o", T,
                                  "--min-detection-confidence", "5"), 2,
         "--min-detection-confidence: 5 is out of range"),
    Case("negative batch size", ("extract", "{w}/data", "-o", T, "--batch-size", "-1"), 2,
         "--batch-size: -1 is too small: give 1 or more"),
    Case("no workers", ("extract", "{w}/data", "-o", T, "--workers", "0"), 2,
         "--workers: 0 is too small"),
    Case("stride 0", ("extract", "{w}/clip.mp4", "--segments", "{w}/segments.csv",
                      "-o", "{w}/new.csv", "--stride", "0"), 2, "--stride: 0 is too small"),
    Case("checkpoint NaN", ("extract", "{w}/data", "-o", T, "--checkpoint-seconds", "nan"),
         2, "--checkpoint-seconds: 'nan' is not a finite number"),
    Case("output is somebody's CSV", ("extract", "{w}/data", "-o", "{w}/notes.csv"), 2,
         "would be replaced by this run"),
    Case("video without segments", ("extract", "{w}/clip.mp4", "-o", "{w}/new.csv"), 2,
         "a video needs --segments"),
    Case("output is the segments file", ("extract", "{w}/clip.mp4", "--segments",
                                         "{w}/segments.csv", "-o", "{w}/segments.csv"), 2,
         "is also an input of this command"),
    Case("segments file missing", ("extract", "{w}/clip.mp4", "--segments",
                                   "{w}/nowhere.csv", "-o", "{w}/new.csv"), 2,
         "--segments {w}/nowhere.csv: no such segments CSV"),
    Case("people 0", ("extract", "{w}/grey.mp4", "--segments", "{w}/segments.csv", "-o",
                      "{w}/new.csv", "--people", "0"), 2, "--people: 0 is too small: give 1"),
    Case("people -1", ("extract", "{w}/grey.mp4", "--segments", "{w}/segments.csv", "-o",
                       "{w}/new.csv", "--people", "-1"), 2, "--people: -1 is too small"),
    Case("people abc", ("extract", "{w}/grey.mp4", "--segments", "{w}/segments.csv", "-o",
                        "{w}/new.csv", "--people", "abc"), 2,
         "--people: 'abc' is not an integer"),
    Case("people in photos", ("extract", "{w}/data", "-o", "{w}/new.csv", "--people", "2"), 2,
         "--people 2 is for a video with --segments SEGMENTS.csv"),
    Case("person not an id", ("extract", "{w}/grey.mp4", "--segments", "{w}/person_text.csv",
                              "-o", "{w}/new.csv", "--people", "2"), 2,
         "{w}/person_text.csv: row 1: person 'abc' is not a person id"),
    Case("person twice at once", ("extract", "{w}/grey.mp4", "--segments",
                                  "{w}/person_twice.csv", "-o", "{w}/new.csv", "--people", "2"),
         2, "segments overlap"),
    Case("person without people", ("extract", "{w}/grey.mp4", "--segments",
                                   "{w}/person_one.csv", "-o", "{w}/new.csv"), 2,
         "--segments {w}/person_one.csv: its person column names tracked people; give "
         "--people N"),
    # train
    Case("table missing", ("train", "{w}/nowhere.csv", "-o", "{w}/m.skops"), 2,
         "nowhere.csv: no such landmark table"),
    Case("model extension", ("train", T, "-o", T), 2,
         "-o {w}/table.csv: unknown file type '.csv'; use .skops"),
    Case("card over its notes", ("train", T, "-o", "{w}/m.skops", "--card", "{w}/notes.md",
                                 "--card-notes", "{w}/notes.md"), 2,
         "is also an input of this command"),
    Case("card notes missing", ("train", T, "-o", "{w}/m.skops", "--card", "{w}/c.md",
                                "--card-notes", "{w}/nowhere.md"), 2,
         "--card-notes {w}/nowhere.md: no such Markdown file"),
    Case("card without cv", ("train", T, "-o", "{w}/m.skops", "--card", "{w}/c.md",
                             "--cv", "0"), 2, "--card needs cross-validation"),
    Case("exclusion list missing", ("train", T, "-o", "{w}/m.skops", "--exclude",
                                    "{w}/nowhere.csv"), 2, "--exclude {w}/nowhere.csv: no such"),
    Case("negatives missing", ("train", T, "-o", "{w}/m.skops", "--negatives",
                               "{w}/nowhere.csv"), 2,
         "--negatives {w}/nowhere.csv: no such landmark table"),
    Case("negatives not a table", ("train", T, "-o", "{w}/m.skops", "--negatives",
                                   "{w}/notes.csv"), 2, "not a poseclf landmark table"),
    Case("negatives unreadable", ("train", T, "-o", "{w}/m.skops", "--negatives",
                                  "{w}/garbage.parquet"), 2, "cannot read the table"),
    Case("negatives without a person", ("train", T, "-o", "{w}/m.skops", "--negatives",
                                        "{w}/nobody.csv"), 2,
         "{w}/nobody.csv: the negatives table has no detected pose"),
    Case("negatives given empty", ("train", T, "-o", "{w}/m.skops", "--negatives"), 2,
         "--negatives: expected at least one argument"),
    Case("negatives and no negatives", ("train", T, "-o", "{w}/m.skops", "--negatives", T,
                                        "--no-negatives"), 2,
         "--no-negatives: not allowed with argument --negatives"),
    Case("one class", ("train", "{w}/one_class.csv", "-o", "{w}/m.skops"), 2,
         "at least 2 classes and the data has only 'pushups_up'"),
    Case("one row per class", ("train", "{w}/one_per_class.csv", "-o", "{w}/m.skops"), 2,
         "every class needs at least 4 detected poses"),
    Case("text in a landmark column", ("train", "{w}/text_cell.csv", "-o", "{w}/m.skops"), 2,
         "'oops' is not a number"),
    Case("NaN in a detected row", ("train", "{w}/nan_cell.csv", "-o", "{w}/m.skops"), 2,
         "missing or infinite landmark values although detected is True"),
    Case("inf in a detected row", ("train", "{w}/inf_cell.csv", "-o", "{w}/m.skops"), 2,
         "missing or infinite landmark values"),
    Case("detected yes/no", ("train", "{w}/yes_no.csv", "-o", "{w}/m.skops"), 2,
         "column 'detected', row 1: 'yes' is not True or False"),
    Case("empty label", ("train", "{w}/empty_label.csv", "-o", "{w}/m.skops"), 2,
         "row 1 has no label"),
    Case("not a parquet file", ("train", "{w}/garbage.parquet", "-o", "{w}/m.skops"), 2,
         "cannot read the table"),
    Case("a table given twice", ("train", T, "{w}/./table.csv", "-o",
                                 "{w}/m.skops"), 2, "given twice; its rows would count double"),
    Case("reject percentile", ("train", T, "-o", "{w}/m.skops", "--reject-percentile", "150"),
         2, "--reject-percentile: 150 is out of range: give a number in (0, 100]"),
    Case("min visibility", ("train", T, "-o", "{w}/m.skops", "--min-visibility", "2"), 2,
         "--min-visibility: 2 is out of range"),
    Case("search without a grid", ("train", T, "-o", "{w}/m.skops", "--classifier", "logreg",
                                   "--search"), 2,
         "--search works with svm, knn, mlp, not logreg"),
    Case("max poses few", ("train", T, "-o", "{w}/m.skops", "--max-poses", "20"), 2,
         "--max-poses: 20 is too few to train and cross-validate on; give 100 or more"),
    Case("max poses negative", ("train", T, "-o", "{w}/m.skops", "--max-poses", "-5"), 2,
         "--max-poses: -5 is too small"),
    Case("max poses word", ("train", T, "-o", "{w}/m.skops", "--max-poses", "all"), 2,
         "--max-poses: 'all' is not an integer"),
    Case("hidden joints", ("train", T, "-o", "{w}/m.skops", "--max-hidden-joints", "-1"), 2,
         "--max-hidden-joints: -1 is too small"),
    Case("more hidden joints than joints", ("train", T, "-o", "{w}/m.skops",
                                            "--max-hidden-joints", "9"), 2,
         "--max-hidden-joints: 9 is too many: there are 6 key joints"),
    Case("partial rule", ("train", T, "-o", "{w}/m.skops", "--partial-rule", "loose"), 2,
         "--partial-rule: invalid choice: 'loose'"),
    Case("one fold", ("train", T, "-o", "{w}/m.skops", "--cv", "1"), 2,
         "1 fold cannot hold a pose out"),
    Case("text for a number", ("train", T, "-o", "{w}/m.skops", "--cv", "five"), 2,
         "--cv: 'five' is not an integer"),
    Case("unknown classifier", ("train", T, "-o", "{w}/m.skops", "--classifier", "tree"), 2,
         "--classifier: invalid choice: 'tree'"),
    Case("aspect zero", ("train", T, "-o", "{w}/m.skops", "--aspect", "0"), 2,
         "--aspect: '0' is not 'auto' nor a stretch factor between 0.25 and 4"),
    Case("aspect text", ("train", T, "-o", "{w}/m.skops", "--aspect", "wide"), 2,
         "--aspect: 'wide' is not 'auto' nor a stretch factor"),
    Case("aspect nan", ("train", T, "-o", "{w}/m.skops", "--aspect", "nan"), 2,
         "--aspect: 'nan' is not 'auto' nor a stretch factor"),
    Case("negative view angle", ("train", T, "-o", "{w}/m.skops", "--views", "15,-30"), 2,
         "--views: -30 is out of range: give a number in (0, 90]"),
    Case("view angle over 90", ("train", T, "-o", "{w}/m.skops", "--views", "120"), 2,
         "--views: 120 is out of range: give a number in (0, 90]"),
    Case("text for a view angle", ("train", T, "-o", "{w}/m.skops", "--views", "15,wide"), 2,
         "--views: 'wide' is not a number"),
    Case("empty view angle", ("train", T, "-o", "{w}/m.skops", "--views", "15,,30"), 2,
         "--views: '15,,30' is not a list of angles: give degrees separated by commas"),
    Case("zero view angle", ("train", T, "-o", "{w}/m.skops", "--views", "0"), 2,
         "--views: 0 is out of range: give a number in (0, 90]"),
    Case("novelty view angle over 90", ("train", T, "-o", "{w}/m.skops", "--novelty-views",
                                        "30,100"), 2,
         "--novelty-views: 100 is out of range: give a number in (0, 90]"),
    Case("novelty views without negatives", ("train", T, "-o", "{w}/m.skops", "--novelty-views",
                                             "30", "--no-negatives"), 2,
         "--novelty-views works with negatives"),
    Case("text for a novelty view angle", ("train", T, "-o", "{w}/m.skops", "--novelty-views",
                                           "side"), 2, "--novelty-views: 'side' is not a number"),
    Case("negative view pitch", ("train", T, "-o", "{w}/m.skops", "--view-pitch", "-10"), 2,
         "--view-pitch: -10 is out of range: give a number in [0, 90]"),
    Case("view pitch over 90", ("train", T, "-o", "{w}/m.skops", "--view-pitch", "91"), 2,
         "--view-pitch: 91 is out of range: give a number in [0, 90]"),
    Case("text for a view pitch", ("train", T, "-o", "{w}/m.skops", "--view-pitch", "up"), 2,
         "--view-pitch: 'up' is not a number"),
    Case("unknown world features", ("train", T, "-o", "{w}/m.skops", "--world-features",
                                    "both"), 2, "--world-features: invalid choice: 'both'"),
    # evaluate
    Case("confusion extension", ("evaluate", T, "--model", "pushups", "--confusion",
                                 "{w}/cm.txt"), 2, "--confusion {w}/cm.txt: unknown file type"),
    Case("classes the model lacks", ("evaluate", T, "--model", "yoga"), 2,
         "none of its classes (pushups_down, pushups_up) is a class of the model yoga"),
    # outliers and stats
    Case("outliers folds", ("outliers", T, "--folds", "-3"), 2, "--folds: -3 is too small"),
    Case("outliers one fold", ("outliers", T, "--folds", "1"), 2, "1 fold cannot hold a row out"),
    Case("drop over the input", ("outliers", T, "--drop", T), 2,
         "--drop {w}/table.csv: is also an input of this command"),
    Case("outlier list over the input", ("outliers", T, "-o", T), 2,
         "is also an input of this command"),
    Case("sheet without images", ("stats", T, "--sheet", "{w}/s.png"), 2,
         "--sheet needs --images DATA_DIR"),
    Case("sheet extension", ("stats", T, "--sheet", "{w}/s.txt", "--images", "{w}/data"), 2,
         "--sheet {w}/s.txt: unknown file type '.txt'"),
    Case("wrong images folder", ("stats", T, "--sheet", "{w}/s.png", "--images", "{w}/data"),
         2, "--images {w}/data: none of the table's image paths is there (0 of the first 91"),
    Case("missing images folder", ("stats", T, "--sheet", "{w}/s.png", "--images",
                                   "{w}/nowhere"), 2, "--images {w}/nowhere: no such folder"),
    Case("per class", ("stats", T, "--per-class", "-3"), 2, "--per-class: -3 is too small"),
    # review
    Case("review missing table", ("review", "{w}/nowhere.csv", "--images", "{w}/data", "-o",
                                  "{w}/rev"), 2, "{w}/nowhere.csv: no such landmark table"),
    Case("review without images", ("review", T, "-o", "{w}/rev"), 2,
         "--images DATA_DIR is needed to draw the photos"),
    Case("review images and skeletons only", ("review", T, "--images", "{w}/data",
                                              "--skeletons-only", "-o", "{w}/rev"), 2,
         "argument --skeletons-only: not allowed with argument --images"),
    Case("review not a model", ("review", "{w}/notes.md", "-o", "{w}/rev"), 2,
         "{w}/notes.md: not a skops model file"),
    Case("review model with a list", ("review", "pushups", "--exclude", "{w}/notes.csv", "-o",
                                      "{w}/rev"), 2, "--exclude is for a landmark table"),
    Case("review model with folds", ("review", "pushups", "--folds", "3", "-o", "{w}/rev"), 2,
         "--folds is for a landmark table"),
    Case("review missing images", ("review", T, "--images", "{w}/nowhere", "-o", "{w}/rev"), 2,
         "--images {w}/nowhere: no such folder"),
    Case("review wrong images", ("review", T, "--images", "{w}/data", "-o", "{w}/rev"), 2,
         "--images {w}/data: none of the table's image paths is there"),
    Case("review page over the table", ("review", T, "--images", "{w}/data", "-o", T), 2,
         "-o {w}/table.csv: is a file; give a folder name"),
    Case("review page in a file", ("review", T, "--images", "{w}/data", "-o", "{w}/notes.md"),
         2, "-o {w}/notes.md: is a file; give a folder name"),
    Case("review page over the images", ("review", T, "--images", "{w}/data", "-o", "{w}/data"),
         2, "-o {w}/data: is also an input of this command"),
    Case("review page in another folder", ("review", T, "--images", "{w}/data", "-o",
                                           "{w}/flat_data"), 2,
         "-o {w}/flat_data: the folder has files and is not a poseclf review page"),
    Case("review missing list", ("review", T, "--images", "{w}/data", "-o", "{w}/rev",
                                 "--exclude", "{w}/nowhere.csv"), 2,
         "--exclude {w}/nowhere.csv: no such exclusion list"),
    Case("review list columns", ("review", T, "--images", "{w}/data", "-o", "{w}/rev",
                                 "--exclude", "{w}/notes.csv"), 2,
         "--exclude {w}/notes.csv: an exclusion list needs a 'path' column"),
    # export (ONNX: a model; mlkit-csv: a table) and extract SAMPLES.csv
    Case("export a table as ONNX", ("export", T, "-o", "{w}/m.onnx"), 2,
         "{w}/table.csv: a landmark table, not a model; export a model made by `poseclf train` "
         "as ONNX, or this table with --format mlkit-csv"),
    Case("export missing model", ("export", "{w}/nowhere.skops", "-o", "{w}/m.onnx"), 2,
         "{w}/nowhere.skops: no such model file; check the path"),
    Case("export extension", ("export", "pushups", "-o", "{w}/m.skops"), 2,
         "-o {w}/m.skops: unknown file type '.skops'; use .onnx"),
    Case("export into a file's folder", ("export", "pushups", "-o", "{w}/not_a_folder/m.onnx"),
         2, "-o {w}/not_a_folder/m.onnx: {w}/not_a_folder is a file, not a folder"),
    Case("export format", ("export", "pushups", "-o", "{w}/m.onnx", "--format", "tflite"), 2,
         "argument --format: invalid choice: 'tflite' (choose from 'onnx', 'mlkit-csv')"),
    Case("samples of nobody", ("export", "{w}/nobody.csv", "--format", "mlkit-csv", "-o",
                               "{w}/s.csv"), 2,
         "{w}/nobody.csv: no row has a detected pose (3 row(s))"),
    Case("samples over the table", ("export", T, "--format", "mlkit-csv", "-o", T), 2,
         "-o {w}/table.csv: is also an input of this command"),
    Case("samples over somebody's CSV", ("export", T, "--format", "mlkit-csv", "-o",
                                         "{w}/notes.csv"), 2,
         "-o {w}/notes.csv: exists and is not an ML Kit pose-samples CSV"),
    Case("samples of a missing table", ("export", "{w}/nowhere.csv", "--format", "mlkit-csv",
                                        "-o", "{w}/s.csv"), 2,
         "{w}/nowhere.csv: no such landmark table"),
    Case("samples extension", ("export", T, "--format", "mlkit-csv", "-o", "{w}/s.txt"), 2,
         "-o {w}/s.txt: unknown file type '.txt'; use .csv"),
    Case("import somebody's CSV", ("extract", "{w}/notes.csv", "-o", "{w}/new.csv"), 2,
         "{w}/notes.csv: not an ML Kit pose-samples CSV"),
    Case("import a short line", ("extract", "{w}/bad_samples.csv", "-o", "{w}/new.csv"), 2,
         "{w}/bad_samples.csv: line 2 has 100 fields, an ML Kit pose sample has 101"),
    Case("import over somebody's CSV", ("extract", "{w}/samples.csv", "-o", "{w}/notes.csv"),
         2, "would be replaced by this run"),
    Case("import image size", ("extract", "{w}/samples.csv", "-o", "{w}/new.csv",
                               "--image-size", "640"), 2,
         "--image-size: '640' is not WIDTHxHEIGHT in pixels"),
    Case("image size for photos", ("extract", "{w}/data", "-o", "{w}/new.csv",
                                   "--image-size", "640x480"), 2,
         "--image-size is for an ML Kit pose-samples CSV"),
    # the command itself
    Case("no command", (), 2, "the following arguments are required: COMMAND"),
    Case("unknown command", ("frobnicate",), 2, "invalid choice: 'frobnicate'"),
]


@pytest.fixture(scope="module")
def cases_home(tmp_path_factory) -> Path:
    """An empty poseclf user folder for the cases alone: whatever other tests of the session
    cached in theirs (a BlazePose ``.task``), this one must stay empty."""
    return tmp_path_factory.mktemp("bad_inputs_home")


@pytest.fixture(scope="module")
def outcomes(work, cases_home) -> dict[str, tuple[subprocess.CompletedProcess, dict, dict]]:
    """Every case run once (two at a time): its process and the folder before and after.

    The cases never write (each is refused before any work), so they share one folder.
    """
    before = digest(work)

    def run(case: Case):
        args = [a.format(w=work, full=FULL_MODEL) for a in case.args]
        return case.id, poseclf(*args, home=cases_home)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(run, CASES))
    return {key: (result, before, digest(work)) for key, result in results.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(case, outcomes, work, cases_home):
    result, before, after = outcomes[case.id]
    lines = poseclf_lines(result.stderr)
    assert result.returncode == case.status, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, lines
    assert "error" in lines[0] and case.message.format(w=work) in lines[0], lines[0]
    assert not any(cases_home.rglob("*"))  # nothing installed
    assert after == before  # nothing written, nothing replaced


# -- runs that start, then stop: the table is never worse than before --------------------------
@pytest.fixture(scope="module")
def small_photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos") / "data"
    copy_photos(root, "sitstand_multimediaimg", 6)
    return root


@pytest.fixture(scope="module")
def complete_table(small_photos, tmp_path_factory) -> Path:
    table = tmp_path_factory.mktemp("complete") / "table.csv"
    assert main(["extract", str(small_photos), "-o", str(table), "--workers", "1", "-q"]) == 0
    return table


def test_a_model_that_fails_to_start_leaves_the_table_as_it_was(small_photos, complete_table,
                                                                tmp_path):
    """A .task that is a zip but no model passes the early check and fails in BlazePose."""
    table = tmp_path / "table.csv"
    table.write_bytes(complete_table.read_bytes())
    task = tmp_path / "broken.task"
    with zipfile.ZipFile(task, "w") as bundle:
        bundle.writestr("pose_detector.tflite", b"not a model")
    result = poseclf("extract", str(small_photos), "-o", str(table), "--backend", "tasks",
                     "--task-file", str(task), "--workers", "1", "-q")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert f"{task}: not a usable pose_landmarker .task file" in result.stderr
    assert table.read_bytes() == complete_table.read_bytes()


def test_an_unchanged_table_is_not_rewritten(small_photos, complete_table, tmp_path):
    table = tmp_path / "table.csv"
    table.write_bytes(complete_table.read_bytes())
    os.utime(table, (1_000_000_000, 1_000_000_000))
    assert main(["extract", str(small_photos), "-o", str(table), "-q"]) == 0
    assert table.stat().st_mtime == 1_000_000_000


def test_no_resume_stopped_part_way_keeps_every_row(small_photos, complete_table, tmp_path):
    """``--no-resume`` then Ctrl-C used to replace a complete table with the rows redone."""
    table = tmp_path / "table.csv"
    table.write_bytes(complete_table.read_bytes())
    old_mtime = table.stat().st_mtime_ns
    process = subprocess.Popen(
        [sys.executable, "-m", "poseclf", "extract", str(small_photos), "-o", str(table),
         "--no-resume", "--workers", "1", "--batch-size", "1", "--checkpoint-seconds", "0",
         "-q"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=ctrl_c_as_in_a_terminal)
    deadline = time.monotonic() + 60
    while table.stat().st_mtime_ns == old_mtime and process.poll() is None:
        assert time.monotonic() < deadline, "the run never saved a checkpoint"
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the run finished before the interrupt arrived")
    assert process.returncode == 130, stderr.decode()[-2000:]
    before, after = load_table(complete_table), load_table(table)
    assert sorted(after["path"]) == sorted(before["path"])  # every row is still there
    assert after["detected"].sum() == before["detected"].sum()


def test_evaluate_json_is_valid_when_nothing_is_accepted(tmp_path, capsys):
    """Every pose 'partial' (the whole body out of the picture): accuracy on accepted poses is
    null, not NaN."""
    df = load_table(SHIPPED_TABLE)
    across = [c for c in LANDMARK_COLUMNS if c.endswith("_x")]
    df[across] = df[across] + 2.0  # every landmark right of the image
    table = tmp_path / "hidden.csv"
    save_table(df, table)
    assert main(["evaluate", str(table), "--model", "pushups", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)  # strict JSON: NaN would not parse
    assert report["coverage"] == 0.0 and report["accuracy_accepted"] is None


def test_evaluate_names_the_classes_on_both_axes(capsys):
    assert main(["evaluate", str(SHIPPED_TABLE), "--model", "pushups"]) == 0
    out = capsys.readouterr().out
    header = out.split("confusion (rows: true, columns: predicted)\n", 1)[1].splitlines()[0]
    assert header.split() == ["pushups_down", "pushups_up"]


def test_evaluate_counts_classes_the_model_lacks(tmp_path, capsys):
    df = load_table(SHIPPED_TABLE)
    df.loc[df.index[:3], "label"] = "squat"
    table = tmp_path / "mixed.csv"
    save_table(df, table)
    assert main(["evaluate", str(table), "--model", "pushups"]) == 0
    out = capsys.readouterr().out
    assert "classes of the table that the model does not have" in out and "squat (n=" in out


def test_stats_sheet_needs_the_images_of_the_table(tmp_path):
    shared_data_or_skip("sitstand_multimediaimg")
    # the positive case lives in test_cli_dataset; here only that a wrong folder is refused
    # before anything is drawn (see CASES) and that a right folder is accepted
    photos = tmp_path / "data"
    copy_photos(photos, "sitstand_multimediaimg", 1)
    table = tmp_path / "t.csv"
    assert main(["extract", str(photos), "-o", str(table), "--workers", "1", "-q"]) == 0
    assert main(["stats", str(table), "--sheet", str(tmp_path / "s.png"),
                 "--images", str(photos)]) == 0
    assert (tmp_path / "s.png").is_file()


# -- leftovers: worker processes and temporary files ------------------------------------------
def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_workers_end_with_a_killed_extraction(tmp_path):
    """``kill -9`` of ``extract --workers 2``: its workers used to idle on for minutes."""
    photos = tmp_path / "data"
    copy_photos(photos, "sitstand_multimediaimg", 10)
    table = tmp_path / "t.csv"
    process = subprocess.Popen(
        [sys.executable, "-m", "poseclf", "extract", str(photos), "-o", str(table),
         "--workers", "2", "--batch-size", "1", "--checkpoint-seconds", "0", "-q"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not table.exists() and process.poll() is None:
        assert time.monotonic() < deadline, "extraction never wrote rows"
        time.sleep(0.02)
    workers = _children(process.pid)
    process.kill()
    process.wait()
    deadline = time.monotonic() + 20
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _running(pid)], "workers outlived the run"
    load_table(table)  # and the table is whole


def test_temporaries_of_killed_saves_are_removed(tmp_path):
    table = tmp_path / "t.csv"
    stale = tmp_path / ".t.csv.999999999.abc123.tmp"  # no such process
    stale.write_bytes(b"")
    own = tmp_path / f".t.csv.{os.getpid()}.live.tmp"  # a save of a running process
    own.write_bytes(b"")
    save_table(load_table(SHIPPED_TABLE), table)
    assert not stale.exists() and own.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([own.name, "t.csv"])


def test_two_processes_saving_one_model_both_succeed(tmp_path):
    """Both used to write the same fixed temporary name, and one of them failed."""
    code = ("import sys; from poseclf.classify.model import PoseModel; "
            "m = PoseModel.load('pushups'); [m.save(sys.argv[1]) for _ in range(5)]")
    target = tmp_path / "m.skops"
    runs = [subprocess.Popen([sys.executable, "-c", code, str(target)], cwd=REPO,
                             stderr=subprocess.PIPE) for _ in range(2)]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err.decode()[-2000:]
    from poseclf.classify.model import PoseModel

    assert PoseModel.load(target).classes_ == ["pushups_down", "pushups_up"]
    assert [p.name for p in tmp_path.iterdir()] == ["m.skops"]


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path, monkeypatch):
    """A chmod-000 class folder was skipped without a word (faked: root reads everything)."""
    from poseclf.tables.dataset import scan_folder

    for name in ("open", "locked"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.jpg").write_bytes(b"\xff\xd8\xff")
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    scan = scan_folder(tmp_path)
    assert scan.unreadable_folders == ["locked"] and scan.empty_classes == []
    assert [item.path for item in scan.items] == ["open/a.jpg"]


def test_the_reason_of_a_file_whose_name_holds_a_colon_is_whole(tmp_path):
    from poseclf.pose.extraction import ExtractOptions
    from poseclf.tables.dataset import ImageItem, extract_batch

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "take 2: side.jpg").write_bytes(b"")
    rows = extract_batch(str(tmp_path), [ImageItem("a/take 2: side.jpg", "a", 0, 0.0)],
                         ExtractOptions())
    assert rows["reason"].iloc[0] == ("unreadable: the file is empty (0 bytes); replace it or "
                                      "delete it")
