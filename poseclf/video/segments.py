"""Labelled video -> landmark table: the frames inside labelled segments become training rows.

A segments file is a CSV with ``start_frame,end_frame,label`` (0-based, inclusive) or
``start_s,end_s,label`` (seconds; a frame belongs to the segment when its time
``frame / fps`` lies in ``[start_s, end_s]``). Frames are extracted in video (tracking) mode,
with a fresh extractor per segment so that tracking never crosses a segment boundary.
Rows are named ``<video name>#<frame, 6 digits>`` and carry ``frame`` and ``time_s`` columns.

Several people (``people`` > 1, :mod:`poseclf.video.segment_people`): every person followed in a
sampled frame has a row, ``<video name>#<frame>@p<person id>``, with a ``person`` column. The
ids are those ``poseclf video --people N`` shows (the same finder and tracker, run from the
video's first frame). An optional ``person`` column in the segments file labels one person
only; a segment without one (or with an empty cell) labels every person in its frames.

This module plans the work (one unit per segment) and :func:`poseclf.tables.engine.run_plan` runs it
(in this process, each video decoded once, or one task per segment on worker processes or a
Dask cluster) and, for :func:`extract_videos_to_table`, saves finished segments and resumes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, SegmentsError
from ..pose.extraction import ExtractOptions
from ..pose.landmarks import NO_PERSON
from ..pose.poses import Poses
from ..pose.table import PERSON_MARK, TABLE_COLUMNS, frame_path
from ..pose.video_frames import iter_frame_ranges
from ..pose.video_sources import VideoInfo
from ..tables.engine import DEFAULT_CHECKPOINT_S, Plan, Task, run_plan

logger = logging.getLogger(__name__)

VIDEO_COLUMNS: tuple[str, ...] = ("frame", "time_s")  # extra columns of video rows
#: Bookkeeping columns to resume: the video file's size and mtime, where tracking started
#: (the segment's first frame), the stride and the BlazePose settings.
VIDEO_RESUME_COLUMNS: tuple[str, ...] = ("file_size", "file_mtime", "segment_start", "stride",
                                         "extractor")
VIDEO_TABLE_COLUMNS: tuple[str, ...] = TABLE_COLUMNS + VIDEO_COLUMNS + VIDEO_RESUME_COLUMNS
_TIME_EPS = 1e-9  # s: a segment given in seconds includes frames exactly on its bounds
PERSON_COLUMN = "person"  # optional in a segments file: the one person a segment labels


@dataclass(frozen=True)
class Segment:
    """Frames ``start_frame`` to ``end_frame`` (inclusive, 0-based) labelled ``label``; with
    ``person`` (a tracked id, ``people`` > 1) only that person's rows, else everyone's."""

    start_frame: int
    end_frame: int
    label: str
    person: int | None = None

    def frames(self, stride: int = 1) -> range:
        return range(self.start_frame, self.end_frame + 1, stride)


def _check_no_overlap(ordered: Sequence[Segment]) -> None:
    """Raise when two segments (in start order) share a frame for one person: a segment without
    ``person`` shares with every other. One pass: the latest-ending segment so far, of everyone
    and of each person, is all a new segment can overlap."""
    latest: dict[int | None, Segment] = {}  # None: any segment; an id: that person's
    everyone: Segment | None = None  # the latest-ending segment without a person
    for b in ordered:
        rivals = (latest.get(None),) if b.person is None else (everyone, latest.get(b.person))
        a = max((r for r in rivals if r is not None), key=lambda r: r.end_frame, default=None)
        if a is not None and b.start_frame <= a.end_frame:
            one = ("one label only" if a.person is None and b.person is None
                   else "one label per person")
            raise ValueError(f"segments overlap: {a} and {b}; a frame can have {one}")
        for key in (None, b.person) if b.person is not None else (None,):
            if key not in latest or b.end_frame > latest[key].end_frame:
                latest[key] = b
        if b.person is None and (everyone is None or b.end_frame > everyone.end_frame):
            everyone = b


def check_segments(segments: Iterable[Segment], n_frames: int | None = None) -> list[Segment]:
    """Sorted segments; rejects empty ones and those that overlap for one person (a segment
    without ``person`` is everyone's), clips those beyond the video."""
    result = sorted(segments, key=lambda s: (s.start_frame, s.person or 0))
    for seg in result:
        if seg.start_frame < 0 or seg.end_frame < seg.start_frame:
            raise ValueError(f"segment {seg}: needs 0 <= start_frame <= end_frame")
        if seg.person is not None and (isinstance(seg.person, bool)
                                       or not isinstance(seg.person, int | np.integer)
                                       or seg.person < 1):
            raise ValueError(f"segment {seg}: person must be a person id (an integer >= 1)")
    _check_no_overlap(result)
    if n_frames is not None:
        clipped = []
        for seg in result:
            if seg.start_frame >= n_frames:
                logger.warning("segment %s starts after the last frame (%d); ignored",
                               seg, n_frames - 1)
                continue
            if seg.end_frame >= n_frames:
                logger.warning("segment %s clipped to the last frame (%d)", seg, n_frames - 1)
                seg = dataclasses.replace(seg, end_frame=n_frames - 1)
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
    segments = [_segment_of_row(path, i, row[start], row[end], row["label"], in_seconds, fps,
                                row.get(PERSON_COLUMN, ""))
                for i, row in enumerate(df.to_dict("records"))]
    if not segments:
        raise SegmentsError(f"{path}: no segment in the file; add rows "
                            f"{start},{end},label")
    try:
        return check_segments(segments)
    except ValueError as err:
        raise SegmentsError(f"{path}: {err}") from err


def _segment_of_row(path: Path, index: int, start: str, end: str, label: str,
                    in_seconds: bool, fps: float | None, person: str = "") -> Segment:
    """One CSV row as a Segment; a bad cell is a SegmentsError naming the file and row."""
    where = f"{path}: row {index + 1}"
    if not str(label).strip():
        raise SegmentsError(f"{where}: empty label; give every segment its class")
    person = str(person).strip()
    if person and not (person.isascii() and person.isdigit() and int(person) >= 1):
        raise SegmentsError(f"{where}: person {person!r} is not a person id (an integer >= 1, "
                            "as `poseclf video --people N` or a first `poseclf extract --people "
                            "N` run shows them); leave the cell empty to label every person")
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
    return Segment(first, last, str(label).strip(), int(person) if person else None)


def write_segments(segments: Sequence[Segment], path: str | os.PathLike) -> Path:
    """Write segments as ``start_frame,end_frame,label`` CSV, with a ``person`` column (empty:
    every person) when a segment has one."""
    path = Path(path)
    df = pd.DataFrame([(s.start_frame, s.end_frame, s.label) for s in segments],
                      columns=["start_frame", "end_frame", "label"])
    if any(s.person is not None for s in segments):
        df[PERSON_COLUMN] = ["" if s.person is None else str(s.person) for s in segments]
    df.to_csv(path, index=False)
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


def extract_videos(
    jobs: Sequence[tuple[str | os.PathLike, Sequence[Segment]]],
    *,
    stride: int = 1,
    options: ExtractOptions | None = None,
    workers: int = 1,
    cluster: str | None = None,
    progress: bool = True,
    people: int = 1,
) -> pd.DataFrame:
    """Rows of the segments of several videos, in (video, frame) order: the landmark-table
    columns plus :data:`VIDEO_COLUMNS` and :data:`VIDEO_RESUME_COLUMNS`; nothing is saved.

    ``jobs`` are (video path, segments) pairs; ``stride`` keeps every K-th frame of each
    segment from its first; ``options`` are the BlazePose settings (video mode). ``workers``:
    local processes, 1 decodes each video once in this process; ``cluster``: a Dask cluster
    (``tcp://host:8786`` or ``local:N``, :mod:`poseclf.tables.cluster`) with one task per segment,
    the videos under the same path on its workers. ``people`` > 1: a row per person followed
    (:mod:`poseclf.video.segment_people`; the Tasks backend). :func:`extract_videos_to_table`
    saves as it goes and resumes.
    """
    options = _options_for(people, options)
    return run_plan(_plan(jobs, stride, options, people)[0], options, None, workers=workers,
                    cluster=cluster, progress=progress).final


@dataclass
class VideoExtractionReport:
    """Outcome of :func:`extract_videos_to_table`; ``str(report)`` is what the CLI prints.

    ``per_label`` has one row per label with the ``frames`` (``rows`` with several people)
    and ``detected`` counts of the whole table (reused and new rows). With several people
    (``people`` > 1) ``n_frames`` counts the sampled frames, ``n_rows`` the rows (a row per
    person per frame), ``n_people`` the people followed (ids are per video), ``n_extracted``
    and ``n_reused`` rows and ``n_redone_segments`` videos (a video is redone whole).
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
    people: int = 1
    n_rows: int | None = None
    n_people: int = 0

    def __str__(self) -> str:
        state = "INTERRUPTED, re-run to finish" if self.interrupted else "done"
        what = f"{self.n_frames} frames"
        if self.people > 1:
            what = f"{self.n_rows} rows of {self.n_people} people in {what}"
        lines = [
            f"{self.table}: {what} of {', '.join(self.videos)} in "
            f"{self.n_segments} segments ({state}); extracted {self.n_extracted} in "
            f"{self.elapsed_s:.1f} s, reused {self.n_reused}",
        ]
        if self.n_redone_segments and self.people > 1:
            lines.append(f"redid {self.n_redone_segments} videos whose file, labels, segments, "
                         "stride, number of people or extractor settings changed")
        elif self.n_redone_segments:
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
    people: int = 1,
) -> VideoExtractionReport:
    """:func:`extract_videos` into ``table``, saved as segments finish and resumable.

    A segment is the unit of work and of reuse: tracking starts afresh at its first frame,
    so a half-done segment cannot be continued and only finished segments are saved. With
    several people the unit is a whole video (:mod:`poseclf.video.segment_people`).

    Parameters
    ----------
    jobs, stride, options, workers, cluster, progress, people
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
    options = _options_for(people, options)
    table = Path(table)
    plan, videos, n_segments = _plan(jobs, stride, options, people)
    run = run_plan(plan, options, table, workers=workers, cluster=cluster,
                   checkpoint_s=checkpoint_s, resume=resume, progress=progress)
    final = run.final
    per_label = final.groupby("label")["detected"].agg(["size", "sum"])
    per_label.columns = ["frames" if people == 1 else "rows", "detected"]
    report = VideoExtractionReport(
        table=table, videos=videos,
        n_segments=n_segments, n_frames=len(final), n_extracted=run.n_added,
        n_reused=len(run.kept), n_redone_segments=run.n_redone,
        n_dropped=0 if run.previous is None else len(run.previous) - len(run.kept),
        per_label=per_label, elapsed_s=time.monotonic() - start, people=people,
    )
    if people > 1:
        report.n_rows = len(final)
        report.n_frames = int(final["path"].str.rpartition(PERSON_MARK)[0].nunique())
        followed = final[final["person"] > 0]  # ids are per video
        report.n_people = len(set(zip(followed["path"].str.rpartition("#")[0], followed["person"],
                                      strict=True)))
    return report


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


def segment_rows(video: str, fps: float, segments: Sequence[Segment], stride: int,
                 options: ExtractOptions, stamp: _FileStamp) -> Iterator[pd.DataFrame]:
    """Rows of each segment of one video (the task of :func:`extract_videos`), yielded as soon
    as its last frame is done; tracking starts afresh at every segment."""
    ranges = [seg.frames(stride) for seg in segments]
    n_rows = 0
    for segment, frames in zip(segments, iter_frame_ranges(video, ranges), strict=True):
        poses, sizes = [], []
        with contextlib.ExitStack() as stack:
            extractor = None
            for _, rgb in frames:
                extractor = extractor or stack.enter_context(options.extractor(False))
                poses.append(extractor(rgb))
                sizes.append((rgb.shape[1], rgb.shape[0]))
        if poses:
            yield _segment_rows(video, fps, segment, stride, poses, sizes, options.tag, stamp)
        n_rows += len(poses)
    if n_rows < (n_wanted := sum(map(len, ranges))):
        logger.warning("%s: %d of %d segment frames could not be decoded", video,
                       n_wanted - n_rows, n_wanted)


def _segment_rows(video: str, fps: float, segment: Segment, stride: int, poses: list,
                  sizes: list[tuple[int, int]], tag: str, stamp: _FileStamp) -> pd.DataFrame:
    """Table rows of the first ``len(poses)`` frames of a segment."""
    frames = list(segment.frames(stride)[:len(poses)])
    n = len(frames)
    extra = {"frame": frames, "time_s": [f / fps if fps else np.nan for f in frames],
             "file_size": [stamp[0]] * n, "file_mtime": [stamp[1]] * n,
             "segment_start": [segment.start_frame] * n, "stride": [stride] * n,
             "extractor": [tag] * n}
    reasons = ["" if pose is not None else NO_PERSON for pose in poses]
    rows = Poses.from_poses(poses, sizes).to_table(
        [frame_path(video, f) for f in frames], [segment.label] * n, reasons, extra)
    return rows[list(VIDEO_TABLE_COLUMNS)].astype(_DTYPES)


def _empty_table() -> pd.DataFrame:
    return Poses.empty().to_table([], [], [], {c: [] for c in VIDEO_COLUMNS + VIDEO_RESUME_COLUMNS}
                                  ).astype(_DTYPES)


def _options_for(people: int, options: ExtractOptions | None) -> ExtractOptions:
    """The BlazePose settings for ``people`` people (the Tasks backend above 1)."""
    options = options or ExtractOptions()
    if people == 1:
        return options
    from .run import check_people

    return check_people(people, options)


def _plan(jobs: Sequence[tuple[str | os.PathLike, Sequence[Segment]]], stride: int,
          options: ExtractOptions, people: int = 1) -> tuple[Plan, list[str], int]:
    """One work unit per segment, in (video, frame) order (per video with several people), the
    video names and the number of segments. The tasks: in this process, one per video (decoded
    once), else one per segment, the longest first (one per video with several people)."""
    _check_stride(stride)
    units: list[tuple[str, float, Segment, _FileStamp]] = []
    names, videos = [], []
    for video, segments in jobs:
        info = VideoInfo.from_video_path(video)
        names.append(Path(info.source).name)
        path = str(Path(info.source).absolute())  # the same path on every worker
        stamp = _file_stamp(path)
        segments = check_segments(segments, info.total_frames)
        if people == 1 and (person := next((s for s in segments if s.person), None)):
            raise SegmentsError(f"{names[-1]}: the segment of frames {person.start_frame}-"
                                f"{person.end_frame} is for person {person.person}: a person "
                                "column needs people >= 2 (--people N)")
        units.extend((path, info.fps, seg, stamp) for seg in segments)
        videos.append((path, info.fps, segments, stamp))
    if people > 1:
        from .segment_people import people_plan

        return people_plan(videos, stride, options, people), names, len(units)
    expected = pd.DataFrame(
        [(frame_path(path, f), seg.label, *stamp, seg.start_frame, stride)
         for path, _, seg, stamp in units for f in seg.frames(stride)],
        columns=["path", "label", "file_size", "file_mtime", "segment_start", "stride"])
    repeated = expected["path"][expected["path"].duplicated()]
    if len(repeated):
        raise SegmentsError(f"two videos with the same file name would both have a row "
                            f"{repeated.iloc[0]}: give each video a distinct file name")

    def tasks(todo: list[int], n_workers: int, in_process: bool) -> list[Task]:
        if in_process:
            videos: dict[str, list[int]] = {}
            for i in todo:
                videos.setdefault(units[i][0], []).append(i)
            return [(segment_rows, (path, units[group[0]][1], [units[i][2] for i in group],
                                    stride, options, units[group[0]][3]))
                    for path, group in videos.items()]
        ordered = sorted(todo, key=lambda i: -len(units[i][2].frames(stride)))
        return [(segment_rows, (path, fps, [seg], stride, options, stamp))
                for path, fps, seg, stamp in (units[i] for i in ordered)]

    return Plan(expected, [[frame_path(path, f) for f in seg.frames(stride)]
                           for path, _, seg, _ in units], tasks, _empty_table,
                lambda kept: kept[list(VIDEO_TABLE_COLUMNS)].astype(_DTYPES)
                .reset_index(drop=True), "frame",
                "%d of %d frames extracted (finished segments; %d reused)",
                "%s: re-extracting %d segments whose video file, label, stride or extractor "
                "settings changed"), names, len(units)
