"""The frame loop of ``run_video``: labelled frames to the sinks until the source ends or a stop.

:func:`run_frames` (called by :func:`~poseclf.video.run.run_video`) takes the
:class:`~poseclf.video.results.FrameResult` of each frame (from
:func:`~poseclf.video.run.label_frames`), sends it to the :class:`Sinks` (window, annotated
video, timeline, progress bar) and counts it into the
:class:`~poseclf.video.results.VideoReport`, until the source ends or one of the
:class:`Stops` (a signal, ``max_frames``; or q/Esc in the window). However it ends, every frame
processed reaches the files before they close.

Drawing and writing run in a worker thread (:class:`_Writer`); a frame shown in the window is
drawn in the loop's thread, since the window shows it at once.
"""

from __future__ import annotations

import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from tqdm.auto import tqdm

from ..errors import Terminated
from ..pictures.draw import (
    CounterAnnotator,
    FallAlarmAnnotator,
    LabelAnnotator,
    PeopleAnnotator,
    RepsAnnotator,
    SkeletonAnnotator,
    annotate_all,
)
from ..pose.landmarks import NO_PERSON
from ..pose.video_sources import VideoInfo
from .falls import FallEvent, FallEventWriter
from .outputs import TIMELINE_DECIMALS, WINDOW_TITLE, TimelineWriter, VideoSink
from .people import PeopleFrame
from .results import (
    STOP_END,
    STOP_INTERRUPTED,
    STOP_MAX_FRAMES,
    STOP_QUIT,
    STOP_TERMINATED,
    FrameResult,
    PersonTally,
    VideoReport,
)

logger = logging.getLogger(__name__)

FPS_AVERAGE = 0.9  # weight of the previous value in the displayed processing rate (EMA)
QUIT_KEYS = (ord("q"), ord("Q"), 27)  # q or Esc closes the window
OUTPUT_QUEUE_FRAMES = 8  # frames waiting for the drawing/writing thread (~0.3 s at 30 fps)


# -- what the loop is given ------------------------------------------------------------------
class StopFlag:
    """Turns the first SIGINT, SIGTERM or SIGHUP into a request to stop after the current frame.

    Installed in the main thread only. A second signal raises at once (KeyboardInterrupt for
    Ctrl-C, :class:`~poseclf.errors.Terminated` for the others) so a stuck loop can still be
    stopped, except once :attr:`closing` is set: the files being closed and renamed are never cut
    short. The previous handlers come back on exit.
    """

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                    if hasattr(signal, name))

    def __init__(self) -> None:
        self.requested = False
        self.signum: int | None = None
        self.closing = False
        self._previous: dict = {}

    @property
    def stop_reason(self) -> str:
        return STOP_INTERRUPTED if self.signum == signal.SIGINT else STOP_TERMINATED

    def _handler(self, signum, frame) -> None:
        if self.requested and not self.closing:
            raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)
        if not self.requested:
            self.requested, self.signum = True, signum

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()


class Sinks(NamedTuple):
    """Where the labelled frames go: each may be left out.

    ``video`` gets every frame annotated, ``timeline`` one row per frame (both open; None when
    not asked for), ``window`` says whether the (open) preview window shows each frame,
    ``progress`` whether a tqdm bar counts frames on stderr (and each fall is announced there),
    and ``falls`` (open) each fall event with a snapshot of its annotated frame.
    """

    video: VideoSink | None
    timeline: TimelineWriter | None
    window: bool = False
    progress: bool = True
    falls: FallEventWriter | None = None


class Stops(NamedTuple):
    """What ends the loop before its source does: a signal caught by ``signals`` (checked before
    each read, since a live read can take a while) or ``max_frames`` frames processed.

    (The window's q/Esc is the third stop; the source's ``timeout`` bounds its waits when it is
    opened, before the loop.)
    """

    signals: StopFlag
    max_frames: int | None = None

    def signalled(self) -> str | None:
        """The stop reason when a signal asked to stop, else None."""
        return self.signals.stop_reason if self.signals.requested else None

    def enough(self, frames: int) -> bool:
        """Whether ``frames`` processed frames reach ``max_frames``."""
        return self.max_frames is not None and frames >= self.max_frames

    def expected(self, info: VideoInfo) -> int | None:
        """Frames the loop should run for (None: unknown, a camera or a stream)."""
        total = info.total_frames
        if self.max_frames is not None:
            total = self.max_frames if total is None else min(total, self.max_frames)
        return total


