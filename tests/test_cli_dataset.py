"""``poseclf extract`` / ``stats`` / ``outliers`` end to end, including a real interruption."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, ctrl_c_as_in_a_terminal, shared_data_or_skip
from test_dataset import assert_same_rows, copy_photos

from poseclf.cli import main
from poseclf.pose.table import load_table, parse_frame_path
from poseclf.pose.video_sources import VideoInfo
from poseclf.tables.dataset import extract_folder
from poseclf.video.segments import (
    read_segments,
    segments_from_annotations,
    write_segments,
)

INTERRUPT_PHOTOS_PER_CLASS = 20  # 40 photos: ~1 s of extraction, time to kill it part-way
KILL_AFTER_ROWS = 4  # rows that must be on disk before the kill
POLL_S = 0.01  # s between looks at the table file
START_TIMEOUT_S = 60  # s: worker start-up on a loaded 2-core machine


def saved_rows(table) -> int:
    try:
        with open(table, encoding="utf-8") as f:
            return max(0, sum(1 for _ in f) - 1)  # minus the header
    except FileNotFoundError:
        return 0


def interrupt_extract(args: list[str], table, min_rows: int, sig) -> bytes:
    """Run ``poseclf ARGS`` in a subprocess, send ``sig`` once ``table`` holds ``min_rows``
    rows, check the exit status (killed, or 130/143 after a clean stop); its stderr."""
    process = subprocess.Popen([sys.executable, "-m", "poseclf", *args], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=ctrl_c_as_in_a_terminal)
    deadline = time.monotonic() + START_TIMEOUT_S
    while saved_rows(table) < min_rows and process.poll() is None:
        assert time.monotonic() < deadline, "extraction never wrote rows"
        time.sleep(POLL_S)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=START_TIMEOUT_S)
    if sig == signal.SIGKILL:
        assert process.returncode == -signal.SIGKILL
    else:  # Ctrl-C and `kill` stop cleanly, with the shell's status for each signal
        assert process.returncode == 128 + sig, stderr.decode()[-2000:]
        assert b"interrupted" in stderr
        assert b"Traceback" not in stderr
    return stderr


@pytest.fixture(scope="module")
def many_photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("many") / "data"
    copy_photos(root, "sitstand_multimediaimg", INTERRUPT_PHOTOS_PER_CLASS)
    return root


@pytest.fixture(scope="module")
def uninterrupted(many_photos, tmp_path_factory):
    table = tmp_path_factory.mktemp("ref") / "table.csv"
    extract_folder(many_photos, table, workers=1, progress=False)
    return load_table(table)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM],
                         ids=["SIGKILL", "SIGINT", "SIGTERM"])
def test_killed_extraction_resumes_to_the_uninterrupted_table(
        many_photos, uninterrupted, tmp_path, sig):
    table = tmp_path / "table.csv"
    interrupt_extract(["extract", str(many_photos), "-o", str(table), "--workers", "1",
                       "--batch-size", "1", "--checkpoint-seconds", "0", "-q"],
                      table, KILL_AFTER_ROWS, sig)
    partial = load_table(table)  # never corrupt
    assert KILL_AFTER_ROWS <= len(partial) < len(uninterrupted), "the run was not cut short"
    assert set(partial["path"]) <= set(uninterrupted["path"])

    assert main(["extract", str(many_photos), "-o", str(table), "--workers", "2", "-q"]) == 0
    assert_same_rows(load_table(table), uninterrupted)


def test_extract_prints_the_per_class_report(many_photos, uninterrupted, tmp_path, capsys):
    table = tmp_path / "t.csv"
    uninterrupted.to_csv(table, index=False)  # a complete table: nothing left to do
    assert main(["extract", str(many_photos), "-o", str(table), "-q"]) == 0
    out = capsys.readouterr().out
    assert f"{len(uninterrupted)} images (done); extracted 0" in out
    assert "sitting" in out and "standing" in out


def test_stats_prints_counts_and_rates(uninterrupted, tmp_path, capsys):
    from poseclf.tables.review import table_stats

    table = tmp_path / "t.csv"
    uninterrupted.to_csv(table, index=False)
    assert main(["stats", str(table)]) == 0
    out = capsys.readouterr().out
    stats = table_stats(uninterrupted)
    counts = uninterrupted["label"].value_counts()
    assert stats.loc["sitting", "images"] == counts["sitting"]
    assert stats.loc["all", "images"] == len(uninterrupted)
    np.testing.assert_allclose(stats["detection_rate"], stats["detected"] / stats["images"])
    assert 0.0 < stats.loc["all", "mean_visibility"] <= 1.0
    first = out.splitlines()[0].split()
    assert first[:2] == ["images", "detected"] and "mean_visibility" in first
    assert out.splitlines()[-1].split()[:2] == ["all", str(len(uninterrupted))]


# -- labelled video -------------------------------------------------------------------------
SIT_SEGMENT_LABELS = ("sitting", "standing")
SIT_FRAMES = (140, 160)  # a standing -> sitting stretch of sit.mp4, ~4 s at 5 fps


@pytest.fixture(scope="module")
def sit_video():
    return shared_data_or_skip("videos", "sit.mp4")


def short_segments(sit_video, tmp_path):
    """sit.mp4 segments from annotations.json, cut to SIT_FRAMES, written as a CSV."""
    annotations = sit_video.parent / "annotations.json"
    segments = [s for s in segments_from_annotations(annotations, "sit.mp4", SIT_SEGMENT_LABELS)
                if s.end_frame >= SIT_FRAMES[0] and s.start_frame <= SIT_FRAMES[1]]
    from poseclf.video.segments import Segment

    cut = [Segment(max(s.start_frame, SIT_FRAMES[0]), min(s.end_frame, SIT_FRAMES[1]), s.label)
           for s in segments]
    return write_segments(cut, tmp_path / "segments.csv"), cut


def test_segments_from_annotations_keep_only_the_asked_labels(sit_video):
    segments = segments_from_annotations(sit_video.parent / "annotations.json", "sit.mp4",
                                         SIT_SEGMENT_LABELS)
    assert {s.label for s in segments} == set(SIT_SEGMENT_LABELS)
    assert segments[0].start_frame == 103  # the person walks in (annotations.json)
    all_segments = segments_from_annotations(sit_video.parent / "annotations.json", "sit.mp4")
    n_frames = VideoInfo.from_video_path(sit_video).total_frames
    assert sum(len(s.frames()) for s in all_segments) == n_frames


@pytest.mark.slow  # a whole video in tracking mode (2 s)
def test_extract_video_segments_labels_frames(sit_video, tmp_path):
    segments_csv, segments = short_segments(sit_video, tmp_path)
    table = tmp_path / "video.csv"
    assert main(["extract", str(sit_video), "--segments", str(segments_csv), "--stride", "2",
                 "-o", str(table), "-q"]) == 0
    df = pd.read_csv(table, keep_default_na=False)
    expected = [(f, s.label) for s in segments for f in s.frames(2)]
    assert list(zip(df["frame"], df["label"], strict=True)) == expected
    assert df["path"].iloc[0] == f"sit.mp4#{expected[0][0]:06d}"
    assert parse_frame_path(df["path"].iloc[0]) == ("sit.mp4", expected[0][0])
    np.testing.assert_allclose(df["time_s"], df["frame"] / 5.0)  # sit.mp4 runs at 5 fps
    assert (df["width"] == 320).all() and (df["height"] == 240).all()
    assert df["detected"].astype(str).eq("True").mean() > 0.5  # the person is in view
    loaded = load_table(table)  # the schema every job reads

    from poseclf.pictures.sheets import MISSING, THUMB_SIZE, stats_sheet
    from poseclf.pose.row_pictures import load_row_image

    frame = load_row_image(sit_video.parent, loaded["path"].iloc[0])
    assert frame.shape == (240, 320, 3)
    sheet = stats_sheet(loaded, sit_video.parent, per_class=2)
    grey = (sheet == np.asarray(MISSING, np.uint8)).all(axis=2).sum()
    assert grey < THUMB_SIZE * THUMB_SIZE // 4  # every frame was found: no grey "missing" cell


def test_segments_in_seconds_select_the_same_frames(tmp_path):
    path = tmp_path / "seconds.csv"
    path.write_text("start_s,end_s,label\n28.0,29.6,standing\n30.4,32.0,sitting\n")
    frames = [(s.start_frame, s.end_frame, s.label) for s in read_segments(path, fps=5.0)]
    assert frames == [(140, 148, "standing"), (152, 160, "sitting")]


@pytest.mark.parametrize("content, message", [
    ("begin,end,label\n1,2,a\n", "needs the columns start_frame,end_frame,label"),
    ("start_frame,end_frame,label\n5,9,a\n8,12,b\n", "segments overlap"),
    ("start_frame,end_frame,label\n9,5,a\n", "ends before it starts"),
])
def test_bad_segments_are_refused_with_the_reason(tmp_path, content, message):
    path = tmp_path / "segments.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_segments(path)


def test_video_without_segments_is_a_usage_error(sit_video, tmp_path, capsys):
    assert main(["extract", str(sit_video), "-o", str(tmp_path / "t.csv")]) == 2
    assert "needs --segments" in capsys.readouterr().err


# -- review: outliers and contact sheets ----------------------------------------------------
MISLABELLED = 3  # standing photos relabelled "sitting" on purpose


@pytest.fixture
def mislabelled_table(uninterrupted, tmp_path):
    df = uninterrupted.copy()
    standing = df.index[(df["label"] == "standing") & df["detected"]]
    wrong = standing[:: len(standing) // MISLABELLED][:MISLABELLED]
    df.loc[wrong, "label"] = "sitting"
    table = tmp_path / "mislabelled.csv"
    df.to_csv(table, index=False)
    return table, set(df.loc[wrong, "path"])


@pytest.mark.parametrize("folds", [pytest.param(0, marks=pytest.mark.slow), 5],
                         ids=["leave-one-out", "5-fold"])  # leave-one-out: 2 s
def test_outliers_flags_mislabelled_photos_and_drops_them(
        mislabelled_table, many_photos, tmp_path, capsys, folds):
    import cv2

    table, wrong = mislabelled_table
    out_csv, sheet, clean = tmp_path / "out.csv", tmp_path / "sheet.png", tmp_path / "clean.csv"
    assert main(["outliers", str(table), "--folds", str(folds), "-o", str(out_csv),
                 "--sheet", str(sheet), "--images", str(many_photos), "--drop", str(clean)]) == 0
    flagged = pd.read_csv(out_csv)
    assert wrong <= set(flagged["path"])
    loses = flagged[flagged["problem"] == "label loses"]
    assert wrong <= set(loses["path"])
    assert (loses["predicted"] != loses["label"]).all()
    assert (loses["predicted_score"] > loses["label_score"]).all()
    unlike = flagged[flagged["problem"] == "unlike its class"]
    assert (unlike["novelty"] > 1).all()
    typical = flagged[flagged["problem"] == "least typical"]  # listed for review, not dropped
    assert len(typical) == 10 and (typical["novelty"] <= 1).all()
    assert typical["novelty"].is_monotonic_decreasing
    assert set(flagged["problem"]) <= {"label loses", "unlike its class", "least typical"}
    disputed = flagged[flagged["problem"] != "least typical"]
    kept = load_table(clean)
    assert not set(kept["path"]) & set(disputed["path"])
    assert set(typical["path"]) <= set(kept["path"])
    assert len(kept) == len(load_table(table)) - len(disputed)
    picture = cv2.imread(str(sheet))
    assert picture is not None and picture.shape[1] >= 2 * 200
    out = capsys.readouterr().out
    assert f"{len(disputed)} of" in out and "10 least typical rows listed for review" in out


def test_stats_sheet_has_one_row_of_thumbnails_per_class(uninterrupted, many_photos, tmp_path):
    import cv2

    from poseclf.pictures.sheets import LINE_HEIGHT, PAD, THUMB_SIZE, TITLE_HEIGHT

    table = tmp_path / "t.csv"
    uninterrupted.to_csv(table, index=False)
    sheet = tmp_path / "stats.png"
    assert main(["stats", str(table), "--sheet", str(sheet), "--images", str(many_photos),
                 "--per-class", "4"]) == 0
    picture = cv2.imread(str(sheet))
    row_h = THUMB_SIZE + 2 * LINE_HEIGHT + PAD
    assert picture.shape[0] == TITLE_HEIGHT + 2 * row_h + PAD  # sitting, standing


def test_sheet_without_images_folder_is_a_usage_error(uninterrupted, tmp_path, capsys):
    table = tmp_path / "t.csv"
    uninterrupted.to_csv(table, index=False)
    assert main(["outliers", str(table), "--sheet", str(tmp_path / "s.png")]) == 2
    assert "--sheet needs --images DATA_DIR" in capsys.readouterr().err


def test_bad_segment_files_are_one_line_errors_naming_the_file(tmp_path, capsys):
    video = shared_data_or_skip("videos", "sit.mp4")
    cases = {"columns.csv": "start,end\n1,2\n", "overlap.csv":
             "start_frame,end_frame,label\n1,20,a\n10,30,b\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    for name, message in (("columns.csv", "needs the columns start_frame,end_frame,label"),
                          ("overlap.csv", "segments overlap"),
                          ("missing.csv", "no such segments CSV")):
        code = main(["extract", str(video), "--segments", str(tmp_path / name),
                     "-o", str(tmp_path / "out.csv")])
        err = capsys.readouterr().err
        assert code != 0 and f"{tmp_path / name}: " in err and message in err
        assert "Traceback" not in err
    assert not (tmp_path / "out.csv").exists()
