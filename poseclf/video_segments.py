"""Labelled video -> landmark table: the frames inside labelled segments become training rows.

A segments file is a CSV with ``start_frame,end_frame,label`` (0-based, inclusive) or
``start_s,end_s,label`` (seconds; a frame belongs to the segment when its time
``frame / fps`` lies in ``[start_s, end_s]``). Frames are extracted in video (tracking) mode,
with a fresh extractor per segment so that tracking never crosses a segment boundary.
Rows are named ``<video name>#<frame, 6 digits>`` and carry ``frame`` and ``time_s`` columns.

:func:`extract_videos` spreads several videos and segments over worker processes or a Dask
cluster (:mod:`poseclf.cluster`): one task per segment, so tracking stays within a segment.
:func:`extract_videos_to_table` saves the table as segments finish, with the checkpoint and
resume rule of :mod:`poseclf.checkpoint`: an interrupted run keeps its finished segments, and
re-running it extracts only the segments that are missing or changed.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
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
from .dataset import ExtractOptions
from .errors import InputError, SegmentsError
from .landmarks import NO_PERSON
from .poses import Poses
from .table import TABLE_COLUMNS
from .video_sources import VideoInfo, iter_selected_frames

logger = logging.getLogger(__name__)

VIDEO_COLUMNS: tuple[str, ...] = ("frame", "time_s")  # extra columns of video rows
#: Bookkeeping columns to resume: the video file's size and mtime, where tracking started
#: (the segment's first frame), the stride and the BlazePose settings.
VIDEO_RESUME_COLUMNS: tuple[str, ...] = ("file_size", "file_mtime", "segment_start", "stride",
                                         "extractor")
VIDEO_TABLE_COLUMNS: tuple[str, ...] = TABLE_COLUMNS + VIDEO_COLUMNS + VIDEO_RESUME_COLUMNS
FRAME_DIGITS = 6  # "sit.mp4#000123": zero-padded so that paths sort in frame order
_TIME_EPS = 1e-9  # s: a segment given in seconds includes frames exactly on its bounds


@dataclass(frozen=True)
class Segment:
    """Frames ``start_frame`` to ``end_frame`` (inclusive, 0-based) labelled ``label``."""

    start_frame: int
    end_frame: int
    label: str

    def frames(self, stride: int = 1) -> range:
        return range(self.start_frame, self.end_frame + 1, stride)


def frame_path(video: str | os.PathLike, frame: int) -> str:
    """Row path of a video frame: ``sit.mp4#000123``."""
    return f"{Path(video).name}#{frame:0{FRAME_DIGITS}d}"


def parse_frame_path(path: str) -> tuple[str, int] | None:
    """``("sit.mp4", 123)`` for ``"sit.mp4#000123"``, None for an image path."""
    name, sep, frame = str(path).rpartition("#")
    if not sep or not frame.isdigit():
        return None
    return name, int(frame)


def check_segments(segments: Iterable[Segment], n_frames: int | None = None) -> list[Segment]:
    """Sorted segments; rejects empty or overlapping ones, clips those beyond the video."""
    result = sorted(segments, key=lambda s: s.start_frame)
    for seg in result:
        if seg.start_frame < 0 or seg.end_frame < seg.start_frame:
            raise ValueError(f"segment {seg}: needs 0 <= start_frame <= end_frame")
    for a, b in zip(result, result[1:]):  # noqa: B905 (lengths differ by one on purpose)
        if b.start_frame <= a.end_frame:
            raise ValueError(f"segments overlap: {a} and {b}; a frame can have one label only")
    if n_frames is not None:
        clipped = []
        for seg in result:
            if seg.start_frame >= n_frames:
                logger.warning("segment %s starts after the last frame (%d); ignored",
                               seg, n_frames - 1)
                continue
            if seg.end_frame >= n_frames:
                logger.warning("segment %s clipped to the last frame (%d)", seg, n_frames - 1)
                seg = Segment(seg.start_frame, n_frames - 1, seg.label)
            clipped.append(seg)
        result = clipped
    return result


