"""Image folder -> landmark table: scan, parallel BlazePose extraction, resume, per-class report.

Layout: ``DATA_DIR/<class>/**/<image>``; the class is the first-level folder name, sub-folders
below it are allowed. The table (schema in :mod:`poseclf.pose.table`) gets three extra columns:
``file_size`` (bytes) and ``file_mtime`` (seconds since the epoch) to resume, and ``extractor``
(the BlazePose settings of the row) so that changed options re-extract.

This module plans the work (one unit per image, one task per batch of images) and
:func:`poseclf.tables.engine.run_plan` runs it: in parallel on local processes or a Dask cluster,
saved as batches complete, resumable. Rows are always written in scan order, so the table is the
same for any number of workers.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ImageReadError, InputError
from ..files import check_input_dir
from ..pose.extraction import ExtractOptions
from ..pose.image_paths import IMAGE_EXTENSIONS, is_image_path
from ..pose.images import read_image
from ..pose.landmarks import NO_PERSON, Pose
from ..pose.poses import Poses
from ..pose.table import TABLE_COLUMNS, UNREADABLE
from ..pose.table import check_table as _check_table
from .engine import DEFAULT_CHECKPOINT_S, Plan, Task, run_plan, worker_extractor
from .review import class_summary

logger = logging.getLogger(__name__)

#: Extra columns written by :func:`extract_folder` (after the schema's columns).
RESUME_COLUMNS: tuple[str, ...] = ("file_size", "file_mtime", "extractor")
MAX_BATCH_SIZE = 32  # images per task: ~0.6 s of BlazePose Full, amortises dispatch
BATCHES_PER_WORKER = 8  # at least this many tasks per worker, for load balance and progress


@dataclass(frozen=True)
class ImageItem:
    """One image found by :func:`scan_folder`; ``path`` is relative to the folder, POSIX style."""

    path: str
    label: str
    file_size: int
    file_mtime: float


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
    (see :data:`poseclf.pose.image_paths.IMAGE_EXTENSIONS`, case-insensitive) are skipped and
    counted. Files directly in ``root`` have no class and count as skipped non-images.

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
def extract_batch(root: str, items: Sequence[ImageItem], options: ExtractOptions) -> pd.DataFrame:
    """Extract one batch of images on the calling process; one row per item, in order.

    Unreadable files get ``reason="unreadable: <why>"``, images without a person
    ``reason="no_person"``; neither raises.
    """
    extractor = worker_extractor(options)
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


# -- the run ------------------------------------------------------------------------------------
def _batches(items: Sequence, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def default_batch_size(n_items: int, n_workers: int) -> int:
    """Enough batches for every worker to get several, at most :data:`MAX_BATCH_SIZE` each."""
    return int(np.clip(n_items // max(1, n_workers * BATCHES_PER_WORKER), 1, MAX_BATCH_SIZE))


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
        :mod:`poseclf.tables.cluster`; needs ``pip install "poseclf[cluster]"``). The workers read
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
    root = str(scan.root.absolute())  # the same path on every worker (and cwd)

    def tasks(todo: list[int], n_workers: int, in_process: bool) -> list[Task]:
        size = batch_size or default_batch_size(len(todo), n_workers)
        return [(extract_batch, (root, batch, options))
                for batch in _batches([scan.items[i] for i in todo], size)]

    expected = pd.DataFrame([asdict(item) for item in scan.items])
    plan = Plan(expected, [[item.path] for item in scan.items], tasks, _empty_rows,
                _with_extra_columns, "img", "%d of %d images extracted (%d reused)")
    run = run_plan(plan, options, table, workers=workers, cluster=cluster,
                   checkpoint_s=checkpoint_s, resume=resume, progress=progress)
    previous, final = run.previous, run.final
    paths = set(expected["path"])
    return ExtractionReport(
        table=table, n_images=len(scan.items), n_extracted=run.n_added, n_reused=len(run.kept),
        n_dropped=0 if previous is None else int((~previous["path"].isin(paths)).sum()),
        skipped_hidden=scan.skipped_hidden, skipped_non_image=scan.skipped_non_image,
        empty_classes=list(scan.empty_classes), per_class=class_summary(final),
        failures=final.loc[~final["detected"], ["path", "label", "reason"]]
        .reset_index(drop=True),
        elapsed_s=time.monotonic() - start, unreadable_folders=list(scan.unreadable_folders),
    )


def _check_run_settings(workers: int | None, batch_size: int | None,
                        checkpoint_s: float) -> None:
    """Refuse settings that would make a run do nothing or never save."""
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: give 1 or more worker processes")
    if batch_size is not None and batch_size < 1:
        raise InputError(f"--batch-size {batch_size}: give 1 or more images per task")
    if not checkpoint_s >= 0:  # also NaN
        raise InputError(f"--checkpoint-seconds {checkpoint_s}: give 0 or more seconds")


def _with_extra_columns(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with exactly the schema's columns plus :data:`RESUME_COLUMNS`, in that order."""
    df = _check_table(df) if len(df) else df
    for column in RESUME_COLUMNS:
        if column not in df.columns:
            df[column] = np.nan
    return df[list(TABLE_COLUMNS + RESUME_COLUMNS)].reset_index(drop=True)
