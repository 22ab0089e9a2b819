"""Labelled video: the frame loop from a camera, file or stream to an annotated video and timeline.

Building blocks, usable on their own:

* :func:`open_source` turns ``"0"`` (webcam index), a file path or a stream URL into an opened
  ``cv2.VideoCapture`` and its :class:`VideoInfo`; :func:`iter_frames` yields its BGR frames.
* :class:`VideoSink` writes an mp4 (``mp4v``) at the source's size and frame rate.
* :class:`TimelineWriter` writes one row per frame to CSV or JSON Lines, flushed as it goes.

:func:`run_video` is the one frame loop of poseclf: BlazePose in video (tracking) mode, the model's
class probabilities, :class:`~poseclf.smoothing.LabelSmoother`,
:class:`~poseclf.counting.RepetitionCounter`, the overlays of :mod:`poseclf.draw`, the sinks, and
an optional window. Ctrl-C, SIGTERM, the end of a file or a camera that disappears all end the
loop cleanly: every frame processed so far is in the video and the timeline, and both files are
closed properly (playable, complete rows).

Nothing is lost on a bad input: every setting, both outputs (known extension, writable folder,
neither the source nor each other) and the source's first frame are checked before BlazePose
starts, and the outputs are written under temporary names and renamed at the end, so an
existing file is only ever replaced by a complete one.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import itertools
import json
import logging
import math
import os
import queue
import re
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from .counting import RepetitionCounter
from .draw import CounterAnnotator, LabelAnnotator, SkeletonAnnotator
from .errors import InputError, PoseclfError, Terminated
from .files import check_input_file, check_output_file, current_umask, glob_escape, process_alive
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
DEFAULT_TIMEOUT_S = 10.0  # s a camera or stream gets to open and give a frame
STREAM_MARGIN_S = 1.0  # s more before giving up on FFmpeg's own deadlines (DNS ignores them)

#: Why the loop ended (:attr:`VideoReport.stop_reason`).
STOP_END = "end"  # the file ended, or the camera/stream gave no more frames
STOP_MAX_FRAMES = "max_frames"
STOP_INTERRUPTED = "interrupted"  # Ctrl-C / SIGINT
STOP_TERMINATED = "terminated"  # SIGTERM / SIGHUP
STOP_QUIT = "quit"  # q/Esc or the window was closed


class VideoError(PoseclfError, ValueError):
    """A video source or output cannot be opened, or a loop setting is refused."""


class SourceTimeout(VideoError):
    """A camera or stream gave no frame in time; the call that waits for it is abandoned.

    That call may still be inside OpenCV: a process should end with :func:`os._exit` after
    this error (as ``poseclf video`` does), since an interpreter that shuts down while a thread
    is in C++ code can abort.
    """


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


def _is_live(target: int | str) -> bool:
    """A camera index, a stream URL or a capture device (``/dev/video0``): not a file."""
    if isinstance(target, int) or "://" in target:
        return True
    try:
        return stat.S_ISCHR(os.stat(target).st_mode)
    except OSError:
        return False


def check_video_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path when it may be a video file; else a :class:`VideoError` with the fix.

    Refused without decoding anything: a missing path, a folder, a pipe, an empty or unreadable
    file. (A photo is refused once opened, by :func:`_refuse_still_image`.)
    """
    try:
        path = check_input_file(path, what="video file (for a webcam give its index, e.g. 0; "
                                "for a stream its URL)")
    except InputError as err:
        raise VideoError(str(err)) from None
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: is empty (0 bytes); give a complete video file")
    return path


def _refuse_still_image(target: int | str, live: bool, capture: cv2.VideoCapture) -> None:
    """OpenCV plays a photo as a one-frame video: refuse a file that is an image with at most
    one frame (an animated GIF, PNG or WebP has more, and is a video here)."""
    if live or not cv2.haveImageReader(str(target)):
        return
    if not capture.get(cv2.CAP_PROP_FRAME_COUNT) > 1:  # photos report 1, 0 or a huge negative
        capture.release()
        raise VideoError(f"{target}: is an image, not a video; label photos with "
                         "`poseclf predict --model MODEL PHOTO`")


@contextlib.contextmanager
def _opencv_quiet() -> Iterator[None]:
    """Silence OpenCV's own log lines (a missing camera prints two) while opening a source."""
    previous = cv2.setLogLevel(0)
    try:
        yield
    finally:
        cv2.setLogLevel(previous)


