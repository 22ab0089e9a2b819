"""Exclusion lists: table rows a person reviewed and decided to leave out of training.

An exclusion list is a CSV with a ``path`` column (the table's ``path`` values), an optional
``table`` column (the file name of the table it applies to, without extension; empty or absent:
every table) and an optional ``reason`` column. The list ``poseclf outliers -o`` writes has these
columns, so a reviewed copy of it (rows you checked on the contact sheet and agree with) can be
passed to ``poseclf train --exclude`` as is. Keeping the list beside the table, rather than
deleting rows, keeps the decision visible and survives re-extraction.

Example (``datasets/exclusions.csv``)::

    table,path,reason
    pushups_visolus,pushups_up/pushup (1196).jpg,skeleton joins the coach's legs to the athlete
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pandas as pd

from ..errors import TableError
from ..pose.aspect import correct_aspect
from ..pose.table import load_table

log = logging.getLogger(__name__)

EXCLUSION_COLUMNS: tuple[str, ...] = ("table", "path", "reason")


def load_exclusions(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Read and stack exclusion lists: a frame with ``table``, ``path`` and ``reason`` (str)."""
    frames = []
    for path in paths:
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, ValueError) as err:
            raise TableError(f"{path}: cannot read the exclusion list ({err})") from err
        if "path" not in df.columns:
            raise TableError(f"{path}: an exclusion list needs a 'path' column (the table's "
                             f"path values); found {', '.join(df.columns) or 'no columns'}")
        for column in ("table", "reason"):
            if column not in df.columns:
                df[column] = ""
        df["source"] = str(path)
        frames.append(df[[*EXCLUSION_COLUMNS, "source"]])
    if not frames:
        return pd.DataFrame(columns=[*EXCLUSION_COLUMNS, "source"], dtype=str)
    return pd.concat(frames, ignore_index=True)


def apply_exclusions(df: pd.DataFrame, exclusions: pd.DataFrame,
                     table_name: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of ``df`` not excluded, and the exclusion entries that matched a row.

    An entry applies when its ``table`` is empty or equals ``table_name``.
    """
    applies = (exclusions["table"] == "") | (exclusions["table"] == (table_name or ""))
    wanted = exclusions[applies]
    hit = df["path"].isin(set(wanted["path"]))
    matched = wanted[wanted["path"].isin(set(df["path"]))]
    return df[~hit], matched


def load_training_tables(paths: Sequence[str | os.PathLike],
                         exclude: Sequence[str | os.PathLike] = (), *,
                         aspect: float | None = 1.0,
                         on_aspect: Callable[[str | os.PathLike, float], None] | None = None,
                         ) -> tuple[pd.DataFrame, int]:
    """Read tables, drop the rows their exclusion lists name, stack them.

    Returns the stacked table and the number of rows dropped. Entries for these tables that
    match no row are logged (a stale list), not an error. ``aspect`` other than 1 undoes a
    horizontal stretch of each table's pictures (:func:`~poseclf.pose.aspect.correct_aspect`;
    None: each table's own estimate); ``on_aspect(path, factor)`` hears the factor applied.
    """
    if not paths:
        raise TableError("no table given")
    exclusions = load_exclusions(exclude)
    frames, dropped, used = [], 0, set()
    for path in paths:
        df = load_table(path)
        kept, matched = apply_exclusions(df, exclusions, Path(path).stem)
        dropped += len(df) - len(kept)
        if aspect != 1.0:
            kept, factor = correct_aspect(kept, aspect)
            if on_aspect is not None:
                on_aspect(path, factor)
        used.update(zip(matched["table"], matched["path"], strict=True))
        frames.append(kept)
    stems = {"", *(Path(p).stem for p in paths)}  # entries for other tables are not stale
    unused = [p for t, p in zip(exclusions["table"], exclusions["path"], strict=True)
              if t in stems and (t, p) not in used]
    if unused:
        log.warning("%d excluded path(s) match no row of the given tables, e.g. %s",
                    len(unused), unused[0])
    table = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return table, dropped
