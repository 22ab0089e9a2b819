"""Resumable landmark tables: the one resume rule and checkpointer of every extraction.

Folder extraction (:mod:`poseclf.dataset`) and video-segment extraction
(:mod:`poseclf.video_segments`) plan different work but save it the same way:

- a row is reused when its file (path, size, modification time), label and BlazePose settings
  are unchanged (:func:`reusable_rows`);
- new rows are saved atomically as they come, at most every ``checkpoint_s`` seconds
  (:class:`Checkpointer`), and the table the run started from keeps its other rows until each
  is redone, so a stopped or failed run never leaves less than it found;
- :func:`checkpointed` is the one stop / save / report path around a run.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import TableError
from .table import load_table, save_table

logger = logging.getLogger(__name__)

MTIME_TOLERANCE_S = 1e-3  # file systems and CSV round-trips keep mtime to better than 1 ms
DEFAULT_CHECKPOINT_S = 10.0  # seconds between table saves: at most this much work is lost
CHECKPOINT_COST_FACTOR = 20.0  # wait >= 20x the last save's duration: saving costs <= 5 %


@dataclass(frozen=True)
class ImageItem:
    """One image found by :func:`scan_folder`; ``path`` is relative to the folder, POSIX style."""

    path: str
    label: str
    file_size: int
    file_mtime: float


def reusable_rows(old: pd.DataFrame, items: Sequence[ImageItem], tag: str) -> pd.Series:
    """Boolean per old row: same path, label, size, mtime and extractor as a scanned item."""
    if not all(c in old.columns for c in ("file_size", "file_mtime", "extractor")):
        return pd.Series(False, index=old.index)
    current = pd.DataFrame([asdict(i) for i in items]) if items else pd.DataFrame(
        columns=["path", "label", "file_size", "file_mtime"])
    merged = old[["path", "label", "file_size", "file_mtime", "extractor"]].merge(
        current, on="path", how="left", suffixes=("", "_now"))
    same = (
        (merged["label"] == merged["label_now"])
        & (merged["file_size"] == merged["file_size_now"])
        & ((merged["file_mtime"] - merged["file_mtime_now"]).abs() <= MTIME_TOLERANCE_S)
        & (merged["extractor"].astype(str) == tag)
    )
    return pd.Series(same.to_numpy(), index=old.index)


class Checkpointer:
    """Collects batch frames and saves reused + new rows, in scan order, atomically.

    ``previous`` is the table the run started from: its rows that were not reused stay in
    every checkpoint until their file is redone, so an interrupted or failed run never leaves
    less than it found (a ``--no-resume`` run stopped after one image keeps the old rows of
    the others). Only a complete run drops the rows of files that are gone.
    """

    def __init__(self, path: Path, kept: pd.DataFrame, order: dict[str, int], every_s: float,
                 previous: pd.DataFrame | None = None,
                 empty: Callable[[], pd.DataFrame] | None = None):
        self.path = path
        self.empty = empty
        self.frames = [kept] if len(kept) else []
        self.order = order
        self.every_s = every_s
        self.previous = previous
        self.pending = 0
        self.n_added = 0
        self.last_save = time.monotonic()
        self.last_cost = 0.0

    def add(self, frame: pd.DataFrame) -> None:
        self.frames.append(frame)
        self.pending += len(frame)
        self.n_added += len(frame)
        wait = max(self.every_s, CHECKPOINT_COST_FACTOR * self.last_cost)
        if time.monotonic() - self.last_save >= wait:
            self.save()

    def table(self, complete: bool = False) -> pd.DataFrame:
        """Reused and new rows in scan order; until ``complete``, the previous table's other
        rows after them."""
        if self.frames:
            df = pd.concat(self.frames, ignore_index=True)
        else:
            df = self.empty() if self.empty is not None else pd.DataFrame({"path": []})
        if not complete and self.previous is not None and len(self.previous):
            rest = self.previous[~self.previous["path"].isin(set(df["path"]))]
            rest = rest[~rest["path"].duplicated()]
            if len(rest):
                df = pd.concat([df, rest.reindex(columns=df.columns)], ignore_index=True)
        rank = df["path"].map(self.order).fillna(len(self.order)).to_numpy()
        return df.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)

    def save(self, complete: bool = False) -> pd.DataFrame:
        start = time.monotonic()
        df = self.table(complete)
        save_table(df, self.path)
        self.last_cost = time.monotonic() - start
        self.last_save = time.monotonic()
        self.pending = 0
        return df

    def finish(self, complete: bool) -> pd.DataFrame:
        """The final table, written only when it differs from what is on disk."""
        df = self.table(complete)
        unchanged = (self.previous is not None and self.path.exists() and not self.pending
                     and (not complete or (self.n_added == 0
                                           and len(df) == len(self.previous))))
        return df if unchanged else self.save(complete)


def read_previous(table: Path) -> pd.DataFrame | None:
    """The existing output table (None when there is none); a file that is not a readable
    poseclf table is refused rather than replaced."""
    if not table.exists():
        return None
    try:
        return load_table(table)
    except TableError as err:
        raise TableError(
            f"{err} It would be replaced by this run: move or delete it, or choose another -o."
        ) from err


@dataclass
class RunState:
    """How a checkpointed run ended (``stopped``: None, "interrupted" or "failed") and its
    final table."""

    stopped: str | None = None
    final: pd.DataFrame | None = None


@contextlib.contextmanager
def checkpointed(saver: Checkpointer, describe: Callable[[], str]) -> Iterator[RunState]:
    """Run the body; whatever happens, save the table once more (complete only when the body
    ended normally). A stop is logged with ``describe()`` (what was done) and re-raised."""
    state = RunState()
    try:
        yield state
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: what was extracted is saved below
        state.stopped = "interrupted"
        raise
    except BaseException:  # a lost scheduler, a model that fails to start, a full disk...
        state.stopped = "failed"
        raise
    finally:
        state.final = saver.finish(complete=state.stopped is None)
        if state.stopped is not None:
            logger.warning("%s: %s saved to %s; the table's other rows are kept as they "
                           "were%s", state.stopped, describe(), saver.path,
                           "; re-run the same command to finish"
                           if state.stopped == "interrupted" else "")