def read_segments(path: str | os.PathLike, fps: float | None = None) -> list[Segment]:
    """Read a segments CSV (frames, or seconds when ``fps`` is given for the conversion).

    Raises
    ------
    SegmentsError
        Unreadable file, missing columns, seconds without ``fps``, empty or overlapping
        segments; the message names the file.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise SegmentsError(f"{path}: cannot read the segments file ({err}); write it as CSV "
                            "with the columns start_frame,end_frame,label") from err
    columns = set(df.columns)
    if {"start_frame", "end_frame", "label"} <= columns:
        start, end, in_seconds = "start_frame", "end_frame", False
    elif {"start_s", "end_s", "label"} <= columns:
        if not fps:
            raise SegmentsError(f"{path}: segments in seconds need the video's frame rate")
        start, end, in_seconds = "start_s", "end_s", True
    else:
        raise SegmentsError(
            f"{path}: a segments file needs the columns start_frame,end_frame,label "
            f"(or start_s,end_s,label); found {', '.join(map(str, df.columns))}"
        )
    segments = [_segment_of_row(path, i, row[start], row[end], row["label"], in_seconds, fps)
                for i, row in enumerate(df.to_dict("records"))]
    if not segments:
        raise SegmentsError(f"{path}: no segment in the file; add rows "
                            f"{start},{end},label")
    try:
        return check_segments(segments)
    except ValueError as err:
        raise SegmentsError(f"{path}: {err}") from err


def _segment_of_row(path: Path, index: int, start: str, end: str, label: str,
                    in_seconds: bool, fps: float | None) -> Segment:
    """One CSV row as a Segment; a bad cell is a SegmentsError naming the file and row."""
    where = f"{path}: row {index + 1}"
    if not str(label).strip():
        raise SegmentsError(f"{where}: empty label; give every segment its class")
    bounds = []
    for name, text in (("start", start), ("end", end)):
        try:
            value = float(str(text).strip())
        except ValueError:
            value = math.nan
        whole = value == int(value) if math.isfinite(value) else False
        if not math.isfinite(value) or value < 0 or (not in_seconds and not whole):
            unit = "seconds (a number >= 0)" if in_seconds else "a frame number (an integer >= 0)"
            raise SegmentsError(f"{where}: {name} {text!r} is not {unit}")
        bounds.append(value)
    if in_seconds:
        first = math.ceil(bounds[0] * fps - _TIME_EPS)
        last = math.floor(bounds[1] * fps + _TIME_EPS)
    else:
        first, last = int(bounds[0]), int(bounds[1])
    if last < first:
        raise SegmentsError(f"{where}: ends before it starts ({start} > {end}); swap them")
    return Segment(first, last, str(label).strip())


def write_segments(segments: Sequence[Segment], path: str | os.PathLike) -> Path:
    """Write segments as ``start_frame,end_frame,label`` CSV."""
    path = Path(path)
    pd.DataFrame([(s.start_frame, s.end_frame, s.label) for s in segments],
                 columns=["start_frame", "end_frame", "label"]).to_csv(path, index=False)
    return path


def segments_from_annotations(
    json_path: str | os.PathLike, video_name: str, labels: Iterable[str] | None = None
) -> list[Segment]:
    """Segments of ``video_name`` in an ``annotations.json`` (``{video: {"segments": [...]}}``).

    Parameters
    ----------
    labels : iterable of str, optional
        Keep only segments with these labels (e.g. ``{"sitting", "standing"}`` drops
        ``transition`` and ``no_person``).
    """
    data = json.loads(Path(json_path).read_text())
    if video_name not in data:
        raise KeyError(f"{json_path}: no video {video_name!r}; it has {', '.join(data)}")
    wanted = None if labels is None else set(labels)
    return check_segments(
        Segment(int(s["start"]), int(s["end"]), str(s["label"]))
        for s in data[video_name]["segments"]
        if wanted is None or s["label"] in wanted
    )


def extract_video_segments(
    video: str | os.PathLike,
    segments: Sequence[Segment],
    *,
    stride: int = 1,
    options: ExtractOptions | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """One table row per extracted frame of every segment (every ``stride``-th frame).

    Parameters
    ----------
    video : path
    segments : sequence of Segment
    stride : int, default=1
        Keep every ``stride``-th frame of each segment, starting at its first frame.
    options : poseclf.dataset.ExtractOptions, optional
        BlazePose settings; the extractor runs in video (tracking) mode.
    progress : bool, default=True

    Returns
    -------
    DataFrame
        The landmark-table columns plus :data:`VIDEO_COLUMNS` and
        :data:`VIDEO_RESUME_COLUMNS`, in frame order.
    """
    _check_stride(stride)
    options = options or ExtractOptions()
    info = VideoInfo.from_video_path(video)
    segments = check_segments(segments, info.total_frames)
    bar = _frames_bar([(0, info.source, seg) for seg in segments], stride, progress,
                      Path(info.source).name)
    try:
        frames = [rows for _, rows in _iter_segment_rows(info, segments, stride, options, bar)]
    finally:
        bar.close()
    return _stamped(_concat(frames), _file_stamp(info.source))


def extract_segment(video: str, segment: Segment, stride: int, options) -> pd.DataFrame:
    """Rows of one segment: the work unit of :func:`extract_videos` (runs on a worker).

    The video is decoded from its start (``grab`` only, no colour conversion) up to the
    segment: OpenCV's frame seek is not exact for every file (it lands a few frames off in
    ``pushup2.mp4`` of the development data), and frame numbers must be.
    """
    return extract_video_segments(video, [segment], stride=stride, options=options,
                                  progress=False)


def extract_videos(
    jobs: Sequence[tuple[str | os.PathLike, Sequence[Segment]]],
    *,
    stride: int = 1,
    options: ExtractOptions | None = None,
    workers: int = 1,
    cluster: str | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Rows of the segments of several videos, in (video, frame) order.

    Parameters
    ----------
    jobs : sequence of (video path, segments)
    stride, options
        As in :func:`extract_video_segments`.
    workers : int, default=1
        Local worker processes; 1 decodes each video once, in this process.
    cluster : str, optional
        Dask cluster (``tcp://host:8786`` or ``local:N``, see :mod:`poseclf.cluster`):
        ``workers`` is ignored and every segment is a task; the videos must exist under the
        same path on the workers.
    progress : bool, default=True
        A progress bar over the frames, fed by finished segments when parallel.

    Returns
    -------
    DataFrame
        As :func:`extract_video_segments`, the videos one after the other.

    See Also
    --------
    extract_videos_to_table : the same, saved as it goes and resumable.
    """
    options = options or ExtractOptions()
    tasks, videos = _plan(jobs, stride)
    results: dict[tuple[int, int], pd.DataFrame] = {}
    bar = _frames_bar(tasks, stride, progress)
    try:
        for index, segment, rows in _segment_results(tasks, videos, stride, options, workers,
                                                     cluster, bar):
            results[(index, segment.start_frame)] = rows
    finally:
        bar.close()
    return _concat([results[key] for key in sorted(results)])


