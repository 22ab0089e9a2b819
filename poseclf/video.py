"""Labelled video: the frame loop from a camera, file or stream to an annotated video and timeline.

Building blocks, usable on their own:

* :func:`open_source` turns ``"0"`` (webcam index), a file path or a stream URL into an opened
  ``cv2.VideoCapture`` and its :class:`VideoInfo`; :func:`iter_frames` yields its BGR frames.
* :class:`VideoSink` writes an mp4 (``mp4v``) at the source's size and frame rate.
* :class:`TimelineWriter` writes one row per frame to CSV or JSON Lines, flushed as it goes.

:func:`run_video` is the one frame loop of poseclf: BlazePose in video (tracking) mode, the model's
class probabilities, :class:`~poseclf.smoothing.LabelSmoother`,
:class:`~poseclf.counting.RepetitionCounter`, the overlays of :mod:`poseclf.draw`, the sinks, and
an optional window. Ctrl-C, the end of a file or a camera that disappears all end the loop
cleanly: every frame processed so far is in the video and the timeline, and both files are closed
properly (playable, complete rows).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import queue
import signal
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from .counting import RepetitionCounter
from .draw import CounterAnnotator, LabelAnnotator, SkeletonAnnotator
from .errors import PoseclfError
from .smoothing import (
    DEFAULT_ALPHA,
    DEFAULT_MARGIN,
    DEFAULT_MAX_MISSING_VIDEO,
    DEFAULT_MIN_FRAMES,
    DEFAULT_WINDOW_VIDEO,
    NO_PERSON,
    LabelSmoother,
    frames_or_seconds,
    seconds_to_frames,
)

logger = logging.getLogger(__name__)

DEFAULT_FPS = 30.0  # frames/s assumed when a camera or stream does not report its rate
VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}  # FourCC
TIMELINE_SUFFIXES = (".csv", ".jsonl")
TIMELINE_COLUMNS = ("frame", "time_s", "detected", "raw_label", "label", "confidence",
                    "repetitions")
PROBABILITY_PREFIX = "p_"  # timeline column of each class's smoothed probability
COUNTER_MAX_MISSING_S = 0.5  # s without a pose the repetition counter bridges
COUNTER_MIN_OUT_S = 0.2  # s out of the counted class before an entry counts (see counting.py)
FPS_AVERAGE = 0.9  # weight of the previous value in the displayed processing rate (EMA)
QUIT_KEYS = (ord("q"), ord("Q"), 27)  # q or Esc closes the window
WINDOW_TITLE = "poseclf"
_DECIMALS = 4  # probabilities and times in the timeline
OUTPUT_QUEUE_FRAMES = 8  # frames waiting for the drawing/writing thread (~0.3 s at 30 fps)

#: Why the loop ended (:attr:`VideoReport.stop_reason`).
STOP_END = "end"  # the file ended, or the camera/stream gave no more frames
STOP_MAX_FRAMES = "max_frames"
STOP_INTERRUPTED = "interrupted"  # Ctrl-C / SIGINT
STOP_QUIT = "quit"  # q/Esc or the window was closed


class VideoError(PoseclfError, ValueError):
    """A video source or output cannot be opened, or a loop setting is refused."""


# -- sources ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoInfo:
    """Size, frame rate and length of a video source.

    Attributes
    ----------
    width, height : int
        Frame size in pixels.
    fps : float
        Frames per second the source reports (:data:`DEFAULT_FPS` when it reports none).
    total_frames : int or None
        Frame count of a file; None for cameras and streams.
    source : str
        What was opened (path, URL or camera index).
    live : bool
        True for a camera or stream: times come from the clock, not from the frame index.
    """

    width: int
    height: int
    fps: float
    total_frames: int | None
    source: str
    live: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.width, self.height

    @property
    def duration_s(self) -> float | None:
        return None if self.total_frames is None else self.total_frames / self.fps

    @classmethod
    def from_capture(cls, capture: cv2.VideoCapture, source: str, live: bool) -> VideoInfo:
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        if not (math.isfinite(fps) and 0 < fps < 1000):
            fps = DEFAULT_FPS
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        return cls(
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=fps,
            total_frames=count if count > 0 and not live else None,
            source=source,
            live=live,
        )

    @classmethod
    def from_video_path(cls, path: str | os.PathLike) -> VideoInfo:
        """Info of a video file (opens and closes it)."""
        capture, info = open_source(path)
        capture.release()
        return info


def parse_source(source: str | int | os.PathLike) -> int | str:
    """Camera index for ``0`` / ``"0"``, the URL for ``scheme://...``, else a file path (str)."""
    if isinstance(source, int):
        return source
    text = os.fspath(source)
    if text.isdigit():
        return int(text)
    return text


