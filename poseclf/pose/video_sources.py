"""Video sources: a webcam index, a file or a stream URL opened with a bounded wait, its frames.

:func:`open_source` turns ``"0"`` (webcam index), a file path or a stream URL into an opened
``cv2.VideoCapture`` and its :class:`VideoInfo`; :func:`iter_frames` yields its BGR frames. A
source that cannot be used is a :class:`VideoError` naming it and the fix, before any frame is
processed. Frames picked by index are in :mod:`poseclf.pose.video_frames`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, PoseclfError
from ..files import check_input_file
from .defaults import DEFAULT_TIMEOUT_S

DEFAULT_FPS = 30.0  # frames/s assumed when a camera or stream does not report its rate
STREAM_MARGIN_S = 1.0  # s more before giving up on FFmpeg's own deadlines (DNS ignores them)


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


def is_live_source(target: int | str) -> bool:
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


def bounded_call(work: Callable[[], object], timeout: float | None, late: Callable[[object], None],
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
    live = is_live_source(target)
    if not live:
        check_video_file(target)

    def work() -> cv2.VideoCapture:
        return _open_capture(target, timeout)

    capture = bounded_call(work, _wait_bound(target, live, timeout), lambda c: c.release(),
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
    live = is_live_source(target)
    if not live:
        check_video_file(target)

    def work() -> tuple[cv2.VideoCapture, bool, np.ndarray | None]:
        capture = _open_capture(target, timeout)
        if not capture.isOpened():
            return capture, False, None
        ok, frame = capture.read()
        return capture, True, frame if ok else None

    capture, opened, frame = bounded_call(work, _wait_bound(target, live, timeout),
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