@dataclass
class VideoExtractionReport:
    """Outcome of :func:`extract_videos_to_table`; ``str(report)`` is what the CLI prints.

    ``per_label`` has one row per label with the ``frames`` and ``detected`` counts of the
    whole table (reused and new rows).
    """

    table: Path
    videos: list[str]
    n_segments: int
    n_frames: int
    n_extracted: int
    n_reused: int
    n_redone_segments: int
    n_dropped: int
    per_label: pd.DataFrame
    elapsed_s: float
    interrupted: bool = False

    def __str__(self) -> str:
        state = "INTERRUPTED, re-run to finish" if self.interrupted else "done"
        lines = [
            f"{self.table}: {self.n_frames} frames of {', '.join(self.videos)} in "
            f"{self.n_segments} segments ({state}); extracted {self.n_extracted} in "
            f"{self.elapsed_s:.1f} s, reused {self.n_reused}",
        ]
        if self.n_redone_segments:
            lines.append(f"redid {self.n_redone_segments} segments whose video file, label, "
                         "stride or extractor settings changed")
        if self.n_dropped:
            lines.append(f"dropped {self.n_dropped} rows of the previous table (replaced, or "
                         "no longer in the segments)")
        if len(self.per_label):
            lines.append(self.per_label.to_string())
        return "\n".join(lines)


