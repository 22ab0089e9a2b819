"""Labelled video -> landmark table with several people: a row per person per sampled frame.

``poseclf extract VIDEO --segments SEGMENTS.csv --people N``. Each video is followed from its
first frame to the last one a segment samples, every frame, by the
:class:`~poseclf.video.crops.CropFinder` and :func:`~poseclf.video.people.person_tracker` that
``poseclf video --people N`` uses (:func:`~poseclf.video.people.follow_people`), so a row's
``person`` is the id that run shows, and it is the same in every frame of the video. At each
sampled frame (a segment's frames, every ``stride``-th from its first):

- a segment with a ``person`` gives that person one row (``detected`` False while they are
  followed but not found, or not followed);
- a segment without gives every person followed one row, or one ``person`` 0 row (nobody
  followed) when there is nobody.

Rows are named ``<video>#<frame>@p<person>`` (:func:`~poseclf.pose.table.frame_path`): a row of
a table is one pose, which ``train``, ``outliers --drop`` and exclusion lists rely on.

Resuming: ids depend on every frame before, so a video is the unit of work, reused whole or
redone whole. A segment's frame is *planned* once per segment (key ``<video>#<frame>@p<segment
person>``, 0 for everyone), and the table's rows record their segment's ``segment_start`` and
``segment_person``: a previous table is reused when each planned frame has rows from the same
video file, label, segment, stride, number of people and BlazePose settings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from ..errors import SegmentsError
from ..pose.extraction import ExtractOptions
from ..pose.landmarks import NO_PERSON, Pose
from ..pose.poses import Poses
from ..pose.table import PERSON_MARK, TABLE_COLUMNS, frame_path
from ..pose.video_frames import iter_selected_frames
from ..tables.engine import Plan, Task
from .crops import CropFinder
from .people import follow_people, person_tracker
from .prefetch import ReadAhead, bgr_to_rgb


class Segment(Protocol):
    """What this module reads of a :class:`poseclf.video.segments.Segment` (that module calls
    this one, so the class is not imported here)."""

    start_frame: int
    end_frame: int
    label: str
    person: int | None

    def frames(self, stride: int = 1) -> range: ...


logger = logging.getLogger(__name__)

NOBODY = 0  # the person of the row of a frame where nobody is followed; a segment for everyone
#: Columns of a several-people table: the video table's, with ``person`` (the tracked id) and the
#: resume columns ``segment_person`` (the segment's person, 0: everyone) and ``people`` (N).
PEOPLE_TABLE_COLUMNS: tuple[str, ...] = TABLE_COLUMNS + (
    "frame", "time_s", "person", "file_size", "file_mtime", "segment_start", "segment_person",
    "stride", "people", "extractor")
_INT_COLUMNS = ("width", "height", "frame", "person", "file_size", "segment_start",
                "segment_person", "stride", "people")
_DTYPES = {**{c: "int64" for c in _INT_COLUMNS}, "detected": bool, "time_s": "float64",
           "file_mtime": "float64"}
_FileStamp = tuple[int, float]  # (size in bytes, modification time in s since the epoch)
_Video = tuple[str, float, list[Segment], _FileStamp]  # absolute path, fps, segments, file stamp


def planned_key(video: str, frame: int, segment_person: int | None) -> str:
    """The planned key of a segment's frame: ``pair.mp4#000120@p0`` (0: everyone)."""
    return frame_path(video, frame, segment_person or NOBODY)


def row_keys(rows: pd.DataFrame) -> pd.Series:
    """The planned key of each table row: its frame and its segment's person (rows of a table
    without ``segment_person`` get their path, which no plan has)."""
    if "segment_person" not in rows.columns:
        return rows["path"].astype(str)
    frames = rows["path"].astype(str).str.rpartition(PERSON_MARK)[0]
    return frames + PERSON_MARK + rows["segment_person"].astype("int64").astype(str)


