"""Image folder -> landmark table: scan, parallel BlazePose extraction, resume, per-class report.

Layout: ``DATA_DIR/<class>/**/<image>``; the class is the first-level folder name, sub-folders
below it are allowed. The table (schema in :mod:`poseclf.table`) gets three extra columns:
``file_size`` (bytes) and ``file_mtime`` (seconds since the epoch) to resume, and ``extractor``
(the BlazePose settings of the row) so that changed options re-extract.

Parallelism is :class:`joblib.Parallel` over batches of paths. Each worker process creates one
:class:`~poseclf.extraction.PoseExtractor` lazily, the first time it gets a batch, and reuses it
for every later batch (MediaPipe graphs cannot be pickled). Because the work unit is a plain
function of picklable arguments, ``joblib.parallel_config(backend="dask")`` runs it on a cluster.
Rows are always written in scan order, so the table is the same for any number of workers.

Rows are saved to the table as batches complete, at most every ``checkpoint_s`` seconds, with the
checkpointer of :mod:`poseclf.checkpoint`: an interrupted run keeps what it saved, and re-running
the same call extracts only what is missing or changed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .checkpoint import (
    DEFAULT_CHECKPOINT_S,
    Checkpointer,
    ImageItem,
    checkpointed,
    read_previous,
    reusable_rows,
)
from .cluster import cluster_or_local
from .errors import ImageReadError, InputError
from .files import check_input_dir
from .images import IMAGE_EXTENSIONS, is_image_path, read_image
from .landmarks import NO_PERSON, Pose
from .poses import Poses
from .table import TABLE_COLUMNS
from .table import check_table as _check_table

logger = logging.getLogger(__name__)

#: Extra columns written by :func:`extract_folder` (after the schema's columns).
RESUME_COLUMNS: tuple[str, ...] = ("file_size", "file_mtime", "extractor")
UNREADABLE = "unreadable"  # reason prefix of a file that is not a readable image
MAX_BATCH_SIZE = 32  # images per task: ~0.6 s of BlazePose Full, amortises dispatch
BATCHES_PER_WORKER = 8  # at least this many tasks per worker, for load balance and progress


@dataclass(frozen=True)
class ExtractOptions:
    """BlazePose settings of an extraction run (picklable; shipped to the workers).

    Parameters mirror :class:`~poseclf.extraction.PoseExtractor`.
    """

    model_complexity: int = 1
    min_detection_confidence: float = 0.5
    backend: str = "solutions"
    task_path: str | None = None

    @property
    def tag(self) -> str:
        """Short text stored in the ``extractor`` column, e.g. ``solutions:1:0.5``."""
        base = f"{self.backend}:{self.model_complexity}:{self.min_detection_confidence:g}"
        return base if self.task_path is None else f"{base}:{Path(self.task_path).name}"

    def extractor(self, static_image_mode: bool = True):
        """A new :class:`~poseclf.extraction.PoseExtractor` with these settings."""
        from .extraction import PoseExtractor

        return PoseExtractor(
            static_image_mode=static_image_mode,
            model_complexity=self.model_complexity,
            min_detection_confidence=self.min_detection_confidence,
            backend=self.backend,
            task_path=self.task_path,
        )


# -- scanning ------------------------------------------------------------------------------------
@dataclass
class FolderScan:
    """What :func:`scan_folder` found: the images in scan order and what it skipped."""

    root: Path
    items: list[ImageItem]
    skipped_hidden: int = 0
    skipped_non_image: int = 0
    empty_classes: list[str] = field(default_factory=list)
    unreadable_folders: list[str] = field(default_factory=list)
    root_images: int = 0

    @property
    def classes(self) -> list[str]:
        return sorted({item.label for item in self.items})


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def scan_folder(root: str | os.PathLike) -> FolderScan:
    """List the images of ``root/<class>/**`` in a deterministic order (class, then path).

    Hidden files and folders (name starting with ``.``) and files without an image extension
    (see :data:`poseclf.images.IMAGE_EXTENSIONS`, case-insensitive) are skipped and counted.
    Files directly in ``root`` have no class and count as skipped non-images.

    Folders that cannot be listed (permissions) are recorded in ``unreadable_folders``.

    Raises
    ------
    InputError
        ``root`` is not a readable folder, or holds no image in a class sub-folder.
    """
    root = check_input_dir(root, what="folder (DATA_DIR/<class>/<image>)")
    scan = FolderScan(root=root, items=[])

    def unreadable(err: OSError) -> None:
        folder = Path(err.filename) if err.filename else root
        scan.unreadable_folders.append(folder.relative_to(root).as_posix()
                                       if folder.is_relative_to(root) else str(folder))

    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if _is_hidden(entry.name):
            scan.skipped_hidden += 1
            continue
        if not entry.is_dir():
            scan.skipped_non_image += 1
            scan.root_images += is_image_path(entry)
            continue
        found = 0
        for dirpath, dirnames, filenames in os.walk(entry, onerror=unreadable):
            hidden_dirs = [d for d in dirnames if _is_hidden(d)]
            scan.skipped_hidden += len(hidden_dirs)
            dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
            for name in sorted(filenames):
                if _is_hidden(name):
                    scan.skipped_hidden += 1
                    continue
                full = Path(dirpath) / name
                if not is_image_path(full) or not full.is_file():
                    scan.skipped_non_image += 1
                    continue
                stat = full.stat()
                rel = full.relative_to(root).as_posix()
                scan.items.append(ImageItem(rel, entry.name, stat.st_size, stat.st_mtime))
                found += 1
        if not found and entry.name not in scan.unreadable_folders:
            scan.empty_classes.append(entry.name)
    scan.items.sort(key=lambda item: (item.label, item.path))
    for folder in scan.unreadable_folders:
        logger.warning("%s: cannot list the folder %s (permission denied?); its images are "
                       "not in the table", root, folder)
    if not scan.items:
        raise InputError(_no_images_message(scan))
    return scan


def _no_images_message(scan: FolderScan) -> str:
    extensions = ", ".join(sorted(IMAGE_EXTENSIONS))
    if scan.root_images:
        return (f"{scan.root}: {scan.root_images} image(s) directly in the folder but none in a "
                f"class sub-folder: put the photos in one sub-folder per class "
                f"({scan.root}/<class>/photo.jpg)")
    if scan.unreadable_folders:
        return (f"{scan.root}: no readable image; cannot list "
                f"{', '.join(scan.unreadable_folders)}: check the folder permissions")
    return (f"{scan.root}: no image found in a class sub-folder ({scan.root}/<class>/photo.jpg; "
            f"image types: {extensions})")


# -- the work unit: a batch of paths on one worker --------------------------------------------
_WORKER: dict = {}  # per process: {"options": ExtractOptions, "extractor": PoseExtractor, "pid"}


def _worker_extractor(options: ExtractOptions):
    """This process's extractor for ``options``, created on first use and then reused."""
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


def extract_batch(root: str, items: Sequence[ImageItem], options: ExtractOptions,
                  parent_pid: int | None = None) -> pd.DataFrame:
    """Extract one batch of images on the calling process; one row per item, in order.

    Unreadable files get ``reason="unreadable: <why>"``, images without a person
    ``reason="no_person"``; neither raises. ``parent_pid``: the process that started the run
    (a worker process ends when it dies).
    """
    if parent_pid is not None:
        _stop_with_parent(parent_pid)
    extractor = _worker_extractor(options)
    poses: list[Pose | None] = []
    sizes, reasons = np.zeros((len(items), 2), np.float32), []
    for i, item in enumerate(items):
        try:
            image = read_image(Path(root) / item.path)
        except ImageReadError as err:
            why = str(err).removeprefix(f"{Path(root) / item.path}: ")  # the row names the file
            poses.append(None)
            reasons.append(f"{UNREADABLE}: {why}")
            continue
        pose = extractor(image)
        poses.append(pose)
        sizes[i] = image.shape[1], image.shape[0]
        reasons.append("" if pose is not None else NO_PERSON)
    return Poses.from_poses(poses, sizes).to_table(
        [item.path for item in items], [item.label for item in items], reasons,
        _resume_columns(items, options.tag))


def _resume_columns(items: Sequence[ImageItem] = (), tag: str = "") -> dict[str, pd.Series]:
    """The columns that let a later run reuse a row: the file's size and time, the extractor."""
    return {"file_size": pd.Series([item.file_size for item in items], dtype="int64"),
            "file_mtime": pd.Series([item.file_mtime for item in items], dtype="float64"),
            "extractor": pd.Series([tag] * len(items), dtype=object)}


def _empty_rows() -> pd.DataFrame:
    return Poses.empty().to_table([], [], [], _resume_columns())


# -- the report ---------------------------------------------------------------------------------
@dataclass
class ExtractionReport:
    """Outcome of :func:`extract_folder`; ``str(report)`` is the summary the CLI prints.

    Attributes
    ----------
    table : Path
        The table written.
    per_class : DataFrame
        Index = class; columns ``images``, ``detected``, ``no_person``, ``unreadable``
        over every row of the table (reused and new).
    failures : DataFrame
        ``path``, ``label``, ``reason`` of every row that has no pose.
    """

    table: Path
    n_images: int
    n_extracted: int
    n_reused: int
    n_dropped: int
    skipped_hidden: int
    skipped_non_image: int
    empty_classes: list[str]
    per_class: pd.DataFrame
    failures: pd.DataFrame
    elapsed_s: float
    interrupted: bool = False
    unreadable_folders: list[str] = field(default_factory=list)

    @property
    def images_per_s(self) -> float:
        return self.n_extracted / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def __str__(self) -> str:
        state = "STOPPED before the end; re-run to finish" if self.interrupted else "done"
        lines = [
            f"{self.table}: {self.n_images} images ({state}); extracted {self.n_extracted} "
            f"in {self.elapsed_s:.1f} s ({self.images_per_s:.1f} images/s), "
            f"reused {self.n_reused}, dropped {self.n_dropped} rows of files no longer present",
            f"skipped {self.skipped_hidden} hidden and {self.skipped_non_image} non-image files",
        ]
        if self.empty_classes:
            lines.append("empty class folders (no images): " + ", ".join(self.empty_classes))
        if self.unreadable_folders:
            lines.append("folders that could not be listed (permissions; their images are not "
                         "in the table): " + ", ".join(self.unreadable_folders))
        if len(self.per_class):
            lines.append(self.per_class.to_string())
        if len(self.failures):
            lines.append(f"{len(self.failures)} rows without a pose:")
            shown = self.failures.head(MAX_FAILURES_SHOWN)
            lines.extend(f"  {r.path}: {r.reason}" for r in shown.itertuples())
            if len(self.failures) > MAX_FAILURES_SHOWN:
                lines.append(f"  ... {len(self.failures) - MAX_FAILURES_SHOWN} more "
                             "(rows with detected == False in the table)")
        return "\n".join(lines)


MAX_FAILURES_SHOWN = 20  # failure lines in the printed summary; the table has them all


def class_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per-class counts of a landmark table: images, detected, no_person, unreadable."""
    reason = df["reason"].fillna("").astype(str)
    counts = pd.DataFrame({
        "label": df["label"].astype(str),
        "images": 1,
        "detected": df["detected"].astype(bool).astype(int),
        "no_person": (reason == NO_PERSON).astype(int),
        "unreadable": reason.str.startswith(UNREADABLE).astype(int),
    })
    return counts.groupby("label", sort=True).sum()


# -- the run ------------------------------------------------------------------------------------
def _batches(items: Sequence, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def default_batch_size(n_items: int, n_workers: int) -> int:
    """Enough batches for every worker to get several, at most :data:`MAX_BATCH_SIZE` each."""
    return int(np.clip(n_items // max(1, n_workers * BATCHES_PER_WORKER), 1, MAX_BATCH_SIZE))


def _stop_with_parent(parent_pid: int) -> None:
    """In a worker process: end it when the process that started the run dies (even by
    ``kill -9``), instead of waiting minutes for its idle timeout (Linux only)."""
    if os.getpid() == parent_pid or _WORKER.get("watched") == os.getpid():
        return
    _WORKER["watched"] = os.getpid()
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent is already gone
        os._exit(1)


def extract_folder(
    data_dir: str | os.PathLike,
    table: str | os.PathLike,
    *,
    options: ExtractOptions | None = None,
    workers: int | None = None,
    batch_size: int | None = None,
    checkpoint_s: float = DEFAULT_CHECKPOINT_S,
    resume: bool = True,
    progress: bool = True,
    cluster: str | None = None,
) -> ExtractionReport:
    """Extract BlazePose landmarks of every image of ``data_dir/<class>/**`` into ``table``.

    Parameters
    ----------
    data_dir : path
        One sub-folder per class; nested folders allowed.
    table : path
        ``.csv`` or ``.parquet``. When it exists and ``resume`` is true, its rows for files
        with the same path, label, size, modification time and extractor settings are kept
        and only the other images are extracted.
    options : ExtractOptions, optional
        BlazePose settings (default: Full model, detection confidence 0.5).
    workers : int, optional
        Worker processes (default: all cores). 1 runs in this process.
    batch_size : int, optional
        Images per task (default: :func:`default_batch_size`).
    checkpoint_s : float, default=10
        Minimum seconds between saves of the table while running (0: after every batch).
    resume : bool, default=True
        False re-extracts everything.
    progress : bool, default=True
        Show a tqdm progress bar (images/s and ETA).
    cluster : str, optional
        Run the batches on a Dask cluster instead of local processes (``workers`` is then
        ignored): a scheduler address ``tcp://host:8786`` or ``local:N`` (see
        :mod:`poseclf.cluster`; needs ``pip install "poseclf[cluster]"``). The workers read
        the images themselves: ``data_dir`` must exist under the same path on every worker.

    Returns
    -------
    ExtractionReport

    Raises
    ------
    KeyboardInterrupt
        After saving every row extracted so far (re-run to finish).
    """
    start = time.monotonic()
    options = options or ExtractOptions()
    table = Path(table)
    _check_run_settings(workers, batch_size, checkpoint_s)
    scan = scan_folder(data_dir)
    for name in scan.empty_classes:
        logger.warning("%s: class folder %r has no images", scan.root, name)
    order = {item.path: i for i, item in enumerate(scan.items)}

    previous = read_previous(table)  # kept until redone, even without resume
    if previous is not None and resume:
        reusable = reusable_rows(previous, scan.items, options.tag)
        kept = previous[reusable.to_numpy()]
        kept = kept[~kept["path"].duplicated()]
    else:
        kept = _empty_rows()
    n_dropped = 0 if previous is None else int((~previous["path"].isin(order.keys())).sum())
    done = set(kept["path"])
    todo = [item for item in scan.items if item.path not in done]
    kept = _with_extra_columns(kept)

    with cluster_or_local(cluster if todo else None) as slots:  # nothing to do: no cluster
        n_workers = slots or workers or joblib.cpu_count()
        # a cluster: every slot (joblib's Dask setting); local: no more processes than batches
        size = batch_size or default_batch_size(len(todo), n_workers)
        n_jobs = None if cluster else min(n_workers, -(-len(todo) // size))
        report = _run_batches(scan, todo, kept, previous, n_dropped, order, table, options,
                              size, n_jobs, checkpoint_s, progress, start)
    return report


def _check_run_settings(workers: int | None, batch_size: int | None,
                        checkpoint_s: float) -> None:
    """Refuse settings that would make a run do nothing or never save."""
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: give 1 or more worker processes")
    if batch_size is not None and batch_size < 1:
        raise InputError(f"--batch-size {batch_size}: give 1 or more images per task")
    if not checkpoint_s >= 0:  # also NaN
        raise InputError(f"--checkpoint-seconds {checkpoint_s}: give 0 or more seconds")


def _run_batches(scan: FolderScan, todo: list[ImageItem], kept: pd.DataFrame,
                 previous: pd.DataFrame | None, n_dropped: int, order: dict[str, int],
                 table: Path, options: ExtractOptions, size: int, n_jobs: int | None,
                 checkpoint_s: float, progress: bool, start: float) -> ExtractionReport:
    """The extraction loop of :func:`extract_folder` under the current joblib backend."""
    saver = Checkpointer(table, kept, order, checkpoint_s, previous, empty=_empty_rows)
    bar = tqdm(total=len(todo), unit="img", desc="extract", disable=not progress,
               dynamic_ncols=True)
    done = f"%d of {len(todo)} images extracted (%d reused)"
    try:
        with checkpointed(saver, lambda: done % (saver.n_added, len(kept))) as run:
            if todo:
                parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
                root = str(scan.root.absolute())  # the same path on every worker (and cwd)
                tasks = (joblib.delayed(extract_batch)(root, batch, options, os.getpid())
                         for batch in _batches(todo, size))
                for frame in parallel(tasks):
                    saver.add(frame)
                    bar.update(len(frame))
    finally:
        bar.close()
        close_worker_extractor()
    final = run.final
    return ExtractionReport(
        table=table, n_images=len(scan.items), n_extracted=saver.n_added, n_reused=len(kept),
        n_dropped=n_dropped, skipped_hidden=scan.skipped_hidden,
        skipped_non_image=scan.skipped_non_image, empty_classes=list(scan.empty_classes),
        per_class=class_summary(final),
        failures=final.loc[~final["detected"], ["path", "label", "reason"]]
        .reset_index(drop=True),
        elapsed_s=time.monotonic() - start,
        unreadable_folders=list(scan.unreadable_folders),
    )


def _with_extra_columns(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with exactly the schema's columns plus :data:`RESUME_COLUMNS`, in that order."""
    df = _check_table(df) if len(df) else df
    for column in RESUME_COLUMNS:
        if column not in df.columns:
            df[column] = np.nan
    return df[list(TABLE_COLUMNS + RESUME_COLUMNS)].reset_index(drop=True)