def extract_videos_to_table(
    jobs: Sequence[tuple[str | os.PathLike, Sequence[Segment]]],
    table: str | os.PathLike,
    *,
    stride: int = 1,
    options: ExtractOptions | None = None,
    workers: int = 1,
    cluster: str | None = None,
    checkpoint_s: float = DEFAULT_CHECKPOINT_S,
    resume: bool = True,
    progress: bool = True,
) -> VideoExtractionReport:
    """:func:`extract_videos` into ``table``, saved as segments finish and resumable.

    A segment is the unit of work and of reuse: tracking starts afresh at its first frame,
    so a half-done segment cannot be continued and only finished segments are saved.

    Parameters
    ----------
    jobs, stride, options, workers, cluster, progress
        As in :func:`extract_videos`.
    table : path
        ``.csv`` or ``.parquet``. When it exists and ``resume`` is true, a segment whose
        every frame has a row made from the same video file (name, size, modification time),
        with the same label, segment start, stride and extractor settings is kept; the other
        segments are extracted. Rows of other videos or segments are dropped.
    checkpoint_s : float, default=10
        Minimum seconds between saves of the table while running (0: after every segment).
    resume : bool, default=True
        False re-extracts everything.

    Returns
    -------
    VideoExtractionReport

    Raises
    ------
    KeyboardInterrupt
        After saving every segment finished so far (re-run to finish).
    """
    start = time.monotonic()
    options = options or ExtractOptions()
    table = Path(table)
    tasks, videos = _plan(jobs, stride)
    paths = [frame_path(path, f) for _, path, seg in tasks for f in seg.frames(stride)]
    order = {path: rank for rank, path in enumerate(paths)}
    if len(order) < len(paths):
        repeated = next(path for path in paths if paths.count(path) > 1)
        raise SegmentsError(f"two videos with the same file name would both have a row "
                         f"{repeated}: give each video a distinct file name")
    previous = read_previous(table)  # its rows stay until redone, even without resume
    kept, todo, n_redone = _reusable_segments(previous if resume else None, tasks, videos,
                                              stride, options.tag)
    if n_redone:
        logger.warning("%s: re-extracting %d segments whose video file, label, stride or "
                       "extractor settings changed", table, n_redone)
    saver = Checkpointer(table, kept, order, checkpoint_s, previous, empty=_empty_table)
    bar = _frames_bar(todo, stride, progress)
    done = f"%d of {len(paths)} frames extracted (finished segments; %d reused)"
    try:
        with checkpointed(saver, lambda: done % (saver.n_added, len(kept))) as run:
            for _, _, rows in _segment_results(todo, videos, stride, options, workers, cluster,
                                               bar):
                saver.add(rows)
    finally:
        bar.close()
    final = run.final
    per_label = final.groupby("label")["detected"].agg(["size", "sum"])
    per_label.columns = ["frames", "detected"]
    return VideoExtractionReport(
        table=table, videos=[Path(info.source).name for info, _ in videos],
        n_segments=len(tasks), n_frames=len(final), n_extracted=saver.n_added,
        n_reused=len(kept), n_redone_segments=n_redone,
        n_dropped=0 if previous is None else len(previous) - len(kept),
        per_label=per_label, elapsed_s=time.monotonic() - start,
    )


