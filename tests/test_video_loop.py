"""The frame loop of ``run_video`` (:func:`poseclf.video.loop.run_frames`) on made-up frame
results: no BlazePose, no model, so every stop and sink is checked in well under a second."""

from __future__ import annotations

import logging
import signal

import numpy as np
import pandas as pd
import pytest

from poseclf.errors import Terminated
from poseclf.pose.video_sources import VideoInfo
from poseclf.video.loop import Sinks, StopFlag, Stops, run_frames, timeline_row
from poseclf.video.outputs import TimelineWriter
from poseclf.video.results import (
    STOP_END,
    STOP_INTERRUPTED,
    STOP_MAX_FRAMES,
    STOP_TERMINATED,
    FrameResult,
    VideoReport,
)
from poseclf.video.smoothing import LabelSmoother

CLASSES = ("down", "up")
SIZE = (64, 48)
PERSON = object()  # a stand-in pose: only ever counted, never drawn
#: Per frame: the model's probabilities, or why there are none (and whether a person was found).
SCRIPT = [[0.9, 0.1]] * 4 + [None, "unknown"] + [[0.1, 0.9]] * 6 + [None] * 8 + [[0.8, 0.2]] * 3


def info(frames: int | None = len(SCRIPT), live: bool = False) -> VideoInfo:
    return VideoInfo(*SIZE, 30.0, frames, "made-up.mp4", live)


def labelled(script=SCRIPT, draw: bool = False):
    """FrameResults as label_frames makes them, and the smoother that made them."""
    smoother = LabelSmoother(list(CLASSES), window=3, min_frames=2, max_missing=2)

    def frames():
        for index, step in enumerate(script):
            proba = step if isinstance(step, list) else None
            reason = step if isinstance(step, str) else "no_person"
            pose = None if draw or (proba is None and step is None) else PERSON
            smoothed = smoother.update(proba, absent=reason)
            yield FrameResult(index, np.zeros((SIZE[1], SIZE[0], 3), np.uint8), pose,
                              None if proba is None else np.asarray(proba), reason, smoothed,
                              index // 5, CLASSES, "down")
    return frames(), smoother


def report() -> VideoReport:
    return VideoReport(info=info(), classes=list(CLASSES), count_class="down", repetitions=0)


class Frames:
    """A video sink that keeps copies of the frames it is given."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def write(self, frame: np.ndarray) -> None:
        self.frames.append(frame.copy())


def test_every_frame_is_written_counted_and_timed(tmp_path):
    results, smoother = labelled()
    done = report()
    with TimelineWriter(tmp_path / "t.csv", CLASSES) as rows:
        run_frames(results, info(), Sinks(None, rows, progress=False), Stops(StopFlag()), done)
    timeline = pd.read_csv(tmp_path / "t.csv", keep_default_na=False)
    assert timeline["frame"].tolist() == list(range(len(SCRIPT)))
    assert timeline["time_s"].tolist() == [round(i / 30.0, 4) for i in range(len(SCRIPT))]
    assert done.stop_reason == STOP_END and done.frames == len(SCRIPT)
    assert done.pose_frames == len(SCRIPT) - 9  # 8 + 1 frames without a person
    assert done.rejected_frames == 1 and done.detected_frames == len(SCRIPT) - 10
    assert done.label_switches == smoother.n_switches > 0
    raw = timeline["raw_label"].tolist()
    assert done.raw_label_switches == sum(a != b for a, b in zip(raw, raw[1:], strict=False))
    assert done.repetitions == (len(SCRIPT) - 1) // 5 and done.elapsed_s > 0


def test_timeline_row_rounds_like_the_timeline_columns():
    results, _ = labelled()
    first = next(results)
    row = timeline_row(first, 1 / 3)
    assert row[:7] == [0, 0.3333, 1, "down", first.label, round(first.smoothed.confidence, 4), 0]
    assert row[7:] == np.round(first.smoothed.probabilities, 4).tolist()


def test_max_frames_stops_the_loop_after_that_frame():
    results, _ = labelled()
    done = report()
    run_frames(results, info(), Sinks(None, None, progress=False), Stops(StopFlag(), 7), done)
    assert (done.stop_reason, done.frames) == (STOP_MAX_FRAMES, 7)
    assert Stops(StopFlag(), 7).expected(info()) == 7
    assert Stops(StopFlag(), 70).expected(info()) == len(SCRIPT)
    assert Stops(StopFlag()).expected(info(None, live=True)) is None


@pytest.mark.parametrize(("signum", "reason"), [(signal.SIGINT, STOP_INTERRUPTED),
                                                (signal.SIGTERM, STOP_TERMINATED)])
def test_a_signal_stops_before_the_next_read_and_the_files_get_every_frame(tmp_path, signum,
                                                                           reason):
    stop = StopFlag()
    results, _ = labelled()

    reads = []

    def signalled_after_three():
        for result in results:
            reads.append(result.index)
            if result.index == 2:  # the signal comes while the third frame is read
                stop._handler(signum, None)
            yield result

    done = report()
    with TimelineWriter(tmp_path / "t.csv", CLASSES) as rows:
        run_frames(signalled_after_three(), info(), Sinks(None, rows, progress=False),
                   Stops(stop), done)
    assert (done.stop_reason, done.frames) == (reason, 3)  # that frame is kept, no other read
    assert reads == [0, 1, 2] and len(pd.read_csv(tmp_path / "t.csv")) == 3
    assert stop.closing  # a further signal no longer raises while the files are finished
    stop._handler(signum, None)


@pytest.mark.parametrize(("error", "reason"), [(KeyboardInterrupt(), STOP_INTERRUPTED),
                                               (Terminated(signal.SIGTERM), STOP_TERMINATED)])
def test_a_second_signal_ends_the_loop_without_raising(tmp_path, error, reason):
    results, _ = labelled()

    def broken_after_four():
        for result in results:
            if result.index == 4:
                raise error
            yield result

    done = report()
    with TimelineWriter(tmp_path / "t.csv", CLASSES) as rows:
        run_frames(broken_after_four(), info(), Sinks(None, rows, progress=False),
                   Stops(StopFlag()), done)
    assert (done.stop_reason, done.frames) == (reason, 4)
    assert len(pd.read_csv(tmp_path / "t.csv")) == 4


def test_an_error_of_the_files_is_raised():
    class Full:
        def write(self, frame):
            raise OSError(28, "No space left on device")

    results, _ = labelled(draw=True)
    with pytest.raises(OSError, match="No space left"):
        run_frames(results, info(), Sinks(Full(), None, progress=False), Stops(StopFlag()),
                   report())


def test_the_video_gets_annotated_frames_drawn_in_the_writer_thread():
    results, _ = labelled(draw=True)
    video = Frames()
    run_frames(results, info(), Sinks(video, None, progress=False), Stops(StopFlag()), report())
    assert len(video.frames) == len(SCRIPT)
    assert all(frame.any() for frame in video.frames)  # label and bars drawn on black


def test_a_source_shorter_than_announced_is_a_warning(caplog):
    results, _ = labelled()
    with caplog.at_level(logging.WARNING):
        run_frames(results, info(len(SCRIPT) + 5), Sinks(None, None, progress=False),
                   Stops(StopFlag()), report())
    assert f"the source ended after {len(SCRIPT)} of {len(SCRIPT) + 5} frames" in caplog.text
