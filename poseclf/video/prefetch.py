"""Frames read ahead in a thread, so that decoding overlaps BlazePose on the other core.

OpenCV releases the GIL while it decodes, so a reader thread that keeps a few frames ready
hides the decoding time behind BlazePose on the main thread. The queue is bounded
(:data:`READ_AHEAD_FRAMES`), so a 4K file never piles up in memory, and the frames come out in
the order they were read: the outputs are the same frame for frame.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator

import cv2
import numpy as np

READ_AHEAD_FRAMES = 4  # frames decoded ahead of BlazePose (about 11 MB at 1280x720)
_POLL_S = 0.1  # how often a blocked reader checks whether it should stop
_END = object()


def bgr_to_rgb(frame: np.ndarray) -> np.ndarray:
    """OpenCV's BGR frame as the RGB that BlazePose reads (a ``convert`` for :class:`ReadAhead`)."""
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class ReadAhead:
    """Iterate over ``frames`` while a thread reads the next ones ahead.

    With ``convert``, each item is a pair ``(frame, convert(frame))``, the conversion also done
    in the thread (e.g. BGR to the RGB that BlazePose reads: ~3 ms for a 1280x720 frame).

    Use as a context manager: leaving it (the loop ended early, an error) stops the thread and
    waits for it, so the capture it reads from can be released safely afterwards. An error in
    the reader is raised in the consumer at the frame where it happened.
    """

    def __init__(self, frames: Iterable[np.ndarray], size: int = READ_AHEAD_FRAMES,
                 convert: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self._frames = frames
        self._convert = convert
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="poseclf-video-read",
                                        daemon=True)
        self._started = False

    def __enter__(self) -> ReadAhead:
        self._thread.start()
        self._started = True
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _put(self, item) -> bool:
        """Queue ``item`` unless asked to stop; False when stopped."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        try:
            for frame in self._frames:
                item = frame if self._convert is None else (frame, self._convert(frame))
                if not self._put(item):
                    return
        except BaseException as err:  # noqa: BLE001 - handed to the consumer's thread
            self._put(_Failed(err))
            return
        self._put(_END)

    def __iter__(self) -> Iterator[np.ndarray]:
        if not self._started:
            raise RuntimeError("use ReadAhead as a context manager: with ReadAhead(frames) as f")
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def close(self) -> None:
        """Stop reading ahead and wait for the thread (frames not taken are dropped)."""
        self._stop.set()
        if self._started:
            self._thread.join()


class _Failed:
    """An error raised while reading, queued in the frame's place."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
