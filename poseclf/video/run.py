"""Labelled video: the frame loop from a camera, file or stream to an annotated video and timeline.

Sources (webcam, file, stream; bounded waits) are in :mod:`poseclf.pose.video_sources`; the outputs
(mp4, timeline, their staging under temporary names, the window) in
:mod:`poseclf.video.outputs`.

:func:`run_video` is the one frame loop of poseclf: BlazePose in video (tracking) mode, the model's
class probabilities, :class:`~poseclf.video.smoothing.LabelSmoother`,
:class:`~poseclf.video.counting.RepetitionCounter`, the overlays of :mod:`poseclf.pictures.draw`,
the sinks, and an optional window. Ctrl-C, SIGTERM, the end of a file or a camera that disappears
all end the loop cleanly: every frame processed so far is in the video and the timeline, and both
files are closed properly (playable, complete rows).

Nothing is lost on a bad input: every setting, both outputs (known extension, writable folder,
neither the source nor each other) and the source's first frame are checked before BlazePose
starts, and the outputs are written under temporary names and renamed at the end, so an
existing file is only ever replaced by a complete one.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from tqdm.auto import tqdm

from ..errors import Terminated
from ..pictures.draw import CounterAnnotator, LabelAnnotator, SkeletonAnnotator, annotate_all
from ..pose.landmarks import NO_PERSON
from ..pose.video_sources import (
    DEFAULT_TIMEOUT_S,
    VideoError,
    VideoInfo,
    is_live_source,
    iter_frames,
    open_with_first_frame,
    parse_source,
)
from .counting import RepetitionCounter
from .outputs import (
    TIMELINE_DECIMALS,
    WINDOW_TITLE,
    StagedOutputs,
    TimelineWriter,
    VideoSink,
    check_outputs,
    open_window,
)
from .results import (
    STOP_END,
    STOP_INTERRUPTED,
    STOP_MAX_FRAMES,
    STOP_QUIT,
    STOP_TERMINATED,
    FrameResult,
    VideoReport,
)
from .smoothing import (
    DEFAULT_ALPHA,
    DEFAULT_MARGIN,
    DEFAULT_MAX_MISSING_VIDEO,
    DEFAULT_MIN_FRAMES,
    DEFAULT_WINDOW_VIDEO,
    LabelSmoother,
    frames_or_seconds,
    seconds_to_frames,
)

if TYPE_CHECKING:
    from ..pose.extraction import ExtractOptions

logger = logging.getLogger(__name__)

COUNTER_MAX_MISSING_S = 0.5  # s without a pose the repetition counter bridges
COUNTER_MIN_OUT_S = 0.2  # s out of the counted class before an entry counts (see counting.py)
FPS_AVERAGE = 0.9  # weight of the previous value in the displayed processing rate (EMA)
QUIT_KEYS = (ord("q"), ord("Q"), 27)  # q or Esc closes the window
OUTPUT_QUEUE_FRAMES = 8  # frames waiting for the drawing/writing thread (~0.3 s at 30 fps)

# -- the loop --------------------------------------------------------------------------------
def load_model(model):
    """A :class:`~poseclf.classify.model.PoseModel` from itself or from a model file path.

    The one place the video job turns a ``--model`` argument into a model.
    """
    from ..classify.model import PoseModel

    if isinstance(model, (str, os.PathLike)):
        return PoseModel.load(model)
    return model


class _StopFlag:
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

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()


def label_frames(frames: Iterable[np.ndarray], extractor, model, smoother: LabelSmoother,
                 counter: RepetitionCounter | None = None, *,
                 reject: bool = True) -> Iterator[FrameResult]:
    """Label BGR frames one by one: BlazePose, the model, the smoother and the counter.

    The heart of :func:`run_video`, with no window, thread or file: drive it from Python
    (notebooks, tests, an app's own capture loop). ``extractor`` should be in video
    (tracking) mode; frames are read only as results are asked for.
    """
    count_index = None if counter is None else counter.index_in(smoother.classes)
    classes = tuple(smoother.classes)
    count_class = None if counter is None else counter.class_name
    for index, frame in enumerate(frames):
        pose = extractor(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        proba, reason = _classify(model, pose, reject)
        smoothed = smoother.update(proba, absent=reason)
        repetitions = None
        if counter is not None:
            counter.update(smoothed.probabilities[count_index] if smoothed.detected else None)
            repetitions = counter.count
        yield FrameResult(index, frame, pose, proba, reason, smoothed, repetitions, classes,
                          count_class)


def _classify(model, pose, reject: bool = True) -> tuple[np.ndarray | None, str]:
    """Probabilities (None when there is nothing to classify) and the absent reason.

    A model that answers a label outside its classes (a rejection such as ``"unknown"`` or
    ``"partial"``) is treated like a frame without a person. ``reject=False`` turns rejection off.
    """
    if pose is None:
        return None, NO_PERSON
    label, proba = model.predict_pose(pose, reject=reject)
    if label not in model.classes_:
        return None, str(label)
    return np.asarray(proba, dtype=float), NO_PERSON


def run_video(
    source: str | int | os.PathLike,
    model,
    *,
    output: str | os.PathLike | None = None,
    timeline: str | os.PathLike | None = None,
    show: bool = False,
    count: str | None = None,
    smoothing: Smoothing | None = None,
    max_frames: int | None = None,
    extract: ExtractOptions | None = None,
    progress: bool = True,
    reject: bool = True,
    timeout: float | None = DEFAULT_TIMEOUT_S,
) -> VideoReport:
    """Label every frame of a video source; write an annotated video and a timeline.

    Parameters
    ----------
    source : str, int or path
        Webcam index (``0`` or ``"0"``), video file, or stream URL.
    model : PoseModel or path
        The classifier (a model file is loaded with :func:`load_model`).
    output : path, optional
        Annotated video (``.mp4``, ``.m4v``, ``.mov`` or ``.avi``) at the source's size and
        frame rate.
    timeline : path, optional
        ``.csv`` or ``.jsonl``: one row per frame (see :class:`TimelineWriter`).
    show : bool, default=False
        Show a window; ``q`` or Esc stops. Without a display (or a GUI in OpenCV) the run goes
        on headless, with one warning.
    count : str, optional
        Class whose entries are counted as repetitions.
    smoothing : Smoothing, optional
        The smoother's and the counter's settings (default: :class:`Smoothing`'s defaults).
    max_frames : int, optional
        Stop after this many frames (1 or more).
    extract : ExtractOptions, optional
        BlazePose settings (:class:`~poseclf.pose.extraction.ExtractOptions`; it always runs in
        video mode).
    progress : bool, default=True
        A tqdm progress bar on stderr.
    reject : bool, default=True
        Frames the model rejects (``"unknown"``, ``"partial"``; see :mod:`poseclf.classify.novelty`)
        are handled like frames without a person: the smoother bridges a few, then shows the reason,
        and they never count as an entry into the counted class. False: always a class.
    timeout : float or None, default=10
        Seconds a camera or stream gets to open and give its first frame, and a stream each
        later frame (None: wait for ever).

    Every setting, the outputs (extension, folder, not the source) and the source's first frame
    are checked before BlazePose starts; a bad one raises :class:`VideoError` and changes no
    file. The video and timeline are written under temporary names beside them and renamed at
    the end, so an existing file is only ever replaced by a complete one, and a failed run
    leaves it as it was.

    Returns
    -------
    VideoReport
        Ctrl-C ends the run early with ``stop_reason="interrupted"``, SIGTERM or SIGHUP with
        ``"terminated"`` (neither raises): the outputs hold every frame processed.
    """
    from ..pose.extraction import ExtractOptions

    if max_frames is not None and (int(max_frames) != max_frames or max_frames < 1):
        raise VideoError(f"max_frames must be an integer >= 1, got {max_frames!r}")
    target = parse_source(source)
    source_file = None if is_live_source(target) else target
    model_file = model if isinstance(model, (str, os.PathLike)) and Path(model).is_file() else None
    output, timeline = check_outputs(output, timeline, inputs=(source_file, model_file))
    model = load_model(model)
    classes = list(model.classes_)
    if count is not None:
        try:
            RepetitionCounter(count).index_in(classes)
        except ValueError as err:
            raise VideoError(str(err)) from err
    capture, info, first = open_with_first_frame(source, timeout=timeout)
    window_open = False
    try:
        try:
            smoother, counter = make_smoother_and_counter(classes, info, smoothing, count=count)
        except ValueError as err:
            raise VideoError(str(err)) from err
        if counter is not None:
            counter.index_in(classes)  # a class the model lacks: the error lists its classes
        report = VideoReport(info=info, classes=classes, count_class=count,
                             repetitions=0 if counter else None)
        with _StopFlag() as stop, StagedOutputs(output, timeline) as staged:
            with (
                VideoSink(staged[output], info) if output else _Null() as sink,
                TimelineWriter(staged[timeline], classes) if timeline else _Null() as rows,
            ):
                window_open = show = bool(show) and open_window()
                with (extract or ExtractOptions()).extractor(static_image_mode=False) as extractor:
                    _loop(capture, first, info, model, extractor, smoother, counter,
                          sink, rows, stop, report, show=show,
                          draw=bool(output) or show, max_frames=max_frames, progress=progress,
                          reject=reject)
            # closed: the mp4 has its index, the timeline every row
            if report.frames > 0:
                staged.publish()
                report.output, report.timeline = output, timeline
    finally:
        capture.release()
        if window_open:
            with contextlib.suppress(cv2.error):
                cv2.destroyWindow(WINDOW_TITLE)
                cv2.waitKey(1)
    return report


@dataclass(frozen=True)
class Smoothing:
    """How a video's per-frame answers become a stable label and a count.

    ``window``, ``alpha``, ``min_frames``, ``margin`` and ``max_missing`` are
    :class:`~poseclf.video.smoothing.LabelSmoother` settings. Lengths are frames (``10``) or seconds
    (``"0.33s"``, converted with the source's frame rate); the window (0.33 s) and the bridged
    gap (0.17 s) default to seconds, so any frame rate is smoothed alike. ``enter`` and
    ``exit`` are :class:`~poseclf.video.counting.RepetitionCounter` thresholds (None: 0.6 and 0.4).
    """

    window: int | str = DEFAULT_WINDOW_VIDEO
    alpha: float = DEFAULT_ALPHA
    min_frames: int | str = DEFAULT_MIN_FRAMES
    margin: float = DEFAULT_MARGIN
    max_missing: int | str = DEFAULT_MAX_MISSING_VIDEO
    enter: float | None = None
    exit: float | None = None


def make_smoother_and_counter(classes, info: VideoInfo, smoothing: Smoothing | None = None, *,
                              count: str | None = None):
    """The smoother (and the counter of class ``count``) :func:`run_video` uses for a source;
    lengths in frames or seconds (``"0.33s"``) are converted with ``info.fps``."""
    s = smoothing or Smoothing()
    smoother = LabelSmoother(
        classes,
        window=frames_or_seconds(s.window, info.fps),
        alpha=s.alpha,
        min_frames=frames_or_seconds(s.min_frames, info.fps),
        margin=s.margin,
        max_missing=frames_or_seconds(s.max_missing, info.fps, minimum=0),
    )
    counter = None
    if count is not None:
        counter = make_counter(count, info.fps, enter=s.enter, exit=s.exit)
        counter.index_in(classes)
    return smoother, counter


def make_counter(count: str, fps: float, *, enter: float | None = None,
                 exit: float | None = None) -> RepetitionCounter:
    """The repetition counter ``run_video`` uses at ``fps``: gaps of up to 0.5 s bridged, an
    out phase of at least 0.2 s before an entry counts; ``None`` thresholds keep the defaults."""
    thresholds = {k: v for k, v in (("enter", enter), ("exit", exit)) if v is not None}
    return RepetitionCounter(count, max_missing=seconds_to_frames(COUNTER_MAX_MISSING_S, fps),
                             min_out=seconds_to_frames(COUNTER_MIN_OUT_S, fps), **thresholds)


class _Null:
    """Stand-in for a sink that is not wanted."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        return None


class _Output:
    """Draws and writes frames in a worker thread, in frame order.

    OpenCV drawing and video encoding release the GIL, so this overlaps with BlazePose on the
    next frame (on a 2-core laptop it hides about 7 ms per 1280x720 frame). At most
    :data:`OUTPUT_QUEUE_FRAMES` frames wait; :meth:`close` writes them all, so a stopped run
    still has every processed frame in its files. An error in the worker (disk full, ...)
    is raised in the caller at the next frame or at :meth:`close`.
    """

    def __init__(self, sink: VideoSink | None, rows: TimelineWriter | None, draw) -> None:
        self.sink, self.rows, self.draw = sink, rows, draw
        self._queue: queue.Queue = queue.Queue(maxsize=OUTPUT_QUEUE_FRAMES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="poseclf-video-output",
                                         daemon=True)
        self._thread.start()

    def put(self, frame: np.ndarray, result: FrameResult | None, row: list | None) -> None:
        """Queue ``frame``, drawn with ``result`` unless None, and its timeline ``row``."""
        if self._error is not None:
            raise self._error
        self._queue.put((frame, result, row))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so that put() never blocks
            frame, result, row = item
            try:
                if result is not None:
                    self.draw(frame, result)
                if self.sink is not None:
                    self.sink.write(frame)
                if self.rows is not None and row is not None:
                    self.rows.write(row)
            except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
                self._error = err

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def _loop(capture, first, info, model, extractor, smoother, counter, sink, rows,
          stop, report: VideoReport, *, show: bool, draw: bool, max_frames, progress: bool,
          reject: bool = True) -> None:
    annotators = (SkeletonAnnotator(), LabelAnnotator(), CounterAnnotator())

    def annotate(frame: np.ndarray, result: FrameResult) -> np.ndarray:
        return annotate_all(frame, result, annotators)

    total = info.total_frames
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    bar = tqdm(total=total, unit="frame", desc=Path(info.source).name or info.source,
               disable=not progress, leave=False)
    output = _Output(sink, rows, annotate) if sink is not None or rows is not None else None
    start = time.perf_counter()
    last_tick, rate = start, None
    previous_raw = None
    report.stop_reason = STOP_END
    results = label_frames(itertools.chain([first], iter_frames(capture)), extractor, model,
                           smoother, counter, reject=reject)
    try:
        while True:
            if stop.requested:  # checked before reading: a live read can take a while
                report.stop_reason = stop.stop_reason
                break
            labelled = next(results, None)
            if labelled is None:
                break
            index, frame, pose, proba = (labelled.index, labelled.frame, labelled.pose,
                                         labelled.probabilities)
            result, repetitions = labelled.smoothed, labelled.repetitions
            now = time.perf_counter()
            step = now - last_tick
            last_tick = now
            if step > 0:
                rate = 1.0 / step if rate is None else FPS_AVERAGE * rate + (1 - FPS_AVERAGE) / step
            labelled = replace(labelled, rate=rate)
            if show:  # the window shows the frame now: draw here, not in the worker
                annotate(frame, labelled)
            if output is not None:
                row = None
                if rows is not None:
                    time_s = (now - start) if info.live else index / info.fps
                    row = [index, round(time_s, TIMELINE_DECIMALS), int(result.detected),
                           result.raw_label, result.label,
                           round(result.confidence, TIMELINE_DECIMALS),
                           "" if repetitions is None else repetitions,
                           *np.round(result.probabilities, TIMELINE_DECIMALS).tolist()]
                output.put(frame, labelled if draw and not show else None, row)
            report.frames += 1
            report.detected_frames += result.detected
            report.pose_frames += pose is not None
            report.rejected_frames += pose is not None and proba is None
            report.raw_label_switches += previous_raw not in (None, result.raw_label)
            previous_raw = result.raw_label
            report.label_switches = smoother.n_switches
            report.repetitions = repetitions
            bar.update(1)
            if show:
                cv2.imshow(WINDOW_TITLE, frame)
                key = cv2.waitKey(1) & 0xFF
                if key in QUIT_KEYS or cv2.getWindowProperty(WINDOW_TITLE,
                                                             cv2.WND_PROP_VISIBLE) < 1:
                    report.stop_reason = STOP_QUIT
                    break
            if max_frames is not None and report.frames >= max_frames:
                report.stop_reason = STOP_MAX_FRAMES
                break
    except KeyboardInterrupt as err:  # a second signal, or one outside the main thread
        report.stop_reason = STOP_TERMINATED if isinstance(err, Terminated) else STOP_INTERRUPTED
    finally:
        stop.closing = True  # from here on a signal only asks to stop: the files get finished
        try:
            if output is not None:
                output.close()  # every queued frame reaches the files before they close
        finally:
            bar.close()
            report.elapsed_s = time.perf_counter() - start
    if report.stop_reason == STOP_END and total is not None and report.frames < total:
        logger.warning("%s: the source ended after %d of %d frames", info.source, report.frames,
                       total)