# -- helpers ------------------------------------------------------------------------------------
_INT_COLUMNS = ("width", "height", "frame", "file_size", "segment_start", "stride")
_DTYPES = {**{c: "int64" for c in _INT_COLUMNS}, "detected": bool, "time_s": "float64",
           "file_mtime": "float64"}
_FileStamp = tuple[int, float]  # (size in bytes, modification time in s since the epoch)


def _check_stride(stride: int) -> None:
    if not isinstance(stride, int | np.integer) or stride < 1:
        raise InputError(f"--stride {stride!r}: give 1 or more (every K-th frame)")


def _file_stamp(path: str | os.PathLike) -> _FileStamp:
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime


def _segment_rows(info: VideoInfo, segment: Segment, stride: int, frames: list[int],
                  poses: list, sizes: list[tuple[int, int]], tag: str) -> pd.DataFrame:
    """Table rows of one segment's frames (file size and time are stamped later)."""
    n = len(frames)
    extra = {"frame": frames,
             "time_s": [f / info.fps if info.fps else np.nan for f in frames],
             "file_size": [0] * n, "file_mtime": [np.nan] * n,
             "segment_start": [segment.start_frame] * n, "stride": [stride] * n,
             "extractor": [tag] * n}
    reasons = ["" if pose is not None else NO_PERSON for pose in poses]
    rows = Poses.from_poses(poses, sizes).to_table(
        [frame_path(info.source, f) for f in frames], [segment.label] * n, reasons, extra)
    return rows[list(VIDEO_TABLE_COLUMNS)].astype(_DTYPES)


def _empty_table() -> pd.DataFrame:
    return Poses.empty().to_table([], [], [], {c: [] for c in VIDEO_COLUMNS + VIDEO_RESUME_COLUMNS}
                                  ).astype(_DTYPES)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else _empty_table()


def _stamped(rows: pd.DataFrame, stamp: _FileStamp) -> pd.DataFrame:
    """``rows`` with the video's size and mtime as this process sees them."""
    rows = rows.copy()
    rows["file_size"], rows["file_mtime"] = stamp
    return rows.astype({"file_size": "int64", "file_mtime": "float64"})


def _frames_bar(tasks: Sequence[tuple[int, str, Segment]], stride: int, progress: bool,
                desc: str = "extract") -> tqdm:
    return tqdm(total=sum(len(seg.frames(stride)) for _, _, seg in tasks), unit="frame",
                desc=desc, disable=not progress)


def _plan(jobs, stride: int) -> tuple[list[tuple[int, str, Segment]],
                                      list[tuple[VideoInfo, _FileStamp]]]:
    """Tasks ``(video index, absolute path, segment)`` in (video, frame) order, and per video
    its :class:`VideoInfo` and file stamp."""
    _check_stride(stride)
    tasks, videos = [], []
    for index, (video, segments) in enumerate(jobs):
        info = VideoInfo.from_video_path(video)
        path = str(Path(info.source).absolute())  # the same path on every worker
        videos.append((info, _file_stamp(path)))
        tasks.extend((index, path, seg) for seg in check_segments(segments, info.total_frames))
    return tasks, videos


