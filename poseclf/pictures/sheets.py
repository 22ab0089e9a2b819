"""Contact sheets: grids of thumbnails with the skeleton drawn, so a person can look, not read.

Two sheets are built from a landmark table and the folder its paths are relative to:
:func:`outlier_sheet` (the rows :func:`poseclf.tables.review.find_outliers` flags, with both labels)
and :func:`stats_sheet` (a few thumbnails per class). Sheets are BGR uint8 arrays (OpenCV's
order, like :mod:`poseclf.pictures.draw`); :func:`write_sheet` saves one as PNG. The pictures (image
files, or frames of a video for ``video.mp4#000123`` rows) are read by
:func:`poseclf.pose.row_pictures.read_row_images` (each video decoded once per sheet); this module
only draws them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..pose.landmarks import Pose
from ..pose.poses import Poses
from ..pose.row_pictures import read_row_images
from ..pose.table import parse_frame_path
from .draw import Overlay, SkeletonAnnotator, write_image

THUMB_SIZE = 200  # px: side of the square a thumbnail is fitted into
LINE_HEIGHT = 16  # px: one caption line under a thumbnail
HEADER_WIDTH = 150  # px: class-name column of the stats sheet
TITLE_HEIGHT = 30  # px: sheet title band
PAD = 6  # px: gap between cells
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.42  # readable at LINE_HEIGHT
BACKGROUND = (250, 250, 250)  # BGR
TEXT = (30, 30, 30)
WARN = (20, 20, 200)  # BGR red: the label the classifier preferred, failures
MISSING = (210, 210, 210)  # grey cell for an image that cannot be read
MAX_COLUMNS = 6  # outlier sheet: thumbnails per row
MAX_OUTLIERS_SHOWN = 60  # outlier sheet: the clearest cases; the CSV has all


@dataclass
class Cell:
    """One thumbnail: the picture (RGB, or None when unreadable), its pose and caption lines."""

    image: np.ndarray | None
    pose: Pose | None
    lines: list[tuple[str, tuple[int, int, int]]] = field(default_factory=list)


def row_poses(df: pd.DataFrame) -> list[Pose | None]:
    """A :class:`Pose` per table row (None where nothing was detected)."""
    poses = Poses.from_table(df)
    return [pose if detected else None for pose, detected in zip(poses, df["detected"],
                                                                    strict=True)]


def thumbnail(image: np.ndarray | None, pose: Pose | None, size: int = THUMB_SIZE) -> np.ndarray:
    """``image`` fitted into a ``size`` square (aspect kept, padded), skeleton drawn; BGR."""
    cell = np.full((size, size, 3), BACKGROUND, np.uint8)
    if image is None:
        cell[:] = MISSING
        return cell
    height, width = image.shape[:2]
    scale = size / max(width, height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    small = cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), (new_w, new_h),
                       interpolation=cv2.INTER_AREA)
    # landmarks are normalised: the same on any size
    SkeletonAnnotator().annotate(small, Overlay(pose=pose))
    top, left = (size - new_h) // 2, (size - new_w) // 2
    cell[top:top + new_h, left:left + new_w] = small
    return cell


def _fit_text(text: str, width: int) -> str:
    while text and cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0] > width:
        text = text[:-2] + "~"  # cut long file names; "~" marks the cut
    return text


def _cell_image(cell: Cell, size: int, n_lines: int) -> np.ndarray:
    out = np.full((size + n_lines * LINE_HEIGHT, size, 3), BACKGROUND, np.uint8)
    out[:size] = thumbnail(cell.image, cell.pose, size)
    for i, (text, color) in enumerate(cell.lines[:n_lines]):
        y = size + (i + 1) * LINE_HEIGHT - 4
        cv2.putText(out, _fit_text(text, size - 4), (2, y), FONT, FONT_SCALE, color, 1,
                    cv2.LINE_AA)
    return out


def compose_sheet(
    rows: Sequence[Sequence[Cell]],
    *,
    title: str = "",
    row_headers: Sequence[Sequence[str]] | None = None,
    size: int = THUMB_SIZE,
) -> np.ndarray:
    """A grid of cells (one list per sheet row), with an optional title and row headers; BGR."""
    n_lines = max((len(c.lines) for row in rows for c in row), default=0)
    n_cols = max((len(row) for row in rows), default=0)
    header_w = HEADER_WIDTH + PAD if row_headers else 0
    cell_h = size + n_lines * LINE_HEIGHT
    width = max(header_w + PAD + n_cols * (size + PAD), 2 * size)
    top = TITLE_HEIGHT if title else PAD
    height = top + len(rows) * (cell_h + PAD) + PAD
    sheet = np.full((height, width, 3), BACKGROUND, np.uint8)
    if title:
        cv2.putText(sheet, _fit_text(title, width - 2 * PAD) if len(title) > 20 else title,
                    (PAD, TITLE_HEIGHT - 9), FONT, 0.6, TEXT, 1, cv2.LINE_AA)
    for r, row in enumerate(rows):
        y = top + r * (cell_h + PAD)
        if row_headers:
            for i, text in enumerate(row_headers[r]):
                scale, thick = (0.55, 2) if i == 0 else (FONT_SCALE, 1)
                cv2.putText(sheet, _fit_text(text, HEADER_WIDTH), (PAD, y + 20 + 20 * i),
                            FONT, scale, TEXT, thick, cv2.LINE_AA)
        for c, cell in enumerate(row):
            x = header_w + PAD + c * (size + PAD)
            sheet[y:y + cell_h, x:x + size] = _cell_image(cell, size, n_lines)
    return sheet


def count_found_images(df: pd.DataFrame, images_root: str | os.PathLike,
                       sample: int = 200) -> tuple[int, int]:
    """How many of (at most ``sample`` of) the table's paths exist under ``images_root``, and
    how many were looked at: 0 found means the folder is not the one the table came from."""
    root = Path(images_root)
    paths = df["path"].astype(str).head(sample)
    found = 0
    for path in paths:
        frame = parse_frame_path(path)
        found += (root / path).exists() or (frame is not None and (
            (root / frame[0]).is_file() or root.is_file()))
    return found, len(paths)


def outlier_sheet(
    df: pd.DataFrame,
    outliers: pd.DataFrame,
    images_root: str | os.PathLike,
    *,
    max_shown: int = MAX_OUTLIERS_SHOWN,
    columns: int = MAX_COLUMNS,
    size: int = THUMB_SIZE,
) -> np.ndarray:
    """Thumbnails of the flagged rows: file, given label (and score), and the model's
    preferred label (score) or, for rows unlike their class or least typical, their novelty."""
    shown = outliers.head(max_shown)
    first = df.drop_duplicates("path")
    position = pd.Series(np.arange(len(first)), index=first["path"].to_numpy())
    table_rows = first.iloc[position.loc[shown["path"]].to_numpy()]
    poses = row_poses(table_rows) if len(table_rows) else []
    pictures = read_row_images(images_root, shown["path"])  # None: a grey cell
    cells = []
    for flagged, pose, picture in zip(shown.itertuples(), poses, pictures, strict=True):
        cells.append(Cell(picture, pose, [
            (flagged.path, TEXT),
            (f"label: {flagged.label} {flagged.label_score:.2f}", TEXT),
            _problem_caption(flagged),
        ]))
    grid = [cells[i:i + columns] for i in range(0, len(cells), columns)] or [[]]
    more = f" (first {max_shown})" if len(outliers) > max_shown else ""
    problems = outliers.get("problem", pd.Series(dtype=str))
    disputed = int((problems != "least typical").sum())
    typical = f", {len(outliers) - disputed} least typical" if disputed < len(outliers) else ""
    title = f"{disputed} rows a model trained without them disputes{typical}{more}"
    return compose_sheet(grid, title=title, size=size)


def _problem_caption(flagged) -> tuple[str, tuple[int, int, int]]:
    problem = getattr(flagged, "problem", "")
    if problem in ("unlike its class", "least typical"):
        return f"{problem} (novelty x{flagged.novelty:.2f})", WARN if problem[0] == "u" else TEXT
    return f"model: {flagged.predicted} {flagged.predicted_score:.2f}", WARN


def stats_sheet(
    df: pd.DataFrame,
    images_root: str | os.PathLike,
    *,
    per_class: int = 6,
    size: int = THUMB_SIZE,
) -> np.ndarray:
    """One sheet row per class: its counts, then ``per_class`` thumbnails spread over the class.

    Detected rows are shown first; if a class has rows without a pose, the last thumbnail is
    one of them, captioned with its reason.
    """
    chosen_rows, headers = [], []
    for label, rows in df.groupby(df["label"].astype(str), sort=True):
        detected = rows[rows["detected"].astype(bool)]
        failed = rows[~rows["detected"].astype(bool)]
        n_ok = per_class - 1 if len(failed) and per_class > 1 else per_class
        picks = [detected.iloc[int(i)] for i in
                 np.unique(np.linspace(0, len(detected) - 1, min(n_ok, len(detected))).round())]
        if len(failed):
            picks.append(failed.iloc[0])
        chosen_rows.append(pd.DataFrame(picks) if picks else rows.head(0))
        rate = len(detected) / max(1, len(rows))
        headers.append([label, f"{len(rows)} rows", f"{rate:.0%} detected"])
    # every picture at once: each video is decoded once for the whole sheet; None: a grey cell
    pictures = iter(read_row_images(images_root, [str(p) for chosen in chosen_rows
                                                  for p in chosen["path"]]))
    grid = []
    for chosen in chosen_rows:
        poses = row_poses(chosen) if len(chosen) else []
        cells = []
        for (_, row), pose in zip(chosen.iterrows(), poses, strict=True):
            lines = [(Path(str(row["path"])).name, TEXT)]
            lines.append(("detected", TEXT) if row["detected"] else (str(row["reason"]), WARN))
            cells.append(Cell(next(pictures), pose, lines))
        grid.append(cells)
    return compose_sheet(grid, title=f"{len(df)} rows, {len(grid)} classes",
                         row_headers=headers, size=size)


def write_sheet(sheet: np.ndarray, path: str | os.PathLike) -> Path:
    """Save a BGR sheet (PNG or any extension OpenCV writes)."""
    write_image(path, sheet)
    return Path(path)
