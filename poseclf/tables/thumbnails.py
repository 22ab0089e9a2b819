"""The pictures of a review page: a thumbnail and a large view per table row, skeleton drawn.

Each picture is named after what it shows: a hash of the row's path, the size and modification
time of its image (or video) file, its landmarks and the picture sizes. A picture whose file is
already there is therefore up to date and is reused, so a stopped run resumes where it was, and
a changed photo or a re-extracted row gets a new picture. Pictures of rows no longer in the
table are removed at the end (:func:`prune_pictures`).

With ``skeletons_only`` no photo is read: each skeleton is drawn on a plain background of the
photo's size (the table's ``width`` and ``height``), so the pictures show nobody and need no
image folder. The mode is part of the names: switching it makes every picture again.

The rows are read and drawn by a pool of threads: OpenCV decodes, resizes and encodes with the
GIL released, so the threads use every core without the cost of starting processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..pictures.draw import Overlay, SkeletonAnnotator
from ..pictures.sheets import row_poses, thumbnail
from ..pose.row_pictures import read_row_images
from ..pose.table import LANDMARK_COLUMNS, parse_frame_path

THUMB_SIZE = 200  # px: side of a card's square thumbnail (as the contact sheets)
LARGE_SIZE = 720  # px: longest side of the large view
JPEG_QUALITY = 82  # OpenCV's 0-100 scale; ~12 KB per thumbnail, ~60 KB per large view
THUMB_DIR, LARGE_DIR = "thumbs", "large"
BATCH_ROWS = 16  # rows per task: frames of one video share a decode, and the pool stays busy
PICTURE_VERSION = 1  # bump when the drawing changes, so old pictures are made again
_NAME = re.compile(r"[0-9a-f]{20}\.jpg")
PLAIN_BACKGROUND = (64, 64, 64)  # RGB: the skeleton's light centre line shows on it


@dataclass
class PictureReport:
    """What :func:`make_pictures` did: ``names`` (one per row, None: unreadable), counts."""

    names: list[str | None]
    made: int = 0
    reused: int = 0
    unreadable: int = 0


def _file_stamp(root: Path, path: str) -> str:
    """Size and modification time of a row's image file (or video): changes when it does."""
    target = root / path
    frame = parse_frame_path(path)
    if frame is not None and not target.exists():
        target = root / frame[0] if (root / frame[0]).is_file() else root
    try:
        st = target.stat()
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}"


