"""Labelled-video extraction saves finished segments and resumes, like folder extraction.

Real BlazePose (video mode) on ``sit.mp4`` of ../shared/data: a few short segments, stride 2.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal

import pandas as pd
import pytest
from conftest import shared_data_or_skip
from test_cli_dataset import interrupt_extract

from poseclf.cli import main
from poseclf.pose.extraction import ExtractOptions
from poseclf.pose.table import load_table, save_table
from poseclf.video.segments import (
    Segment,
    extract_videos,
    extract_videos_to_table,
    write_segments,
)

pytestmark = pytest.mark.slow  # subprocesses, signals or notebooks: `pytest -m "not slow"` skips it

STRIDE = 2
# sit.mp4 (5 fps) frames inside annotations.json's standing / sitting segments; the last one is
# the longest so that a kill after the first saved segment lands well before the end
SEGMENTS = (Segment(120, 135, "standing"), Segment(140, 148, "standing"),
            Segment(152, 165, "sitting"), Segment(170, 220, "sitting"))
FIRST_SEGMENT_ROWS = len(SEGMENTS[0].frames(STRIDE))  # rows on disk before the kill


@pytest.fixture(scope="module")
def sit_video():
    return shared_data_or_skip("videos", "sit.mp4")


@pytest.fixture(scope="module")
def segments_csv(tmp_path_factory):
    return write_segments(SEGMENTS, tmp_path_factory.mktemp("segments") / "segments.csv")


@pytest.fixture(scope="module")
def uninterrupted(sit_video, segments_csv, tmp_path_factory):
    """The table of one uninterrupted CLI run, as read back."""
    table = tmp_path_factory.mktemp("ref") / "table.csv"
    assert main(["extract", str(sit_video), "--segments", str(segments_csv), "--stride",
                 str(STRIDE), "-o", str(table), "-q"]) == 0
    return load_table(table)


def segment_paths(segment: Segment, stride: int = STRIDE) -> set[str]:
    return {f"sit.mp4#{f:06d}" for f in segment.frames(stride)}


def test_the_table_has_the_segment_frames_and_resume_columns(uninterrupted, sit_video):
    expected = [(f, s.label, s.start_frame) for s in SEGMENTS for f in s.frames(STRIDE)]
    assert list(zip(uninterrupted["frame"], uninterrupted["label"],
                    uninterrupted["segment_start"], strict=True)) == expected
    assert (uninterrupted["stride"] == STRIDE).all()
    assert (uninterrupted["file_size"] == sit_video.stat().st_size).all()
    assert (uninterrupted["file_mtime"] - sit_video.stat().st_mtime).abs().max() < 1e-3
    assert (uninterrupted["extractor"] == ExtractOptions().tag).all()


def test_in_memory_extraction_gives_the_table_rows(uninterrupted, sit_video, tmp_path):
    df = extract_videos([(sit_video, SEGMENTS)], stride=STRIDE, progress=False)
    written = save_table(df, tmp_path / "table.csv")  # compared as the file gives it back
    pd.testing.assert_frame_equal(load_table(written), uninterrupted)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_killed_video_extraction_resumes_to_the_uninterrupted_table(
        sit_video, segments_csv, uninterrupted, tmp_path, sig, capsys):
    table = tmp_path / "table.csv"
    args = ["extract", str(sit_video), "--segments", str(segments_csv), "--stride", str(STRIDE),
            "-o", str(table), "-q"]
    stderr = interrupt_extract([*args, "--checkpoint-seconds", "0"], table, FIRST_SEGMENT_ROWS,
                               sig)
    if sig != signal.SIGKILL:  # Ctrl-C and `kill` stop cleanly, saying how to finish
        assert b"re-run the same command to finish" in stderr
    partial = load_table(table)  # never corrupt
    assert FIRST_SEGMENT_ROWS <= len(partial) < len(uninterrupted), "the run was not cut short"
    saved = set(partial["path"])
    for segment in SEGMENTS:  # whole segments only: tracking cannot restart mid-segment
        assert segment_paths(segment) <= saved or not segment_paths(segment) & saved
    reference = uninterrupted[uninterrupted["path"].isin(saved)].reset_index(drop=True)
    pd.testing.assert_frame_equal(partial, reference)

    capsys.readouterr()
    assert main(args) == 0
    assert f"reused {len(partial)}" in capsys.readouterr().out
    pd.testing.assert_frame_equal(load_table(table), uninterrupted)


def changed_label(segments):
    return [segments[0], dataclasses.replace(segments[1], label="sitting"), *segments[2:]]


def later_start(segments):  # same frames minus the first: tracking starts elsewhere
    return [dataclasses.replace(segments[0], start_frame=segments[0].start_frame + STRIDE),
            *segments[1:]]


@pytest.mark.parametrize("change, n_redone", [
    ({}, 0),
    ({"segments": changed_label}, 1),
    ({"segments": later_start}, 1),
    ({"touch": True}, len(SEGMENTS)),
    ({"stride": STRIDE + 1}, len(SEGMENTS)),
    ({"options": ExtractOptions(min_detection_confidence=0.6)}, len(SEGMENTS)),
], ids=["unchanged", "label", "segment-start", "video-file", "stride", "extractor"])
def test_rerun_redoes_only_the_segments_that_changed(
        uninterrupted, sit_video, tmp_path, change, n_redone):
    video = tmp_path / "sit.mp4"  # a copy whose file stamp the test controls
    shutil.copy2(sit_video, video)
    table = tmp_path / "table.csv"
    uninterrupted.to_csv(table, index=False)
    if change.get("touch"):
        stat = video.stat()
        os.utime(video, (stat.st_atime, stat.st_mtime + 60))
    segments = change.get("segments", list)(list(SEGMENTS))
    stride = change.get("stride", STRIDE)
    report = extract_videos_to_table([(video, segments)], table, stride=stride,
                                     options=change.get("options"), progress=False)
    assert report.n_redone_segments == n_redone
    n_frames = sum(len(s.frames(stride)) for s in segments)
    assert report.n_frames == n_frames and not report.interrupted
    redone = [s for s in segments if s not in SEGMENTS] if n_redone < len(SEGMENTS) else segments
    assert report.n_extracted == sum(len(s.frames(stride)) for s in redone)
    assert report.n_reused == n_frames - report.n_extracted
    df = load_table(table)
    assert list(df["frame"]) == [f for s in segments for f in s.frames(stride)]
    assert list(df["label"]) == [s.label for s in segments for _ in s.frames(stride)]
    assert list(df["segment_start"]) == [s.start_frame for s in segments
                                         for _ in s.frames(stride)]
    if not n_redone:
        pd.testing.assert_frame_equal(df, uninterrupted)


def test_no_resume_extracts_everything_again(uninterrupted, sit_video, segments_csv, tmp_path,
                                             capsys):
    table = tmp_path / "table.csv"
    uninterrupted.iloc[:FIRST_SEGMENT_ROWS].to_csv(table, index=False)
    assert main(["extract", str(sit_video), "--segments", str(segments_csv), "--stride",
                 str(STRIDE), "-o", str(table), "-q", "--no-resume"]) == 0
    assert f"extracted {len(uninterrupted)} in" in capsys.readouterr().out
    pd.testing.assert_frame_equal(load_table(table), uninterrupted)


def test_two_videos_with_the_same_name_are_refused(sit_video, tmp_path):
    other = tmp_path / "copy" / "sit.mp4"
    other.parent.mkdir()
    shutil.copyfile(sit_video, other)
    with pytest.raises(ValueError, match="same file name would both have a row sit.mp4#000140"):
        extract_videos_to_table([(sit_video, SEGMENTS[1:2]), (other, SEGMENTS[1:2])],
                                tmp_path / "table.csv", progress=False)


def test_parallel_run_completes_a_partial_table(uninterrupted, sit_video, tmp_path):
    table = tmp_path / "table.parquet"
    done = segment_paths(SEGMENTS[0]) | segment_paths(SEGMENTS[2])  # a gap in the middle
    save_table(uninterrupted[uninterrupted["path"].isin(done)], table)
    report = extract_videos_to_table([(sit_video, SEGMENTS)], table, stride=STRIDE, workers=2,
                                     checkpoint_s=0, progress=False)
    assert (report.n_reused, report.n_redone_segments) == (len(done), 0)
    pd.testing.assert_frame_equal(load_table(table), uninterrupted)