# -- the loop --------------------------------------------------------------------------------
def run_frames(results: Iterable[FrameResult], info: VideoInfo, sinks: Sinks, stops: Stops,
               report: VideoReport) -> None:
    """Send each labelled frame of ``results`` to ``sinks`` and count it into ``report``.

    Ends at the end of ``results``, at one of ``stops`` or when the window is closed, and sets
    ``report.stop_reason`` to say which. A second signal (KeyboardInterrupt,
    :class:`~poseclf.errors.Terminated`) also ends it without raising. The files get every
    frame processed before this returns; an error of theirs (disk full, ...) is raised.
    """
    total = stops.expected(info)
    bar = tqdm(total=total, unit="frame", desc=Path(info.source).name or info.source,
               disable=not sinks.progress, leave=False)
    outlet = _Outlet(sinks)
    clock = _Clock(info)
    tally = _Tally(report)
    results = iter(results)
    report.stop_reason = STOP_END
    try:
        while (reason := stops.signalled()) is None:
            labelled = next(results, None)
            if labelled is None:
                break
            labelled = replace(labelled, rate=clock.tick())
            labelled = outlet.send(labelled, clock.time_s(labelled.index))
            tally.add(labelled)
            if labelled.fall_event is not None and sinks.progress:
                tqdm.write(f"fall at {labelled.fall_event.start_s:.1f} s: on the floor "
                           f"{labelled.fall_event.on_floor_s:.1f} s (confidence "
                           f"{labelled.fall_event.confidence:.2f})", file=sys.stderr)
            bar.update(1)
            if outlet.show(labelled.frame):
                reason = STOP_QUIT
                break
            if stops.enough(report.frames):
                reason = STOP_MAX_FRAMES
                break
        report.stop_reason = reason or STOP_END
    except KeyboardInterrupt as err:  # a second signal, or one outside the main thread
        report.stop_reason = STOP_TERMINATED if isinstance(err, Terminated) else STOP_INTERRUPTED
    finally:
        stops.signals.closing = True  # from here on a signal only asks to stop: files get done
        try:
            outlet.close()  # every queued frame reaches the files before they close
        finally:
            bar.close()
            report.elapsed_s = clock.elapsed()
    if report.stop_reason == STOP_END and total is not None and report.frames < total:
        logger.warning("%s: the source ended after %d of %d frames", info.source, report.frames,
                       total)


# -- its parts -------------------------------------------------------------------------------
class _Clock:
    """The loop's wall time: the processing rate shown (an EMA over frames) and the time of a
    timeline row (the clock for a live source, the frame index for a file)."""

    def __init__(self, info: VideoInfo) -> None:
        self.live, self.fps = info.live, info.fps
        self.start = self.last = time.perf_counter()
        self.rate: float | None = None

    def tick(self) -> float | None:
        """Mark a new frame; returns the processing rate in frames per second."""
        now = time.perf_counter()
        step = now - self.last
        self.last = now
        if step > 0:
            self.rate = (1.0 / step if self.rate is None
                         else FPS_AVERAGE * self.rate + (1 - FPS_AVERAGE) / step)
        return self.rate

    def time_s(self, index: int) -> float:
        """Time of frame ``index`` in the timeline (the one just ticked, for a live source)."""
        return (self.last - self.start) if self.live else index / self.fps

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


class _Tally:
    """Counts each labelled frame into a report."""

    def __init__(self, report: VideoReport) -> None:
        self.report = report
        self._previous_raw: str | None = None

    def add(self, labelled: FrameResult | PeopleFrame) -> None:
        if isinstance(labelled, PeopleFrame):
            self._add_people(labelled)
            return
        report, result, pose = self.report, labelled.smoothed, labelled.pose
        report.frames += 1
        report.detected_frames += result.detected
        report.pose_frames += pose is not None
        report.rejected_frames += pose is not None and labelled.probabilities is None
        report.raw_label_switches += self._previous_raw not in (None, result.raw_label)
        self._previous_raw = result.raw_label
        report.label_switches += result.changed
        report.repetitions = labelled.repetitions
        if labelled.fall_event is not None:
            report.fall_events.append(labelled.fall_event)

    def _add_people(self, labelled: PeopleFrame) -> None:
        """A several-people frame: the frame counts once (with a pose when anyone has one);
        each person's frames and count go to ``report.people``."""
        report = self.report
        report.frames += 1
        report.repetitions = None  # counted per person
        report.pose_frames += any(p.pose is not None for p in labelled.people)
        report.detected_frames += any(p.smoothed.detected for p in labelled.people)
        report.rejected_frames += any(p.pose is not None and p.probabilities is None
                                      for p in labelled.people)
        for person in labelled.people:
            tally = report.people.setdefault(person.person, PersonTally(first_frame=labelled.index))
            tally.last_frame = labelled.index
            tally.pose_frames += person.pose is not None
            tally.detected_frames += person.smoothed.detected
            tally.label_switches += person.smoothed.changed
            tally.repetitions = person.repetitions


def timeline_row(labelled: FrameResult, time_s: float) -> list:
    """The timeline row of a labelled frame (columns of :class:`TimelineWriter`)."""
    result, repetitions = labelled.smoothed, labelled.repetitions
    return [labelled.index, round(time_s, TIMELINE_DECIMALS), int(result.detected),
            result.raw_label, result.label, round(result.confidence, TIMELINE_DECIMALS),
            "" if repetitions is None else repetitions,
            *np.round(result.probabilities, TIMELINE_DECIMALS).tolist()]


