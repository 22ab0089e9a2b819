"""The landmark table: one row per image (or video frame), the schema every job reads and writes.

Columns, in this order:

=================  ==========================================================================
``path``           image path relative to the dataset folder (or ``video.mp4#frame``, and
                   ``video.mp4#frame@p<id>`` for one person of a frame)
``label``          class name (first-level folder name, or the segment label)
``width``          image width in pixels (0 when unreadable)
``height``         image height in pixels (0 when unreadable)
``detected``       True when BlazePose found a person
``reason``         empty when detected, else why not (``no_person``, ``unreadable: ...``)
``<name>_x``       for each of the 33 landmark names (``nose_x``, ``left_hip_y``, ...):
``<name>_y``       image landmarks, x and y normalised to the image, z on the scale of x,
``<name>_z``       and visibility ``<name>_v``
``<name>_v``
``<name>_wx``      world landmarks in metres (hip-centred)
``<name>_wy``
``<name>_wz``
=================  ==========================================================================

Builders may add columns of their own (for example ``file_size`` and ``file_mtime`` for resuming,
``frame`` and ``time_s`` for video rows, ``person`` for one person of a frame); readers ignore
columns they do not know.
CSV or Parquet is chosen by the file extension. pandas (~0.4 s to import) is imported by the
functions that read tables, so that the schema's names (e.g. :data:`SCHEMA_VERSION`, which
``poseclf models`` checks) cost nothing; :mod:`poseclf.pose.plain_table` reads a plain CSV table
without it (``poseclf stats``) and leaves every other table to :func:`load_table`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import TableError
from ..files import replace_atomically
from .defaults import TABLE_SUFFIXES
from .landmarks import LANDMARK_NAMES

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1  # bump when the columns below change meaning
META_COLUMNS: tuple[str, ...] = ("path", "label", "width", "height", "detected", "reason")
LANDMARK_COLUMNS: tuple[str, ...] = tuple(
    f"{name}_{axis}" for name in LANDMARK_NAMES for axis in ("x", "y", "z", "v")
)
WORLD_COLUMNS: tuple[str, ...] = tuple(
    f"{name}_{axis}" for name in LANDMARK_NAMES for axis in ("wx", "wy", "wz")
)
TABLE_COLUMNS: tuple[str, ...] = META_COLUMNS + LANDMARK_COLUMNS + WORLD_COLUMNS
UNREADABLE = "unreadable"  # reason prefix of a file that is not a readable image


def check_table(df: pd.DataFrame, source: str | os.PathLike = "table") -> pd.DataFrame:
    """Check that ``df`` has the schema's columns and normalise their types."""
    missing = [c for c in TABLE_COLUMNS if c not in df.columns]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise TableError(
            f"{source}: not a poseclf landmark table, {len(missing)} columns missing ({shown}). "
            "Make one with `poseclf extract DATA_DIR -o TABLE`."
        )
    df = df.copy()
    df["path"] = df["path"].astype(str)
    df["label"] = _labels(df["label"], source)
    df["reason"] = df["reason"].fillna("").astype(str)
    df["detected"] = _booleans(df["detected"], source)
    for column in ("width", "height"):
        df[column] = _sizes(df[column], column, source)
    numeric = list(LANDMARK_COLUMNS + WORLD_COLUMNS)
    values = np.empty((len(df), len(numeric)), np.float32)
    for i, column in enumerate(numeric):
        values[:, i] = _numbers(df[column], column, source).to_numpy(np.float32)
    _check_finite(values, df, source)
    df[numeric] = values
    return df


_TRUE = frozenset({"true", "1", "1.0"})
_FALSE = frozenset({"false", "0", "0.0"})


def _row_name(position: int) -> str:
    return f"row {position + 1}"  # 1-based, the header not counted


def _labels(column: pd.Series, source) -> pd.Series:
    text = column.astype(object)
    missing = text.isna() | (text.astype(str).str.strip() == "")
    if missing.any():
        position = int(np.flatnonzero(missing.to_numpy())[0])
        raise TableError(f"{source}: {_row_name(position)} has no label ({int(missing.sum())} "
                         "row(s) in all); give every row its class or remove it")
    return text.astype(str)


def _booleans(column: pd.Series, source) -> pd.Series:
    if column.dtype == bool:
        return column
    text = column.astype(str).str.strip().str.lower()
    _refuse_bad_cells(~text.isin(_TRUE | _FALSE), column, "detected", source,
                      "is not True or False; write True/False (or 1/0)")
    return text.isin(_TRUE)


