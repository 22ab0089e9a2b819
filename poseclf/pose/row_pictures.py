"""The pictures of landmark-table rows, for the contact sheets: an image file, or a video frame
for a ``video.mp4#000123`` row.

:func:`read_row_images` decodes each video once for many rows; a picture that cannot be read is
None (a grey cell).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from ..errors import ImageReadError
from .images import read_image
from .table import parse_frame_path
from .video_frames import iter_selected_frames, read_frame


def _row_video_frame(root: Path, path: str) -> tuple[Path, int] | None:
    """(video, frame index) for a ``video.mp4#000123`` row with no such file; None otherwise."""
    frame = parse_frame_path(path)
    if frame is None or (root / path).exists():
        return None
    name, index = frame
    return (root / name if (root / name).is_file() else root), index


def load_row_image(images_root: str | os.PathLike, path: str) -> np.ndarray:
    """The picture (RGB) of a table row: ``root/path``, or a frame for ``video.mp4#000123`` rows."""
    root = Path(images_root)
    frame = _row_video_frame(root, path)
    if frame is not None:
        return read_frame(*frame)
    return read_image(root / path)


def read_row_images(images_root: str | os.PathLike,
                    paths: Iterable[str]) -> list[np.ndarray | None]:
    """:func:`load_row_image` for many rows, None where a picture cannot be read.

    Each video is decoded once, up to the last frame wanted (not once per row).
    """
    root = Path(images_root)
    paths = [str(p) for p in paths]
    pictures: list[np.ndarray | None] = [None] * len(paths)
    wanted: dict[Path, dict[int, list[int]]] = {}  # video -> frame index -> rows
    for row, path in enumerate(paths):
        frame = _row_video_frame(root, path)
        if frame is not None:
            wanted.setdefault(frame[0], {}).setdefault(frame[1], []).append(row)
            continue
        with contextlib.suppress(ImageReadError, ValueError, OSError):  # a grey cell
            pictures[row] = read_image(root / path)
    for video, rows in wanted.items():
        with contextlib.suppress(ValueError, OSError):  # VideoError is a ValueError
            for index, frame in iter_selected_frames(video, rows.keys()):
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                for row in rows[index]:
                    pictures[row] = rgb
    return pictures