def people_rows(labelled: PeopleFrame, time_s: float, n_classes: int) -> list[list]:
    """The timeline rows of a several-people frame (a :class:`TimelineWriter` with a
    ``person`` column): one per person followed, or one ``no_person`` row without a person id
    when nobody is."""
    if not labelled.people:
        return [[labelled.index, round(time_s, TIMELINE_DECIMALS), "", 0, NO_PERSON, NO_PERSON,
                 0.0, "", *([0.0] * n_classes)]]
    rows = []
    for person in labelled.people:
        row = timeline_row(person, time_s)
        rows.append([*row[:2], person.person, *row[2:]])
    return rows


class _Outlet:
    """The sinks during one loop: each frame is drawn once (here when the window shows it, else
    in the writer thread), then written, its row kept, and shown."""

    def __init__(self, sinks: Sinks) -> None:
        annotators = (SkeletonAnnotator(), LabelAnnotator(), CounterAnnotator(),
                      RepsAnnotator(), FallAlarmAnnotator())
        people = PeopleAnnotator()

        def annotate(frame: np.ndarray, result: FrameResult | PeopleFrame) -> np.ndarray:
            if isinstance(result, PeopleFrame):
                return people.annotate(frame, result)
            return annotate_all(frame, result, annotators)

        self.sinks, self.annotate = sinks, annotate
        files = sinks.video is not None or sinks.timeline is not None or sinks.falls is not None
        self.writer = (_Writer(sinks.video, sinks.timeline, annotate, sinks.falls) if files
                       else None)

    def send(self, labelled: FrameResult | PeopleFrame,
             time_s: float) -> FrameResult | PeopleFrame:
        """Draw the frame for the window, queue it (drawn there for the video or a fall's
        snapshot) and its rows; returns it with its fall event's snapshot named."""
        sinks = self.sinks
        if isinstance(labelled, PeopleFrame):
            if sinks.window:
                self.annotate(labelled.frame, labelled)
            if self.writer is not None:
                rows = [] if sinks.timeline is None else people_rows(
                    labelled, time_s, len(sinks.timeline.classes))
                draw = sinks.video is not None and not sinks.window
                self.writer.put(labelled.frame, labelled if draw else None, rows)
            return labelled
        event = labelled.fall_event
        if event is not None and sinks.falls is not None:
            event = sinks.falls.name_snapshot(event)
            labelled = replace(labelled, fall_event=event)
        if sinks.window:  # the window shows the frame now: draw here, not in the worker
            self.annotate(labelled.frame, labelled)
        if self.writer is not None:
            rows = [] if sinks.timeline is None else [timeline_row(labelled, time_s)]
            draw = (sinks.video is not None or event is not None) and not sinks.window
            self.writer.put(labelled.frame, labelled if draw else None, rows,
                            event if sinks.falls is not None else None)
        return labelled

    def show(self, frame: np.ndarray) -> bool:
        """Show the frame in the window, if any; True when q/Esc or closing it asks to quit."""
        if not self.sinks.window:
            return False
        cv2.imshow(WINDOW_TITLE, frame)
        key = cv2.waitKey(1) & 0xFF
        return key in QUIT_KEYS or cv2.getWindowProperty(WINDOW_TITLE, cv2.WND_PROP_VISIBLE) < 1

    def close(self) -> None:
        """Wait for the writer thread to write every queued frame; raises its error."""
        if self.writer is not None:
            self.writer.close()


class _Writer:
    """Draws and writes frames in a worker thread, in frame order.

    OpenCV drawing and video encoding release the GIL, so this overlaps with BlazePose on the
    next frame (on a 2-core laptop it hides about 7 ms per 1280x720 frame). At most
    :data:`OUTPUT_QUEUE_FRAMES` frames wait; :meth:`close` writes them all, so a stopped run
    still has every processed frame in its files. An error in the worker (disk full, ...)
    is raised in the caller at the next frame or at :meth:`close`.
    """

    def __init__(self, sink: VideoSink | None, rows: TimelineWriter | None,
                 draw: Callable[[np.ndarray, FrameResult | PeopleFrame], object],
                 falls: FallEventWriter | None = None) -> None:
        self.sink, self.rows, self.draw, self.falls = sink, rows, draw, falls
        self._queue: queue.Queue = queue.Queue(maxsize=OUTPUT_QUEUE_FRAMES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="poseclf-video-output",
                                         daemon=True)
        self._thread.start()

    def put(self, frame: np.ndarray, result: FrameResult | PeopleFrame | None,
            rows: Sequence[list] = (), event: FallEvent | None = None) -> None:
        """Queue ``frame``, drawn with ``result`` unless None, its timeline ``rows`` and the
        fall ``event`` raised on it (written with the drawn frame as its snapshot)."""
        if self._error is not None:
            raise self._error
        self._queue.put((frame, result, rows, event))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so that put() never blocks
            frame, result, rows, event = item
            try:
                if result is not None:
                    self.draw(frame, result)
                if self.sink is not None:
                    self.sink.write(frame)
                if self.rows is not None:
                    for row in rows:
                        self.rows.write(row)
                if self.falls is not None and event is not None:
                    self.falls.write(event, frame)
            except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
                self._error = err

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