def _refuse_bad_cells(bad: pd.Series, column: pd.Series, name: str, source, why: str) -> None:
    """A TableError naming the first cell flagged in ``bad``, its value and ``why``."""
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise TableError(f"{source}: column {name!r}, {_row_name(position)}: "
                         f"{column.iloc[position]!r} {why}")


def _numbers(column: pd.Series, name: str, source) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column) and column.dtype != bool:
        return column.astype("float64")
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna() & column.notna() & (column.astype(str).str.strip() != "")
    _refuse_bad_cells(bad, column, name, source, "is not a number; fix the cell or re-create "
                      "the table with `poseclf extract`")
    return numbers.astype("float64")


def _sizes(column: pd.Series, name: str, source) -> pd.Series:
    """Image width or height: whole pixels, 0 (or empty) when the image was unreadable."""
    numbers = _numbers(column, name, source).fillna(0)
    bad = ~np.isfinite(numbers) | (numbers < 0) | (numbers != np.round(numbers))
    _refuse_bad_cells(bad, column, name, source, "is not a size in pixels; fix the cell or "
                      "re-create the table with `poseclf extract`")
    return numbers.astype("int64")


def _check_finite(values: np.ndarray, df: pd.DataFrame, source) -> None:
    """Detected rows need finite image landmarks; world landmarks are finite or all NaN."""
    n_image = len(LANDMARK_COLUMNS)
    detected = df["detected"].to_numpy(bool)
    bad_image = detected & ~np.isfinite(values[:, :n_image]).all(axis=1)
    bad_world = np.isinf(values[:, n_image:]).any(axis=1)
    bad = bad_image | bad_world
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        what = ("missing or infinite landmark values although detected is True"
                if bad_image[position] else "infinite world-landmark values")
        raise TableError(f"{source}: {_row_name(position)} ({df['path'].iloc[position]}) "
                         f"has {what} ({int(bad.sum())} row(s) in all); re-extract the table or "
                         "set detected to False for those rows")


def load_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a landmark table from CSV or Parquet (chosen by extension) and check its schema."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise TableError(
            f"{path}: no such table. Make one with `poseclf extract DATA_DIR -o {path}`."
        )
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(path, dtype={"path": str, "label": str, "reason": str},
                             keep_default_na=False, na_values={c: ["", "nan", "NaN"]
                             for c in LANDMARK_COLUMNS + WORLD_COLUMNS})
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            raise TableError(f"{path}: unknown table format {suffix!r}; use .csv or .parquet")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        if isinstance(err, TableError):
            raise
        raise TableError(
            f"{path}: cannot read the table ({err}). Re-create it with `poseclf extract`."
        ) from err
    return check_table(df, path)


def load_tables(paths) -> pd.DataFrame:
    """Read several tables and stack their rows (their own extra columns kept where present)."""
    frames = [load_table(p) for p in paths]
    if not frames:
        raise TableError("no table given")
    import pandas as pd

    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def save_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table atomically (temporary file + rename): a crash never leaves half a file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise TableError(f"{path}: unknown table format {suffix!r}; use .csv or .parquet")
    if suffix == ".csv":
        return replace_atomically(path, lambda tmp: df.to_csv(tmp, index=False))
    return replace_atomically(path, lambda tmp: df.to_parquet(tmp, index=False))


FRAME_DIGITS = 6  # "sit.mp4#000123": zero-padded so that paths sort in frame order
PERSON_MARK = "@p"  # "pair.mp4#000123@p2": person 2 of a frame (extract --people N)


def frame_path(video: str | os.PathLike, frame: int, person: int | None = None) -> str:
    """Row path of a video frame, ``sit.mp4#000123``; of one person in it (``person``, a
    tracked id; 0: nobody followed), ``pair.mp4#000123@p2``."""
    path = f"{Path(video).name}#{frame:0{FRAME_DIGITS}d}"
    return path if person is None else f"{path}{PERSON_MARK}{person}"


def parse_frame_path(path: str) -> tuple[str, int] | None:
    """``("sit.mp4", 123)`` for ``"sit.mp4#000123"`` (or ``"sit.mp4#000123@p2"``), None for an
    image path."""
    path = str(path)
    head, mark, person = path.rpartition(PERSON_MARK)
    if mark and person.isdigit():
        path = head
    name, sep, frame = path.rpartition("#")
    if not sep or not frame.isdigit():
        return None
    return name, int(frame)
