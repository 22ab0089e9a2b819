"""Video outputs: the annotated mp4, the per-frame timeline, their staging, and the window.

:class:`VideoSink` writes an mp4 (``mp4v``) at the source's size and frame rate;
:class:`TimelineWriter` writes one row per frame to CSV or JSON Lines, flushed as it goes. Both
outputs are checked before the first frame (:func:`check_outputs`) and written under temporary
names that are renamed at the end, so an existing file is only replaced by a complete one.
:func:`display_problem` tells whether a window can be opened here.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import re
import socket
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from ..files import check_output_file, current_umask, glob_escape, process_alive
from ..pose.video_sources import VideoError, VideoInfo
from .defaults import FALLS_SUFFIXES, TIMELINE_SUFFIXES, VIDEO_CODECS  # noqa: F401 (FALLS_SUFFIXES: re-exported)

logger = logging.getLogger(__name__)

TIMELINE_COLUMNS = ("frame", "time_s", "detected", "raw_label", "label", "confidence",
                    "repetitions")
PROBABILITY_PREFIX = "p_"  # timeline column of each class's smoothed probability
WINDOW_TITLE = "poseclf"
TIMELINE_DECIMALS = 4  # probabilities and times in the timeline


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
    smoothed probability of each class as ``p_<class>``; ``people=True`` (several people, a
    row per person per frame) adds ``person`` (the id) after ``time_s``.
    """

    def __init__(self, path: str | os.PathLike, classes: Sequence[str], *,
                 people: bool = False) -> None:
        self.path = Path(path)
        self.classes = list(classes)
        columns = list(TIMELINE_COLUMNS)
        if people:
            columns.insert(2, "person")
        self.columns = [*columns, *(f"{PROBABILITY_PREFIX}{c}" for c in classes)]
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


class StagedOutputs:
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

    def __enter__(self) -> StagedOutputs:
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


def open_window() -> bool:
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


