"""Frames of a video file picked by index, with exact frame numbers.

:func:`iter_selected_frames` decodes the file once from its start; :func:`iter_frame_ranges`
and :func:`read_frame` are built on it (for labelled segments and thumbnails).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Collection, Iterator, Sequence

import cv2
import numpy as np

from .video_sources import VideoError, open_source


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


def iter_frame_ranges(source: str | os.PathLike, ranges: Sequence[range]
                      ) -> Iterator[Iterator[tuple[int, np.ndarray]]]:
    """Per range of frame indexes (ascending, not overlapping), its ``(index, RGB frame)``.

    The file is decoded once, as by :func:`iter_selected_frames`; consume each range's
    frames before the next range. Where the video stops decoding, that range yields fewer
    frames and the ranges after it none.
    """
    frames = iter_selected_frames(source, {f for r in ranges for f in r})
    for wanted in ranges:
        yield ((index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
               for index, bgr in itertools.islice(frames, len(wanted)))


def read_frame(source: str | os.PathLike, index: int) -> np.ndarray:
    """Frame ``index`` of a video file as RGB uint8 (decodes from the start: for thumbnails)."""
    for _, frame in iter_selected_frames(source, {index}):
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    raise VideoError(f"{source}: cannot decode frame {index}")