def open_source(source: str | int | os.PathLike) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a camera index, video file or stream URL; return the capture and its info.

    Raises
    ------
    VideoError
        The file does not exist or OpenCV cannot open the source; the message says why.
    """
    target = parse_source(source)
    live = isinstance(target, int) or "://" in str(target)
    if not live and not Path(target).is_file():
        raise VideoError(f"{target}: no such video file (for a webcam give its index, "
                               "e.g. 0; for a stream its URL)")
    capture = cv2.VideoCapture(target)
    if not capture.isOpened():
        capture.release()
        if isinstance(target, int):
            raise VideoError(f"camera {target} cannot be opened: is it connected and not "
                                   "used by another program? Try another index.")
        raise VideoError(f"{target}: OpenCV cannot open this video (unsupported codec or "
                               "format, or the stream is unreachable)")
    return capture, VideoInfo.from_capture(capture, str(target), live)


def iter_frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    """Yield BGR frames until the capture gives no more (end of file, camera gone)."""
    while True:
        ok, frame = capture.read()
        if not ok or frame is None:
            return
        yield frame


def iter_selected_frames(
    source: str | os.PathLike, wanted: Collection[int]
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, BGR frame)`` for the frames of a video file whose index is in ``wanted``.

    The file is decoded from its start and the frames in between are only grabbed: OpenCV's
    frame seek is not exact for every file (a few frames off in some H.264 files), and frame
    numbers must be.
    """
    capture, _ = open_source(source)
    try:
        last = max(wanted, default=-1)
        index = 0
        while index <= last:
            if index in wanted:
                ok, frame = capture.read()
                if not ok or frame is None:
                    return
                yield index, frame
            elif not capture.grab():
                return
            index += 1
    finally:
        capture.release()


def read_frame(source: str | os.PathLike, index: int) -> np.ndarray:
    """Frame ``index`` of a video file as RGB uint8 (decodes from the start: for thumbnails)."""
    for _, frame in iter_selected_frames(source, {index}):
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    raise VideoError(f"{source}: cannot decode frame {index}")


# -- sinks -----------------------------------------------------------------------------------
class VideoSink:
    """Write BGR frames to a video file; a context manager that always closes the file.

    Parameters
    ----------
    path : path
        ``.mp4`` / ``.m4v`` / ``.mov`` (codec ``mp4v``) or ``.avi`` (``MJPG``).
    info : VideoInfo
        Frame size and rate of the output (those of the source).

    Frames of another size are resized to ``info.size``.
    """

    def __init__(self, path: str | os.PathLike, info: VideoInfo) -> None:
        self.path = Path(path)
        self.info = info
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None

    def __enter__(self) -> VideoSink:
        codec = VIDEO_CODECS.get(self.path.suffix.lower())
        if codec is None:
            raise VideoError(f"{self.path}: cannot write video with extension "
                                   f"{self.path.suffix!r}; use one of {', '.join(VIDEO_CODECS)}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*codec), self.info.fps,
                                 self.info.size)
        if not writer.isOpened():
            raise VideoError(f"{self.path}: OpenCV cannot write a {codec} video here "
                                   "(check the folder is writable; try .avi)")
        self._writer = writer
        return self

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            raise RuntimeError("VideoSink.write outside its `with` block")
        if (frame.shape[1], frame.shape[0]) != self.info.size:
            frame = cv2.resize(frame, self.info.size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame)
        self.frames_written += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()  # writes the mp4 index: the file is playable after this
            self._writer = None

    def __exit__(self, *exc) -> None:
        self.close()