def _row_sizes(df: pd.DataFrame) -> list[tuple[int, int] | None]:
    """(width, height) of each row's photo from the table; None where it is not known."""
    sizes = df[["width", "height"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    return [(int(w), int(h)) if np.isfinite(w) and np.isfinite(h) and w >= 1 and h >= 1
            else None for w, h in sizes]


def picture_names(df: pd.DataFrame, images_root: str | os.PathLike | None, *,
                  thumb_size: int = THUMB_SIZE, large_size: int = LARGE_SIZE,
                  skeletons_only: bool = False) -> list[str]:
    """The file name (``<hash>.jpg``) of each row's pictures; see the module docstring.

    ``images_root`` is not used (and may be None) with ``skeletons_only``: the photo's size in
    the table stands for its file.
    """
    if skeletons_only:
        mode = "skeleton"
        stamps = [f"{size[0]}x{size[1]}" if size else "nosize" for size in _row_sizes(df)]
    else:
        if images_root is None:
            raise ValueError("images_root is needed unless skeletons_only")
        root = Path(images_root)
        mode = "photo"
        stamps = [_file_stamp(root, path) for path in df["path"].astype(str)]
    landmarks = df[list(LANDMARK_COLUMNS)].to_numpy(np.float32)
    names = []
    for path, stamp, values in zip(df["path"].astype(str), stamps, landmarks, strict=True):
        key = hashlib.sha1(
            f"{PICTURE_VERSION}|{mode}|{thumb_size}|{large_size}|{path}|{stamp}|"
            .encode() + np.nan_to_num(values, nan=-1.0).tobytes())
        names.append(key.hexdigest()[:20] + ".jpg")
    return names


def large_view(image: np.ndarray, pose, size: int = LARGE_SIZE) -> np.ndarray:
    """``image`` (RGB) scaled so its longest side is at most ``size``, skeleton drawn; BGR."""
    height, width = image.shape[:2]
    scale = min(1.0, size / max(width, height))
    frame = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if scale < 1.0:
        frame = cv2.resize(frame, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    return SkeletonAnnotator().annotate(frame, Overlay(pose=pose))


def plain_pictures(df: pd.DataFrame, size: int) -> list[np.ndarray | None]:
    """A plain RGB background per row with its photo's aspect, the longest side at most
    ``size`` (the photo's own size when smaller, as :func:`large_view` would show it); None
    where the table does not know the photo's size (an unreadable file)."""
    out: list[np.ndarray | None] = []
    for row_size in _row_sizes(df):
        if row_size is None:
            out.append(None)
            continue
        width, height = row_size
        scale = min(1.0, size / max(width, height))
        out.append(np.full((max(1, round(height * scale)), max(1, round(width * scale)), 3),
                           PLAIN_BACKGROUND, np.uint8))
    return out


def _write_jpeg(path: Path, frame: np.ndarray) -> None:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f"{path}: OpenCV could not encode the picture")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data.tobytes())
    os.replace(tmp, path)  # a stopped run never leaves half a picture under the final name


def make_pictures(
    df: pd.DataFrame,
    images_root: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    *,
    workers: int | None = None,
    thumb_size: int = THUMB_SIZE,
    large_size: int = LARGE_SIZE,
    progress: Callable[[int], object] | None = None,
    skeletons_only: bool = False,
) -> PictureReport:
    """Write ``out_dir/thumbs/<name>`` and ``out_dir/large/<name>`` for every row of ``df``.

    Parameters
    ----------
    images_root : path or None
        The folder the table's paths are relative to; not read (may be None) with
        ``skeletons_only``.
    skeletons_only : bool, default=False
        Draw each skeleton on a plain background of its photo's size instead of the photo;
        rows whose size the table does not know count as unreadable.
    workers : int, optional
        Threads (default: the number of CPUs).
    progress : callable, optional
        Called with the number of rows just finished (e.g. ``tqdm.update``).

    Returns
    -------
    PictureReport
        The name of each row's pictures (None where the picture could not be read).
    """
    out = Path(out_dir)
    thumbs, larges = out / THUMB_DIR, out / LARGE_DIR
    for folder in (thumbs, larges):
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(".*.tmp"):  # left by a killed run
            with contextlib.suppress(OSError):
                stale.unlink()
    names: list[str | None] = list(picture_names(df, images_root, thumb_size=thumb_size,
                                                 large_size=large_size,
                                                 skeletons_only=skeletons_only))
    done = {p.name for p in thumbs.iterdir()} & {p.name for p in larges.iterdir()}
    todo = [i for i, name in enumerate(names) if name not in done]
    todo.sort(key=lambda i: str(df["path"].iloc[i]))  # a video's frames in one batch
    report = PictureReport(names, reused=len(names) - len(todo))
    if progress is not None and report.reused:
        progress(report.reused)

    def draw(batch: Sequence[int]) -> list[int]:
        rows = df.iloc[list(batch)]
        poses = row_poses(rows)
        images = (plain_pictures(rows, large_size) if skeletons_only
                  else read_row_images(images_root, rows["path"]))
        failed = []
        for i, pose, image in zip(batch, poses, images, strict=True):
            if image is None:
                failed.append(i)
                continue
            _write_jpeg(thumbs / names[i], thumbnail(image, pose, thumb_size))
            _write_jpeg(larges / names[i], large_view(image, pose, large_size))
        return failed

    batches = [todo[i:i + BATCH_ROWS] for i in range(0, len(todo), BATCH_ROWS)]
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        for batch, failed in zip(batches, pool.map(draw, batches), strict=True):
            for i in failed:
                names[i] = None
            report.unreadable += len(failed)
            report.made += len(batch) - len(failed)
            if progress is not None:
                progress(len(batch))
    return report


def prune_pictures(out_dir: str | os.PathLike, keep: Sequence[str | None]) -> int:
    """Remove the pictures of ``out_dir`` that no row uses any more; returns how many."""
    keep = set(keep)
    removed = 0
    for folder in (Path(out_dir) / THUMB_DIR, Path(out_dir) / LARGE_DIR):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if _NAME.fullmatch(path.name) and path.name not in keep:
                path.unlink()
                removed += 1
    return removed
