"""The resumable extraction engine: one run loop for folder and video-segment extraction.

A planner (:func:`poseclf.tables.dataset.extract_folder`, :func:`poseclf.video.segments.
extract_videos_to_table`) describes its work as a :class:`Plan`: the rows it will write, in
table order, grouped into work units (an image, a video segment), and how to turn the units left
to do into tasks. :func:`run_plan` owns everything else:

- the resume rule: a unit is reused when every row of it is in the previous table with the same
  path, file (size, modification time), label, plan-specific columns and BlazePose settings (a
  plan may give several table rows one planned key, e.g. the people of one video frame: each
  planned key then needs one such row at least, and every row of it is kept);
- the tasks: in this process when there is one worker; else this process and local worker
  processes take them from one list (:mod:`poseclf.tables.local_pool`), or
  :class:`joblib.Parallel` runs them on the Dask cluster the caller names (``cluster=``, see
  :mod:`poseclf.tables.cluster`); a worker process keeps one image-mode extractor and ends with
  the process that started it;
- checkpoints: new rows are saved atomically as they come, at most every ``checkpoint_s``
  seconds, and the table the run started from keeps its other rows until each is redone, so a
  stopped or failed run never leaves less than it found; only a complete run replaces it;
- the stop path: Ctrl-C / SIGTERM / a failure saves, logs one line and re-raises.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import TableError
from ..pose.extraction import ExtractOptions, PoseExtractor
from ..pose.table import load_table, save_table
from .cluster import cluster_or_local
from .local_pool import Task, as_tables, parts, run_local

logger = logging.getLogger(__name__)

MTIME_TOLERANCE_S = 1e-3  # file systems and CSV round-trips keep mtime to better than 1 ms
DEFAULT_CHECKPOINT_S = 10.0  # seconds between table saves: at most this much work is lost
CHECKPOINT_COST_FACTOR = 20.0  # wait >= 20x the last save's duration: saving costs <= 5 %

#: Rows (images, frames) per process when ``workers`` is not given (:func:`auto_workers`): a
#: worker's start-up is worth ~30 photos of BlazePose Full, and this process works too.
ROWS_PER_WORKER = 40


@dataclass
class Plan:
    """The work of one extraction run, in table order.

    Attributes
    ----------
    expected : DataFrame
        One row per table row the run makes, in table order: ``path`` and the columns a
        previous row must match to be reused (``label``, ``file_size``, ``file_mtime``, ...;
        ``file_mtime`` within :data:`MTIME_TOLERANCE_S`). The ``extractor`` column must also
        match the run's :attr:`ExtractOptions.tag`.
    units : list of list of str
        The row paths of each work unit: a unit is reused or redone whole.
    tasks : callable
        ``tasks(todo, n_workers, in_process)`` -> tasks for the units at indexes ``todo``.
    empty : callable
        An empty table with the run's columns and types.
    normalize : callable
        Reused rows of the previous table -> the run's columns and types.
    unit_name : str
        What a row is, for the progress bar (``img``, ``frame``).
    stopped : str
        What was done when stopped, ``%``-formatted with the rows added, to do and reused.
    redone : str, optional
        Logged with the number of units whose previous rows no longer match.
    key : callable, optional
        Table rows -> the ``expected`` path (the planned key) each belongs to, for plans whose
        table rows are not known in advance (several people per frame); default: the row's
        ``path``, one table row per planned row. Rows keep their order within a key.
    """

    expected: pd.DataFrame
    units: list[list[str]]
    tasks: Callable[[list[int], int, bool], list[Task]]
    empty: Callable[[], pd.DataFrame]
    normalize: Callable[[pd.DataFrame], pd.DataFrame]
    unit_name: str = "row"
    stopped: str = "%d of %d rows extracted (%d reused)"
    redone: str | None = None
    key: Callable[[pd.DataFrame], pd.Series] | None = None

    def keys(self, rows: pd.DataFrame) -> pd.Series:
        """The planned key of each of ``rows``."""
        return rows["path"] if self.key is None else self.key(rows)


@dataclass
class PlanRun:
    """What :func:`run_plan` did: the previous table (None), the reused rows, the units redone
    because their rows changed, the rows added and the final table."""

    previous: pd.DataFrame | None
    kept: pd.DataFrame
    n_redone: int
    n_added: int
    final: pd.DataFrame = field(repr=False)


# -- the resume rule ------------------------------------------------------------------------------
def reusable_rows(old: pd.DataFrame, expected: pd.DataFrame, tag: str,
                  keys: pd.Series | None = None) -> np.ndarray:
    """Boolean per old row: its path (or its key in ``keys``) is expected, with the same values
    and extractor ``tag``."""
    columns = [c for c in expected.columns if c != "path"]
    if not {*columns, "extractor"} <= set(old.columns):
        return np.zeros(len(old), bool)
    rows = old[["path", *columns, "extractor"]]
    if keys is not None:
        rows = rows.assign(path=keys.to_numpy())
    merged = rows.merge(expected, on="path", how="left", suffixes=("", "_now"))
    same = merged["extractor"].astype(str) == tag
    for column in columns:
        if column == "file_mtime":
            same &= (merged[column] - merged[f"{column}_now"]).abs() <= MTIME_TOLERANCE_S
        else:
            same &= merged[column] == merged[f"{column}_now"]
    return same.to_numpy()


def plan_resume(previous: pd.DataFrame | None, plan: Plan,
                tag: str) -> tuple[pd.DataFrame, list[int], int]:
    """Rows of ``previous`` to keep, the indexes of the units to do, and how many of those had
    rows that no longer match."""
    if previous is None:
        return plan.empty(), list(range(len(plan.units))), 0
    keys = plan.keys(previous)
    same = reusable_rows(previous, plan.expected, tag, None if plan.key is None else keys)
    good, old = set(keys[same]), set(keys)
    kept_paths: set[str] = set()
    todo, n_redone = [], 0
    for index, paths in enumerate(plan.units):
        if all(p in good for p in paths):
            kept_paths.update(paths)
        else:
            todo.append(index)
            n_redone += any(p in old for p in paths)
    kept = previous[same & keys.isin(kept_paths).to_numpy()]
    kept = kept[~kept["path"].duplicated()]
    return plan.normalize(kept) if len(kept) else plan.empty(), todo, n_redone


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


# -- checkpoints ----------------------------------------------------------------------------------
class Checkpointer:
    """Collects row tables and saves reused + new rows, in plan order, atomically.

    ``previous`` is the table the run started from: its rows that were not reused stay in
    every checkpoint until their file is redone, so an interrupted or failed run never leaves
    less than it found (a ``--no-resume`` run stopped after one image keeps the old rows of
    the others). Only a complete run drops the rows of files that are gone. Without a
    ``path`` nothing is saved.
    """

    def __init__(self, path: Path | None, kept: pd.DataFrame, order: dict[str, int],
                 every_s: float, previous: pd.DataFrame | None, empty: Callable[[], pd.DataFrame],
                 keys: Callable[[pd.DataFrame], pd.Series] = lambda rows: rows["path"]):
        self.path = path
        self.keys = keys
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
        if self.path is not None and time.monotonic() - self.last_save >= wait:
            self.save()

    def table(self, complete: bool = False) -> pd.DataFrame:
        """Reused and new rows in plan order; until ``complete``, the previous table's other
        rows after them."""
        df = pd.concat(self.frames, ignore_index=True) if self.frames else self.empty()
        if not complete and self.previous is not None and len(self.previous):
            rest = self.previous[~self.keys(self.previous).isin(set(self.keys(df))).to_numpy()]
            rest = rest[~rest["path"].duplicated()]
            if len(rest):
                df = pd.concat([df, rest.reindex(columns=df.columns)], ignore_index=True)
        rank = self.keys(df).map(self.order).fillna(len(self.order)).to_numpy()
        return df.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)

    def save(self, complete: bool = False) -> pd.DataFrame:
        start = time.monotonic()
        df = self.table(complete)
        if self.path is not None:
            save_table(df, self.path)
        self.last_cost = time.monotonic() - start
        self.last_save = time.monotonic()
        self.pending = 0
        return df

    def finish(self, complete: bool) -> pd.DataFrame:
        """The final table, written only when it differs from what is on disk."""
        df = self.table(complete)
        unchanged = (self.previous is not None and self.path is not None and self.path.exists()
                     and not self.pending
                     and (not complete or (self.n_added == 0
                                           and len(df) == len(self.previous))))
        return df if unchanged else self.save(complete)


@contextlib.contextmanager
def checkpointed(saver: Checkpointer, describe: Callable[[], str]) -> Iterator[list]:
    """Run the body; whatever happens, save the table once more (complete only when the body
    ended normally) and put it in the yielded list. A stop is logged with ``describe()`` (what
    was done) and re-raised."""
    final: list[pd.DataFrame] = []
    stopped = None
    try:
        yield final
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: what was extracted is saved below
        stopped = "interrupted"
        raise
    except BaseException:  # a lost scheduler, a model that fails to start, a full disk...
        stopped = "failed"
        raise
    finally:
        final.append(saver.finish(complete=stopped is None))
        if stopped is not None and saver.path is not None:
            logger.warning("%s: %s saved to %s; the table's other rows are kept as they "
                           "were%s", stopped, describe(), saver.path,
                           "; re-run the same command to finish"
                           if stopped == "interrupted" else "")


# -- the run --------------------------------------------------------------------------------------
def run_plan(plan: Plan, options: ExtractOptions, table: Path | None, *,
             workers: int | None = None, cluster: str | None = None,
             checkpoint_s: float = DEFAULT_CHECKPOINT_S, resume: bool = True,
             progress: bool = True) -> PlanRun:
    """Do the units of ``plan`` that ``table`` lacks and write the complete table.

    Parameters
    ----------
    plan : Plan
    options : ExtractOptions
        BlazePose settings; their tag goes in the ``extractor`` column.
    table : path or None
        ``.csv`` or ``.parquet``, saved as rows come and replaced at the end; None: nothing
        is read or written (the rows are returned).
    workers : int, optional
        Processes working, this one included (default: :func:`auto_workers`, up to one per
        core); 1 runs in this process only.
    cluster : str, optional
        A Dask scheduler address or ``local:N`` (:mod:`poseclf.tables.cluster`); ``workers`` is then
        ignored.
    checkpoint_s, resume, progress
        Seconds between saves; False re-does every unit; a tqdm progress bar.

    Raises
    ------
    KeyboardInterrupt
        After saving every row done so far (re-run to finish).
    """
    previous = None if table is None else read_previous(table)  # kept until redone
    kept, todo, n_redone = plan_resume(previous if resume else None, plan, options.tag)
    if n_redone and plan.redone:
        logger.warning(plan.redone, table, n_redone)
    order = {path: rank for rank, path in enumerate(plan.expected["path"])}
    saver = Checkpointer(table, kept, order, checkpoint_s, previous, plan.empty, plan.keys)
    n_rows = sum(len(plan.units[i]) for i in todo)
    bar = tqdm(total=n_rows, unit=plan.unit_name, desc="extract", disable=not progress,
               dynamic_ncols=True)
    try:
        with checkpointed(saver, lambda: plan.stopped % (saver.n_added, n_rows, len(kept))
                          ) as final:
            for rows in _run_tasks(plan, todo, n_rows, workers, cluster):
                saver.add(rows)
                bar.update(len(rows) if plan.key is None else plan.keys(rows).nunique())
    finally:
        bar.close()
        close_worker_extractor()
    return PlanRun(previous, kept, n_redone, saver.n_added, final[0])


def _run_tasks(plan: Plan, todo: list[int], n_rows: int, workers: int | None,
               cluster: str | None) -> Iterator[pd.DataFrame]:
    """Row tables of the tasks of the units ``todo`` (``n_rows`` rows), as they finish."""
    if not todo:
        return
    with cluster_or_local(cluster) as slots:
        n_workers = slots or workers or auto_workers(n_rows, joblib.cpu_count())
        in_process = cluster is None and n_workers == 1
        tasks = plan.tasks(todo, n_workers, in_process)
        if in_process or (cluster is None and len(tasks) == 1):
            for function, args in tasks:
                yield from parts(function(*args))
            return
        if cluster is None:  # this process works too, beside n_workers - 1 processes
            yield from run_local(tasks, min(n_workers, len(tasks)), _worker_task)
            return
        # a cluster: every slot (joblib's Dask setting)
        parallel = joblib.Parallel(n_jobs=None, return_as="generator_unordered")
        for frames in parallel(joblib.delayed(_worker_task)(function, args, os.getpid())
                               for function, args in tasks):
            yield from frames


def auto_workers(n_rows: int, cores: int) -> int:
    """Processes (this one included) for ``n_rows`` rows when ``--workers`` is not given: one
    per core, but one per :data:`ROWS_PER_WORKER` rows at most, since a worker process costs
    2-3 s of CPU to start (a handful of photos is done sooner here alone)."""
    return max(1, min(cores, n_rows // ROWS_PER_WORKER))


def _worker_task(function: Callable, args: Sequence, parent_pid: int) -> list[pd.DataFrame]:
    """A task on a worker process, which ends when the process that started the run dies."""
    _stop_with_parent(parent_pid)
    return as_tables(function(*args))


# -- worker processes -----------------------------------------------------------------------------
_WORKER: dict = {}  # per process: {"options": ExtractOptions, "extractor": PoseExtractor, "pid"}


def worker_extractor(options: ExtractOptions) -> PoseExtractor:
    """This process's image-mode extractor for ``options``, created on first use, then reused
    (MediaPipe graphs cannot be pickled)."""
    if _WORKER.get("options") != options or _WORKER.get("pid") != os.getpid():
        close_worker_extractor()
        _WORKER.update(options=options, extractor=options.extractor(True), pid=os.getpid())
    return _WORKER["extractor"]


def close_worker_extractor() -> None:
    """Release this process's cached extractor (the main process's, after a 1-worker run)."""
    extractor = _WORKER.pop("extractor", None)
    if extractor is not None and _WORKER.get("pid") == os.getpid():
        extractor.close()
    _WORKER.clear()


def _in_cluster_worker() -> bool:
    """Whether this process is a Dask worker (whose life its nanny manages)."""
    if "distributed" not in sys.modules:
        return False
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def _stop_with_parent(parent_pid: int) -> None:
    """In a worker process: end it when the process that started the run dies (even by
    ``kill -9``), instead of waiting minutes for its idle timeout (Linux only)."""
    if os.getpid() == parent_pid or _WORKER.get("watched") == os.getpid():
        return
    if os.getppid() != parent_pid and _in_cluster_worker():
        return  # a cluster's worker: its nanny, not the run's process, is its parent
    _WORKER["watched"] = os.getpid()
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent is already gone
        os._exit(1)