class TimelineWriter:
    """One row per frame to CSV or JSON Lines (chosen by the extension), flushed per row.

    Columns: ``frame, time_s, detected, raw_label, label, confidence, repetitions`` and the
    smoothed probability of each class as ``p_<class>``.
    """

    def __init__(self, path: str | os.PathLike, classes: Sequence[str]) -> None:
        self.path = Path(path)
        self.columns = [*TIMELINE_COLUMNS, *(f"{PROBABILITY_PREFIX}{c}" for c in classes)]
        self.rows_written = 0
        self._file = None
        self._csv = None

    def __enter__(self) -> TimelineWriter:
        suffix = self.path.suffix.lower()
        if suffix not in TIMELINE_SUFFIXES:
            raise VideoError(f"{self.path}: a timeline is written as .csv or .jsonl, "
                                   f"not {suffix or 'a file without extension'}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        if suffix == ".csv":
            self._csv = csv.writer(self._file)
            self._csv.writerow(self.columns)
            self._file.flush()
        return self

    def write(self, row: Sequence) -> None:
        """Write one row, values in :attr:`columns` order."""
        if self._file is None:
            raise RuntimeError("TimelineWriter.write outside its `with` block")
        if self._csv is not None:
            self._csv.writerow(row)
        else:
            self._file.write(json.dumps(dict(zip(self.columns, row, strict=True))) + "\n")
        self._file.flush()  # a crash or Ctrl-C loses at most the frame being processed
        self.rows_written += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __exit__(self, *exc) -> None:
        self.close()


# -- the loop --------------------------------------------------------------------------------
@dataclass
class VideoReport:
    """What a :func:`run_video` run did.

    Attributes
    ----------
    info : VideoInfo
    frames : int
        Frames processed (= rows in the timeline = frames in the output video).
    detected_frames : int
        Frames with a classified pose (neither absent nor rejected).
    pose_frames : int
        Frames where BlazePose found a person.
    rejected_frames : int
        Frames with a person that the model answered ``unknown`` or ``partial``.
    repetitions : int or None
        Repetitions counted (None without ``count``).
    label_switches, raw_label_switches : int
        Changes of the shown (smoothed) and of the per-frame label, absent labels included.
    elapsed_s : float
        Wall time of the loop.
    stop_reason : {"end", "max_frames", "interrupted", "quit"}
    output, timeline : Path or None
    classes : list of str
    """

    info: VideoInfo
    classes: list[str]
    frames: int = 0
    detected_frames: int = 0
    pose_frames: int = 0
    rejected_frames: int = 0
    repetitions: int | None = None
    label_switches: int = 0
    raw_label_switches: int = 0
    elapsed_s: float = 0.0
    stop_reason: str = STOP_END
    output: Path | None = None
    timeline: Path | None = None
    count_class: str | None = None

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time."""
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def interrupted(self) -> bool:
        return self.stop_reason == STOP_INTERRUPTED


def load_model(model):
    """A :class:`~poseclf.model.PoseModel` from itself or from a model file path.

    The one place the video job turns a ``--model`` argument into a model.
    """
    from .model import PoseModel

    if isinstance(model, (str, os.PathLike)):
        return PoseModel.load(model)
    return model


class _StopFlag:
    """Turns the first SIGINT into a request to stop after the current frame (main thread only).

    A second Ctrl-C raises KeyboardInterrupt at once, as usual.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


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
    window: int | str = DEFAULT_WINDOW_VIDEO,
    alpha: float = DEFAULT_ALPHA,
    min_frames: int | str = DEFAULT_MIN_FRAMES,
    margin: float = DEFAULT_MARGIN,
    max_missing: int | str = DEFAULT_MAX_MISSING_VIDEO,
    enter: float | None = None,
    exit: float | None = None,
    max_frames: int | None = None,
    extractor_kwargs: Mapping | None = None,
    progress: bool = True,
    reject: bool = True,
) -> VideoReport:
    """Label every frame of a video source; write an annotated video and a timeline.

    Parameters
    ----------
    source : str, int or path
        Webcam index (``0`` or ``"0"``), video file, or stream URL.
    model : PoseModel or path
        The classifier (a model file is loaded with :func:`load_model`).
    output : path, optional
        Annotated video (``.mp4``) at the source's size and frame rate.
    timeline : path, optional
        ``.csv`` or ``.jsonl``: one row per frame (see :class:`TimelineWriter`).
    show : bool, default=False
        Show a window; ``q`` or Esc stops.
    count : str, optional
        Class whose entries are counted as repetitions.
    window, alpha, min_frames, margin, max_missing
        :class:`~poseclf.smoothing.LabelSmoother` settings. Lengths are frames (``10``) or
        seconds (``"0.33s"``, converted with the source's frame rate); the window (0.33 s) and
        the bridged gap (0.17 s) default to seconds, so any frame rate is smoothed alike.
    enter, exit : float, optional
        :class:`~poseclf.counting.RepetitionCounter` thresholds (defaults 0.6 and 0.4).
    max_frames : int, optional
        Stop after this many frames.
    extractor_kwargs : mapping, optional
        :class:`~poseclf.extraction.PoseExtractor` options (it always runs in video mode).
    progress : bool, default=True
        A tqdm progress bar on stderr.
    reject : bool, default=True
        Frames the model rejects (``"unknown"``, ``"partial"``; see :mod:`poseclf.novelty`) are
        handled like frames without a person: the smoother bridges a few, then shows the
        reason, and they never count as an entry into the counted class. False: always a class.

    Returns
    -------
    VideoReport
        Ctrl-C ends the run early with ``stop_reason="interrupted"`` (it does not raise).
    """
    from .extraction import PoseExtractor

    model = load_model(model)
    classes = list(model.classes_)
    capture, info = open_source(source)
    try:
        try:
            smoother, counter = _make_smoother_and_counter(
                classes, info, window=window, alpha=alpha, min_frames=min_frames, margin=margin,
                max_missing=max_missing, count=count, enter=enter, exit=exit)
        except ValueError as err:
            raise VideoError(str(err)) from err
        count_index = counter.index_in(classes) if counter is not None else None
        report = VideoReport(info=info, classes=classes,
                             output=Path(output) if output else None,
                             timeline=Path(timeline) if timeline else None,
                             count_class=count, repetitions=0 if counter else None)
        with (
            PoseExtractor(static_image_mode=False, **dict(extractor_kwargs or {})) as extractor,
            VideoSink(output, info) if output else _Null() as sink,
            TimelineWriter(timeline, classes) if timeline else _Null() as rows,
            _StopFlag() as stop,
        ):
            _loop(capture, info, model, extractor, smoother, counter, count_index, sink, rows,
                  stop, report, show=show, draw=bool(output) or show, max_frames=max_frames,
                  progress=progress, reject=reject)
    finally:
        capture.release()
        if show:
            try:
                cv2.destroyWindow(WINDOW_TITLE)
                cv2.waitKey(1)
            except cv2.error:  # the window never opened (e.g. an error before the first frame)
                pass
    return report