def people_plan(videos: Sequence[_Video], stride: int, options: ExtractOptions,
                people: int) -> Plan:
    """One work unit per video (its sampled frames, in frame order), tasks one per video."""
    expected, units = [], []
    for path, _, segments, stamp in videos:
        planned = sorted(((f, seg.person or NOBODY, seg) for seg in segments
                          for f in seg.frames(stride)), key=lambda item: item[:2])
        expected += [(planned_key(path, f, person), seg.label, *stamp, seg.start_frame, stride,
                      people) for f, person, seg in planned]
        units.append([planned_key(path, f, person) for f, person, _ in planned])
    expected = pd.DataFrame(expected, columns=["path", "label", "file_size", "file_mtime",
                                               "segment_start", "stride", "people"])
    repeated = expected["path"][expected["path"].duplicated()]
    if len(repeated):
        raise SegmentsError(f"two videos with the same file name would both have rows "
                            f"{repeated.iloc[0]}: give each video a distinct file name")

    def tasks(todo: list[int], n_workers: int, in_process: bool) -> list[Task]:
        ordered = sorted(todo, key=lambda i: -max(s.end_frame for s in videos[i][2]))
        return [(people_rows, (*videos[i], stride, options, people)) for i in ordered]

    return Plan(expected, units, tasks, _empty_table,
                lambda kept: kept[list(PEOPLE_TABLE_COLUMNS)].astype(_DTYPES)
                .reset_index(drop=True), "frame",
                "%d rows extracted for %d planned frames (whole videos only; %d rows reused)",
                "%s: re-extracting %d videos whose file, labels, segments, stride, number of "
                "people or extractor settings changed", key=row_keys)


def people_rows(video: str, fps: float, segments: Sequence[Segment], stamp: _FileStamp,
                stride: int, options: ExtractOptions, people: int) -> Iterator[pd.DataFrame]:
    """Rows of the segments of one video (a task of :func:`people_plan`), yielded as each
    segment's last sampled frame is done: every frame up to the last sampled one is followed."""
    wanted: dict[int, list[Segment]] = {}
    for seg in segments:
        for f in seg.frames(stride):
            wanted.setdefault(f, []).append(seg)
    ends = {seg.frames(stride)[-1] for seg in segments}
    last = max(wanted)
    rows: list[tuple] = []
    index = -1
    frames = (bgr for _, bgr in iter_selected_frames(video, range(last + 1)))
    with (CropFinder(options, people) as finder,
          ReadAhead(frames, convert=bgr_to_rgb) as ahead):
        for index, frame, followed in follow_people(ahead, finder, person_tracker(fps)):
            for seg in sorted(wanted.get(index, ()), key=lambda s: s.person or NOBODY):
                size = (frame.shape[1], frame.shape[0])
                rows += [(index, person, pose, size, seg)
                         for person, pose in _people_of(seg, followed)]
            if index in ends and rows:
                yield _table(video, fps, rows, stride, stamp, options.tag, people)
                rows = []
            if index >= last:
                break
    if rows:
        yield _table(video, fps, rows, stride, stamp, options.tag, people)
    if index < last:
        logger.warning("%s: frames %d to %d could not be decoded; their rows are missing",
                       video, index + 1, last)


def _people_of(segment: Segment, followed: list[tuple[int, Pose | None]]
               ) -> list[tuple[int, Pose | None]]:
    """The (person, pose) rows ``segment`` gives a frame where ``followed`` are followed."""
    if segment.person is not None:
        return [(segment.person, dict(followed).get(segment.person))]
    return followed or [(NOBODY, None)]


def _table(video: str, fps: float, rows: list[tuple], stride: int, stamp: _FileStamp,
           tag: str, people: int) -> pd.DataFrame:
    """Table rows of ``(frame, person, pose, (width, height), segment)`` tuples."""
    n = len(rows)
    frames = [r[0] for r in rows]
    extra = {"frame": frames, "time_s": [f / fps if fps else np.nan for f in frames],
             "person": [r[1] for r in rows], "file_size": [stamp[0]] * n,
             "file_mtime": [stamp[1]] * n, "segment_start": [r[4].start_frame for r in rows],
             "segment_person": [r[4].person or NOBODY for r in rows], "stride": [stride] * n,
             "people": [people] * n, "extractor": [tag] * n}
    poses = Poses.from_poses([r[2] for r in rows], [r[3] for r in rows])
    table = poses.to_table([frame_path(video, r[0], r[1]) for r in rows],
                           [r[4].label for r in rows],
                           ["" if r[2] is not None else NO_PERSON for r in rows], extra)
    return table[list(PEOPLE_TABLE_COLUMNS)].astype(_DTYPES)


def _empty_table() -> pd.DataFrame:
    extra = {c: [] for c in PEOPLE_TABLE_COLUMNS[len(TABLE_COLUMNS):]}
    return Poses.empty().to_table([], [], [], extra).astype(_DTYPES)