def _iter_segment_rows(info: VideoInfo, segments: Sequence[Segment], stride: int,
                       options: ExtractOptions, bar) -> Iterator[tuple[Segment, pd.DataFrame]]:
    """Decode the video once; yield each segment's rows as soon as its last frame is done."""
    wanted = {f: seg for seg in segments for f in seg.frames(stride)}
    frames: list[int] = []
    poses: list = []
    sizes: list[tuple[int, int]] = []
    n_rows = 0
    extractor, current = None, None
    try:
        for frame_index, bgr in iter_selected_frames(info.source, wanted):
            seg = wanted[frame_index]
            if seg is not current:  # a new segment: start tracking afresh
                if extractor is not None:
                    extractor.close()
                extractor, current = options.extractor(static_image_mode=False), seg
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            frames.append(frame_index)
            poses.append(extractor(rgb))
            sizes.append((rgb.shape[1], rgb.shape[0]))
            n_rows += 1
            bar.update(1)
            if frame_index == seg.frames(stride)[-1]:
                yield seg, _segment_rows(info, seg, stride, frames, poses, sizes, options.tag)
                frames, poses, sizes = [], [], []
        if frames:  # the video ended inside this segment
            yield current, _segment_rows(info, current, stride, frames, poses, sizes,
                                         options.tag)
    finally:
        if extractor is not None:
            extractor.close()
    if n_rows < len(wanted):
        logger.warning("%s: %d of %d segment frames could not be decoded", info.source,
                       len(wanted) - n_rows, len(wanted))


def _segment_results(tasks, videos, stride: int, options: ExtractOptions, workers: int,
                     cluster: str | None, bar) -> Iterator[tuple[int, Segment, pd.DataFrame]]:
    """``(video index, segment, rows)`` per finished segment, in this process (each video
    decoded once) or spread over workers / a cluster (one task per segment)."""
    if not tasks:
        return
    if cluster is None and workers <= 1:
        for index in dict.fromkeys(index for index, _, _ in tasks):
            info, stamp = videos[index]
            segments = [seg for i, _, seg in tasks if i == index]
            for seg, rows in _iter_segment_rows(info, segments, stride, options, bar):
                yield index, seg, _stamped(rows, stamp)
        return
    # long segments first: the last task to finish is a short one
    ordered = sorted(tasks, key=lambda t: -len(t[2].frames(stride)))
    with cluster_or_local(cluster):
        parallel = joblib.Parallel(n_jobs=None if cluster else min(workers, len(tasks)),
                                   return_as="generator_unordered")
        # each result comes back with its (video index, segment) key
        for (index, seg), rows in parallel(
                joblib.delayed(_keyed_segment)((index, seg), path, seg, stride, options)
                for index, path, seg in ordered):
            bar.update(len(rows))
            yield index, seg, _stamped(rows, videos[index][1])


def _keyed_segment(key, video, segment, stride, options):
    return key, extract_segment(video, segment, stride, options)


def _reusable_segments(previous: pd.DataFrame | None, tasks, videos, stride: int,
                       tag: str) -> tuple[pd.DataFrame, list, int]:
    """Rows of ``previous`` to keep, the tasks left to do, and how many of those had rows
    that no longer match (changed video file, label, segment start, stride or extractor)."""
    if previous is None or not {"segment_start", "stride", "frame"} <= set(previous.columns):
        return _empty_table(), list(tasks), 0
    items, starts = [], {}
    for index, path, seg in tasks:
        size, mtime = videos[index][1]
        for f in seg.frames(stride):
            items.append(ImageItem(frame_path(path, f), seg.label, size, mtime))
            starts[items[-1].path] = seg.start_frame
    same = (reusable_rows(previous, items, tag).to_numpy()
            & (previous["segment_start"].to_numpy() == previous["path"].map(starts).to_numpy())
            & (previous["stride"].to_numpy() == stride))
    good, old = set(previous.loc[same, "path"]), set(previous["path"])
    kept_paths, todo, n_redone = set(), [], 0
    for task in tasks:
        seg_paths = [frame_path(task[1], f) for f in task[2].frames(stride)]
        if all(p in good for p in seg_paths):
            kept_paths.update(seg_paths)
        else:
            todo.append(task)
            n_redone += any(p in old for p in seg_paths)
    kept = previous[same & previous["path"].isin(kept_paths).to_numpy()]
    kept = kept[~kept["path"].duplicated()]
    if not len(kept):
        return _empty_table(), todo, n_redone
    return kept[list(VIDEO_TABLE_COLUMNS)].astype(_DTYPES).reset_index(drop=True), todo, n_redone