def _make_smoother_and_counter(classes, info: VideoInfo, *, window, alpha, min_frames, margin,
                               max_missing, count, enter, exit):
    smoother = LabelSmoother(
        classes,
        window=frames_or_seconds(window, info.fps),
        alpha=alpha,
        min_frames=frames_or_seconds(min_frames, info.fps),
        margin=margin,
        max_missing=frames_or_seconds(max_missing, info.fps, minimum=0),
    )
    counter = None
    if count is not None:
        counter = make_counter(count, info.fps, enter=enter, exit=exit)
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

    def put(self, frame: np.ndarray, overlay: tuple | None, row: list | None) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((frame, overlay, row))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so that put() never blocks
            frame, overlay, row = item
            try:
                if overlay is not None:
                    self.draw(frame, *overlay)
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


def _loop(capture, info, model, extractor, smoother, counter, count_index, sink, rows, stop,
          report: VideoReport, *, show: bool, draw: bool, max_frames, progress: bool,
          reject: bool = True) -> None:
    skeleton, label_box, counter_box = SkeletonAnnotator(), LabelAnnotator(), CounterAnnotator()
    classes = smoother.classes
    count_name = counter.class_name if counter is not None else None

    def annotate(frame, pose, result, repetitions, rate) -> None:
        skeleton.annotate(frame, pose)
        label_box.annotate(frame, result.label,
                           result.confidence if result.label in classes else None,
                           result.probabilities, classes)
        counter_box.annotate(frame, repetitions, count_name, rate)

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
    try:
        for frame in iter_frames(capture):
            if stop.requested:
                report.stop_reason = STOP_INTERRUPTED
                break
            index = report.frames
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            pose = extractor(rgb)
            proba, absent = _classify(model, pose, reject)
            result = smoother.update(proba, absent=absent)
            repetitions = None
            if counter is not None:
                counter.update(result.probabilities[count_index] if result.detected else None)
                repetitions = counter.count
            now = time.perf_counter()
            step = now - last_tick
            last_tick = now
            if step > 0:
                rate = 1.0 / step if rate is None else FPS_AVERAGE * rate + (1 - FPS_AVERAGE) / step
            overlay = (pose, result, repetitions, rate)
            if show:  # the window shows the frame now: draw here, not in the worker
                annotate(frame, *overlay)
            if output is not None:
                row = None
                if rows is not None:
                    time_s = (now - start) if info.live else index / info.fps
                    row = [index, round(time_s, _DECIMALS), int(result.detected),
                           result.raw_label, result.label, round(result.confidence, _DECIMALS),
                           "" if repetitions is None else repetitions,
                           *np.round(result.probabilities, _DECIMALS).tolist()]
                output.put(frame, overlay if draw and not show else None, row)
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
    except KeyboardInterrupt:  # a second Ctrl-C, or SIGINT outside the main thread
        report.stop_reason = STOP_INTERRUPTED
    finally:
        try:
            if output is not None:
                output.close()  # every queued frame reaches the files before they close
        finally:
            bar.close()
            report.elapsed_s = time.perf_counter() - start
    if report.stop_reason == STOP_END and total is not None and report.frames < total:
        logger.warning("%s: the source ended after %d of %d frames", info.source, report.frames,
                       total)
