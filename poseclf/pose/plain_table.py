"""A landmark table as NumPy arrays, read without pandas when it is a plain CSV file.

``poseclf stats`` must start in a fraction of a second, and importing pandas alone takes ~0.6 s.
:func:`read_plain_csv` reads, with the csv module, a CSV table that
:func:`poseclf.pose.table.load_table` would read as it is: every schema column once, the same
number of cells on every line, a label on every row, ``True`` or ``False`` in ``detected``, whole
pixel sizes, decimal numbers (or empty, ``nan``, ``NaN``) in the landmark columns and finite image
landmarks where detected. Anything else (Parquet, a missing column, any cell it is not sure of)
it leaves to ``load_table`` by returning None: the checks and their one-line messages live
there only, and :meth:`TableArrays.from_table` gives the same arrays from its DataFrame.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .landmarks import LANDMARK_DIMS, N_LANDMARKS, WORLD_DIMS
from .poses import Poses
from .table import LANDMARK_COLUMNS, TABLE_COLUMNS, WORLD_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

_BOOLEANS = {"True": True, "False": False}  # as written by save_table; others go to load_table
_MISSING = frozenset({"", "nan", "NaN"})  # load_table's NaN cells in the landmark columns
_NUMBER_CHARACTERS = frozenset("0123456789.-+eE")


@dataclass(frozen=True)
class TableArrays:
    """A checked landmark table's columns that summaries need, one entry per row."""

    labels: np.ndarray  # str
    reasons: np.ndarray  # str, empty where detected
    detected: np.ndarray  # bool
    poses: Poses  # landmarks, world landmarks and image sizes of every row

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_table(cls, df: pd.DataFrame) -> TableArrays:
        """The arrays of a table checked by :func:`poseclf.pose.table.check_table`."""
        return cls(df["label"].to_numpy(str), df["reason"].to_numpy(str),
                   df["detected"].to_numpy(bool), Poses.from_table(df))


def read_plain_csv(path: str | os.PathLike) -> TableArrays | None:
    """The table at ``path`` when it is a plain CSV landmark table, else None (read it with
    :func:`poseclf.pose.table.load_table`, which reads it or says what is wrong)."""
    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return None
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = [row for row in csv.reader(file) if row]  # pandas skips blank lines too
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if not rows or len(set(rows[0])) != len(rows[0]):
        return None
    header, body = rows[0], rows[1:]
    if not set(TABLE_COLUMNS) <= set(header) or any(len(row) != len(header) for row in body):
        return None
    cells = dict(zip(header, zip(*body, strict=True), strict=True)) if body else {
        name: () for name in header}
    labels, reasons = cells["label"], cells["reason"]
    if any(not label.strip() for label in labels):
        return None
    detected = [_BOOLEANS.get(cell) for cell in cells["detected"]]
    sizes = _whole_numbers(cells["width"] + cells["height"])
    landmarks = _numbers([cells[name] for name in LANDMARK_COLUMNS])
    world = _numbers([cells[name] for name in WORLD_COLUMNS])
    if None in detected or sizes is None or landmarks is None or world is None:
        return None
    n = len(body)
    detected_rows = np.array(detected, bool)
    if not np.isfinite(landmarks[detected_rows]).all() or np.isinf(world).any():
        return None
    poses = Poses(landmarks.reshape(n, N_LANDMARKS, LANDMARK_DIMS),
                  world.reshape(n, N_LANDMARKS, WORLD_DIMS), sizes.reshape(2, n).T)
    return TableArrays(np.array(labels, str).reshape(n), np.array(reasons, str).reshape(n),
                       detected_rows, poses)


def _whole_numbers(cells: tuple[str, ...]) -> np.ndarray | None:
    """Pixel sizes written as digits, else None."""
    if not all(cell.isascii() and cell.isdigit() for cell in cells):
        return None
    return np.array(cells, np.int64).astype(np.float32)


def _numbers(columns: list[tuple[str, ...]]) -> np.ndarray | None:
    """Columns of decimal numbers (missing cells NaN) as a float32 array (rows, columns), or
    None when a cell is something else (``inf``, ``1_000``, spaces, text)."""
    cells = [cell for column in columns for cell in column]
    if not set("".join(cell for cell in cells if cell not in _MISSING)) <= _NUMBER_CHARACTERS:
        return None
    cells = [cell if cell not in _MISSING else "nan" for cell in cells]
    try:
        values = np.fromiter(map(float, cells), np.float64, count=len(cells))
    except ValueError:
        return None
    return values.reshape(len(columns), -1).T.astype(np.float32)
