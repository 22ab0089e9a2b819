"""Dataset building from image folders: scan, parallel extraction, resume, failure report."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import shared_data_or_skip

from poseclf.errors import InputError
from poseclf.pose.extraction import ExtractOptions
from poseclf.pose.table import (
    LANDMARK_COLUMNS,
    TABLE_COLUMNS,
    WORLD_COLUMNS,
    load_table,
    save_table,
)
from poseclf.tables.dataset import (
    NO_PERSON,
    RESUME_COLUMNS,
    class_summary,
    extract_folder,
    scan_folder,
)

PHOTOS_PER_CLASS = 3  # real photos per class: enough to test, few enough to stay fast
LANDMARK_ATOL = 1e-6  # same image, same model: landmarks agree to float32 round-off


def _parquet_problem() -> str | None:
    try:
        import pyarrow  # noqa: F401
    except ImportError as err:  # e.g. pyarrow >= 22 built for NumPy 2 beside mediapipe's NumPy 1
        return f"pyarrow is not usable here ({err})"
    return None


PARQUET = pytest.param(".parquet", marks=pytest.mark.skipif(
    _parquet_problem() is not None, reason=str(_parquet_problem())))


def copy_photos(dest: Path, dataset: str, per_class: int) -> list[str]:
    """Copy the first ``per_class`` photos of each class of ../shared/data/<dataset> to dest."""
    source = shared_data_or_skip(dataset)
    copied = []
    for class_dir in sorted(p for p in source.iterdir() if p.is_dir()):
        files = sorted(p for p in class_dir.iterdir() if p.is_file())[:per_class]
        (dest / class_dir.name).mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copy2(f, dest / class_dir.name / f.name)
            copied.append(f"{class_dir.name}/{f.name}")
    return copied


def add_faulty_files(root: Path) -> dict[str, str]:
    """Files that must be reported, never fatal; returns relative path -> expected reason start."""
    sitting = root / "sitting"
    good = sorted(sitting.glob("*.jpg"))[0].read_bytes()
    (sitting / "broken").mkdir()
    (sitting / "broken" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (sitting / "notes.JPG").write_text("this is a text file, not a photo\n")
    blank = np.full((240, 320, 3), 200, np.uint8)  # an evenly grey picture: nobody in it
    cv2.imwrite(str(root / "standing" / "blank.PNG"), blank)
    (root / "empty_class").mkdir()
    (root / "standing" / ".hidden.jpg").write_bytes(good)
    (root / "standing" / "readme.txt").write_text("not an image")
    return {
        "sitting/broken/truncated.jpg": "unreadable: ",
        "sitting/notes.JPG": "unreadable: not a readable image",
        "standing/blank.PNG": NO_PERSON,
    }


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("photos") / "data"
    copy_photos(root, "sitstand_multimediaimg", PHOTOS_PER_CLASS)
    return root, add_faulty_files(root)


@pytest.fixture(scope="module")
def one_worker_run(photo_dir, tmp_path_factory):
    root, _ = photo_dir
    table = tmp_path_factory.mktemp("one") / "table.csv"
    report = extract_folder(root, table, workers=1, progress=False)
    return report, load_table(table)


def assert_same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    meta = ["path", "label", "width", "height", "detected", "reason"]
    pd.testing.assert_frame_equal(a[meta].reset_index(drop=True), b[meta].reset_index(drop=True))
    numeric = list(LANDMARK_COLUMNS + WORLD_COLUMNS)
    np.testing.assert_allclose(a[numeric].to_numpy(), b[numeric].to_numpy(),
                               atol=LANDMARK_ATOL, equal_nan=True)


def test_scan_lists_images_by_class_and_counts_what_it_skips(photo_dir):
    root, faulty = photo_dir
    scan = scan_folder(root)
    paths = [item.path for item in scan.items]
    assert paths == sorted(paths, key=lambda p: (p.split("/")[0], p))
    assert set(faulty) <= set(paths)
    assert {item.label for item in scan.items} == {"sitting", "standing"}
    assert scan.skipped_hidden == 1
    assert scan.skipped_non_image == 1
    assert scan.empty_classes == ["empty_class"]


def test_scan_of_a_missing_folder_names_it(tmp_path):
    with pytest.raises(InputError, match="nowhere: no such folder"):
        scan_folder(tmp_path / "nowhere")


def test_failures_are_recorded_and_reported_by_class(photo_dir, one_worker_run):
    _, faulty = photo_dir
    report, df = one_worker_run
    assert len(df) == 2 * PHOTOS_PER_CLASS + len(faulty)
    reasons = dict(zip(df["path"], df["reason"], strict=True))
    for path, expected in faulty.items():
        assert reasons[path].startswith(expected)
    failed = df[~df["detected"]]
    assert set(failed["path"]) >= set(faulty)
    assert report.empty_classes == ["empty_class"]
    assert report.per_class.loc["sitting", "unreadable"] == 2
    assert report.per_class.loc["standing", "no_person"] >= 1
    text = str(report)
    assert "empty_class" in text and "sitting/notes.JPG: unreadable" in text


def test_detected_rows_have_landmarks_and_image_sizes(one_worker_run):
    _, df = one_worker_run
    detected = df[df["detected"]]
    assert len(detected) >= PHOTOS_PER_CLASS  # real people in real photos
    assert detected[list(LANDMARK_COLUMNS)].notna().all().all()
    assert (detected["width"] > 0).all() and (detected["height"] > 0).all()
    unreadable = df[df["reason"].str.startswith("unreadable")]
    assert (unreadable["width"] == 0).all()
    assert unreadable[list(LANDMARK_COLUMNS)].isna().all().all()


@pytest.mark.slow  # a pool of 2 worker processes, each importing mediapipe: 10-20 s
def test_two_workers_give_the_same_rows_as_one(photo_dir, one_worker_run, tmp_path):
    root, _ = photo_dir
    _, one = one_worker_run
    extract_folder(root, tmp_path / "two.csv", workers=2, batch_size=2, progress=False)
    assert_same_rows(one, load_table(tmp_path / "two.csv"))


@pytest.mark.parametrize("suffix", [".csv", PARQUET])
def test_table_round_trips(one_worker_run, tmp_path, suffix):
    _, df = one_worker_run
    path = save_table(df, tmp_path / f"copy{suffix}")
    back = load_table(path)
    assert list(back.columns) == list(TABLE_COLUMNS + RESUME_COLUMNS)
    assert_same_rows(df, back)
    pd.testing.assert_series_equal(back["file_mtime"], df["file_mtime"])


def test_rerun_keeps_unchanged_rows_and_redoes_changed_files(photo_dir, tmp_path):
    source, _ = photo_dir
    root = tmp_path / "data"
    shutil.copytree(source, root)
    table = tmp_path / "table.csv"
    first = extract_folder(root, table, workers=1, progress=False)
    assert first.n_extracted == first.n_images and first.n_reused == 0

    photos = sorted(p for p in (root / "standing").glob("*.jpg") if not p.name.startswith("."))
    os.utime(photos[0], (1_000_000_000, 1_000_000_000))  # same bytes, new time: redo
    photos[1].unlink()  # gone: its row leaves the table
    again = extract_folder(root, table, workers=1, progress=False)
    assert (again.n_extracted, again.n_reused, again.n_dropped) == (1, first.n_images - 2, 1)
    df = load_table(table)
    assert f"standing/{photos[1].name}" not in set(df["path"])
    assert len(df) == first.n_images - 1


def test_other_extraction_options_re_extract(one_worker_run, photo_dir, tmp_path):
    root, _ = photo_dir
    _, df = one_worker_run
    table = tmp_path / "table.csv"
    save_table(df, table)
    same = extract_folder(root, table, workers=1, progress=False)
    assert same.n_extracted == 0
    other = extract_folder(root, table, options=ExtractOptions(min_detection_confidence=0.9),
                           workers=1, progress=False)
    assert other.n_reused == 0 and other.n_extracted == len(df)
    assert set(load_table(table)["extractor"]) == {"solutions:1:0.9"}


def test_class_summary_counts_reasons():
    df = pd.DataFrame({
        "label": ["a", "a", "b"],
        "detected": [True, False, False],
        "reason": ["", NO_PERSON, "unreadable: empty"],
    })
    summary = class_summary(df)
    assert summary.loc["a"].tolist() == [2, 1, 1, 0]
    assert summary.loc["b"].tolist() == [1, 0, 0, 1]


def test_outliers_also_flag_a_pose_unlike_its_class():
    """A synthetic table: two tight classes and one row whose skeleton is scrambled."""

    from poseclf.pose.landmarks import Pose
    from poseclf.pose.poses import Poses
    from poseclf.tables.review import UNLIKE_ITS_CLASS, find_outliers

    rng = np.random.default_rng(11)
    base = rng.random((33, 4)).astype(np.float32)
    base[:, 3] = 1.0
    poses, paths, labels = [], [], []
    for i in range(40):
        label = "up" if i % 2 else "down"
        lm = base.copy()
        if label == "up":
            lm[[15, 16], 1] -= 0.5
        lm[:, :2] += rng.normal(0, 0.005, (33, 2))
        if i == 7:  # a bad detection: limbs thrown about
            lm[11:, :2] = rng.random((22, 2))
        poses.append(Pose(lm, None, (100, 100)))
        paths.append(f"{label}/{i}.jpg")
        labels.append(label)
    flagged = find_outliers(Poses.from_poses(poses).to_table(paths, labels, [""] * 40), "knn")
    assert "up/7.jpg" in set(flagged["path"])
    row = flagged.set_index("path").loc["up/7.jpg"]
    assert row["problem"] == UNLIKE_ITS_CLASS or row["margin"] > 0
    assert row["novelty"] > 1