def _bounded(work: Callable[[], object], timeout: float | None, late: Callable[[object], None],
             message: str):
    """``work()``, given at most ``timeout`` seconds; else a :class:`SourceTimeout` (``message``).

    A camera or stream that never answers must not hang the command: ``work`` runs in a
    daemon thread, and a result that comes after the deadline is handed to ``late`` (which
    releases it).
    """
    if timeout is None:
        return work()
    outcome: dict = {}
    done = threading.Event()
    lock = threading.Lock()

    def run() -> None:
        try:
            value = work()
        except BaseException as err:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = err
        else:
            with lock:
                if outcome.get("abandoned"):
                    late(value)
                    return
                outcome["value"] = value
        finally:
            done.set()

    threading.Thread(target=run, name="poseclf-video-open", daemon=True).start()
    if not done.wait(timeout):
        with lock:
            if "value" not in outcome and "error" not in outcome:
                outcome["abandoned"] = True
                raise SourceTimeout(message)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _is_stream(target: int | str) -> bool:
    return isinstance(target, str) and "://" in target


def _open_capture(target: int | str, timeout: float | None) -> cv2.VideoCapture:
    with _opencv_quiet():
        if _is_stream(target) and timeout is not None:
            # FFmpeg's own deadlines for a stream: opening, then every read
            ms = max(1, int(timeout * 1000))
            return cv2.VideoCapture(target, cv2.CAP_ANY, [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        return cv2.VideoCapture(target)


def _not_opened(target: int | str, live: bool) -> VideoError:
    if isinstance(target, int):
        return VideoError(f"camera {target} cannot be opened: is it connected and not used by "
                          "another program? Try another index.")
    if live:
        return VideoError(f"{target}: the stream cannot be opened (unreachable, a wrong URL or "
                          "an unsupported format); check that it plays in a player such as VLC")
    return VideoError(f"{target}: OpenCV cannot open this video (not a video, a corrupt or "
                      "truncated file, or an unsupported format); check that it plays")


def _wait_bound(target: int | str, live: bool, timeout: float | None) -> float | None:
    """How long to wait for a source: a stream gets a second more, so that FFmpeg's own
    deadlines (the same ``timeout``) normally answer first, with the clean error."""
    if not live or timeout is None:
        return None
    return timeout + (STREAM_MARGIN_S if _is_stream(target) else 0.0)


def _source_name(target: int | str) -> str:
    return f"camera {target}" if isinstance(target, int) else str(target)


def _timed_out(target: int | str, timeout: float | None) -> str:
    return (f"{_source_name(target)}: no frame within {timeout or 0:g} s; check that it is "
            "connected (or the URL and the network), or wait longer with --timeout")


def open_source(source: str | int | os.PathLike, *, timeout: float | None = DEFAULT_TIMEOUT_S
                ) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a camera index, video file or stream URL; return the capture and its info.

    ``timeout`` bounds the wait for a camera or stream to open (None: no bound).

    Raises
    ------
    VideoError
        The file is missing or not a video, or OpenCV cannot open the source; the message says
        why and what to do.
    """
    target = parse_source(source)
    live = _is_live(target)
    if not live:
        check_video_file(target)

    def work() -> cv2.VideoCapture:
        return _open_capture(target, timeout)

    capture = _bounded(work, _wait_bound(target, live, timeout), lambda c: c.release(),
                       _timed_out(target, timeout))
    if not capture.isOpened():
        capture.release()
        raise _not_opened(target, live)
    _refuse_still_image(target, live, capture)
    return capture, VideoInfo.from_capture(capture, str(target), live)


def open_with_first_frame(source: str | int | os.PathLike, *,
                          timeout: float | None = DEFAULT_TIMEOUT_S
                          ) -> tuple[cv2.VideoCapture, VideoInfo, np.ndarray]:
    """:func:`open_source` and the first frame, so a source that gives none fails before work.

    A camera or stream gets ``timeout`` seconds to open and give that frame.
    """
    target = parse_source(source)
    live = _is_live(target)
    if not live:
        check_video_file(target)

    def work() -> tuple[cv2.VideoCapture, bool, np.ndarray | None]:
        capture = _open_capture(target, timeout)
        if not capture.isOpened():
            return capture, False, None
        ok, frame = capture.read()
        return capture, True, frame if ok else None

    capture, opened, frame = _bounded(work, _wait_bound(target, live, timeout),
                                      lambda result: result[0].release(),
                                      _timed_out(target, timeout))
    if opened:
        _refuse_still_image(target, live, capture)
    if not opened or frame is None:
        capture.release()
        if not opened:
            raise _not_opened(target, live)
        if live:
            raise VideoError(f"{_source_name(target)}: opened but gave no frame; check that "
                             "no other program is using it")
        raise VideoError(f"{target}: no frame can be decoded (a corrupt or truncated video); "
                         "check that it plays")
    info = VideoInfo.from_capture(capture, str(target), live)
    if info.width <= 0 or info.height <= 0:  # some streams report no size before decoding
        info = dataclasses.replace(info, width=frame.shape[1], height=frame.shape[0])
    return capture, info, frame


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


# -- outputs ---------------------------------------------------------------------------------
def check_outputs(output: str | os.PathLike | None, timeline: str | os.PathLike | None, *,
                  inputs: Iterable[str | os.PathLike | None] = ()) -> tuple[Path | None,
                                                                          Path | None]:
    """Check ``--output`` and ``--timeline`` before the first frame; returns them as Paths.

    Each needs a known extension and a folder that can be written; neither may be a folder, one
    of the ``inputs`` (the source video, the model file) or the other output.
    """
    inputs = [p for p in inputs if p is not None]
    for option, path, example in (("--output", output, "labelled.mp4"),
                                  ("--timeline", timeline, "timeline.csv")):
        if path is not None and Path(path).is_dir():  # before the extension check: say why
            raise VideoError(f"{option} {path}: is a folder; give a file name such as "
                             f"{Path(path) / example}")
    video = timeline_path = None
    if output is not None:
        video = check_output_file(output, option="--output", suffixes=VIDEO_CODECS,
                                  inputs=inputs)
    if timeline is not None:
        timeline_path = check_output_file(timeline, option="--timeline",
                                          suffixes=TIMELINE_SUFFIXES, inputs=[*inputs, video])
    return video, timeline_path


class _Staged:
    """Outputs written under temporary names beside them, renamed over them when complete.

    ``.NAME.PID.RANDOM.tmp.EXT`` keeps the extension (OpenCV picks the container by it). Until
    :meth:`publish`, an existing output is untouched; leaving the block without publishing
    removes the temporaries. Temporaries left by killed processes are removed on entry.
    """

    def __init__(self, *paths: Path | None) -> None:
        self.paths = [p for p in paths if p is not None]
        self.temporary: dict[Path, Path] = {}

    def __getitem__(self, path: Path | None) -> Path | None:
        return None if path is None else self.temporary[path]

    def __enter__(self) -> _Staged:
        try:
            for path in self.paths:
                path.parent.mkdir(parents=True, exist_ok=True)
                for stale in path.parent.glob(
                        f".{glob_escape(path.name)}.*.tmp{glob_escape(path.suffix)}"):
                    pid = stale.name[len(path.name) + 2:].split(".", 1)[0]
                    if pid.isdigit() and not process_alive(int(pid)):
                        with contextlib.suppress(OSError):
                            stale.unlink()
                fd, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.",
                                            suffix=f".tmp{path.suffix}", dir=path.parent)
                os.close(fd)
                self.temporary[path] = Path(name)
        except BaseException:
            self.__exit__()
            raise
        return self

    def publish(self) -> None:
        """Rename every temporary over its output (the files must be closed)."""
        mode = 0o666 & ~current_umask()  # mkstemp makes 0600; give a normal file
        for path in list(self.temporary):
            tmp = self.temporary.pop(path)
            os.chmod(tmp, mode)
            os.replace(tmp, path)

    def __exit__(self, *exc) -> None:
        for tmp in self.temporary.values():
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self.temporary.clear()


# -- window ----------------------------------------------------------------------------------
def _x_display_answers(display: str) -> bool:
    """Whether the X server of ``DISPLAY`` accepts a connection (True when the value is unusual:
    then OpenCV decides)."""
    match = re.fullmatch(r"(?P<host>[^:/]*)(?:/unix)?:(?P<number>\d+)(?:\.\d+)?", display)
    if match is None:
        return True
    host, number = match["host"], int(match["number"])
    if host in ("", "unix"):
        socket_path = f"/tmp/.X11-unix/X{number}"
        for address in ("\0" + socket_path, socket_path):  # abstract socket first, as Xlib does
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(1.0)
                sock.connect(address)
                return True
        if host == "":
            return False
    with contextlib.suppress(OSError), socket.create_connection((host or "localhost",
                                                                 6000 + number), timeout=1.0):
        return True
    return False


def _opencv_qt_platforms() -> set[str] | None:
    """Qt platform plugins shipped in the cv2 package (None when it has no Qt of its own)."""
    folder = Path(cv2.__file__).parent / "qt" / "plugins" / "platforms"
    if not folder.is_dir():
        return None
    return {p.name for p in folder.iterdir()}


def display_problem() -> str | None:
    """Why no window can be opened here (Linux without a display), or None when one can.

    OpenCV's Qt windows abort the whole process without a display, so this is checked first.
    """
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    display = os.environ.get("DISPLAY", "")
    if display:
        return None if _x_display_answers(display) else f"the X display {display} does not answer"
    if os.environ.get("WAYLAND_DISPLAY"):
        plugins = _opencv_qt_platforms()
        if plugins is not None and not any("wayland" in name for name in plugins):
            return "OpenCV's windows need X11 (DISPLAY) and only WAYLAND_DISPLAY is set"
        return None
    return "neither DISPLAY nor WAYLAND_DISPLAY is set"


def _open_window() -> bool:
    """Open the preview window; False (and one warning line) when it cannot be opened here."""
    problem = display_problem()
    if problem is None:
        try:
            cv2.namedWindow(WINDOW_TITLE, cv2.WINDOW_AUTOSIZE)
            return True
        except cv2.error as err:  # a build without GUI (opencv-python-headless), no display
            problem = "OpenCV cannot open a window: " + " ".join(
                (err.err or str(err)).split())
    logger.warning("no window (%s): running headless as with --no-window; Ctrl-C stops", problem)
    return False


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
    stop_reason : {"end", "max_frames", "interrupted", "terminated", "quit"}
    output, timeline : Path or None
        The files written (None when not asked for, or when no frame was processed: an
        existing file is then left as it was).
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
        """Stopped by Ctrl-C, SIGTERM or SIGHUP."""
        return self.stop_reason in (STOP_INTERRUPTED, STOP_TERMINATED)


def load_model(model):
    """A :class:`~poseclf.model.PoseModel` from itself or from a model file path.

    The one place the video job turns a ``--model`` argument into a model.
    """
    from .model import PoseModel

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
    window, alpha, min_frames, margin, max_missing
        :class:`~poseclf.smoothing.LabelSmoother` settings. Lengths are frames (``10``) or
        seconds (``"0.33s"``, converted with the source's frame rate); the window (0.33 s) and
        the bridged gap (0.17 s) default to seconds, so any frame rate is smoothed alike.
    enter, exit : float, optional
        :class:`~poseclf.counting.RepetitionCounter` thresholds (defaults 0.6 and 0.4).
    max_frames : int, optional
        Stop after this many frames (1 or more).
    extractor_kwargs : mapping, optional
        :class:`~poseclf.extraction.PoseExtractor` options (it always runs in video mode).
    progress : bool, default=True
        A tqdm progress bar on stderr.
    reject : bool, default=True
        Frames the model rejects (``"unknown"``, ``"partial"``; see :mod:`poseclf.novelty`) are
        handled like frames without a person: the smoother bridges a few, then shows the
        reason, and they never count as an entry into the counted class. False: always a class.
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
    from .extraction import PoseExtractor

    if max_frames is not None and (int(max_frames) != max_frames or max_frames < 1):
        raise VideoError(f"max_frames must be an integer >= 1, got {max_frames!r}")
    target = parse_source(source)
    source_file = None if _is_live(target) else target
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
            smoother, counter = _make_smoother_and_counter(
                classes, info, window=window, alpha=alpha, min_frames=min_frames, margin=margin,
                max_missing=max_missing, count=count, enter=enter, exit=exit)
        except ValueError as err:
            raise VideoError(str(err)) from err
        count_index = counter.index_in(classes) if counter is not None else None
        report = VideoReport(info=info, classes=classes, count_class=count,
                             repetitions=0 if counter else None)
        with _StopFlag() as stop, _Staged(output, timeline) as staged:
            with (
                VideoSink(staged[output], info) if output else _Null() as sink,
                TimelineWriter(staged[timeline], classes) if timeline else _Null() as rows,
            ):
                window_open = show = bool(show) and _open_window()
                with PoseExtractor(static_image_mode=False,
                                   **dict(extractor_kwargs or {})) as extractor:
                    _loop(capture, first, info, model, extractor, smoother, counter,
                          count_index, sink, rows, stop, report, show=show,
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


def _loop(capture, first, info, model, extractor, smoother, counter, count_index, sink, rows,
          stop, report: VideoReport, *, show: bool, draw: bool, max_frames, progress: bool,
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
    frames = itertools.chain([first], iter_frames(capture))
    try:
        while True:
            if stop.requested:  # checked before reading: a live read can take a while
                report.stop_reason = stop.stop_reason
                break
            frame = next(frames, None)
            if frame is None:
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
