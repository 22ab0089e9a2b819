"""Labelled video -> landmark table: the frames inside labelled segments become training rows.

A segments file is a CSV with ``start_frame,end_frame,label`` (0-based, inclusive) or
``start_s,end_s,label`` (seconds; a frame belongs to the segment when its time
``frame / fps`` lies in ``[start_s, end_s]``). Frames are extracted in video (tracking) mode,
with a fresh extractor per segment so that tracking never crosses a segment boundary.
Rows are named ``<video name>#<frame, 6 digits>`` and carry ``frame`` and ``time_s`` columns.

:func:`extract_videos` spreads several videos and segments over worker processes or a Dask
cluster (:mod:`poseclf.cluster`): one task per segment, so tracking stays within a segment.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import joblib
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .cluster import cluster_or_local
from .table import LANDMARK_COLUMNS, TABLE_COLUMNS, WORLD_COLUMNS, pose_to_row
from .video import VideoInfo, iter_selected_frames

logger = logging.getLogger(__name__)

VIDEO_COLUMNS: tuple[str, ...] = ("frame", "time_s")  # extra columns of video rows
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
    ValueError
        Missing columns, or seconds without ``fps``; the message names the file.
    """
    path = Path(path)
    df = pd.read_csv(path, dtype={"label": str})
    columns = set(df.columns)
    if {"start_frame", "end_frame", "label"} <= columns:
        segments = [Segment(int(r.start_frame), int(r.end_frame), str(r.label))
                    for r in df.itertuples()]
    elif {"start_s", "end_s", "label"} <= columns:
        if not fps:
            raise ValueError(f"{path}: segments in seconds need the video's frame rate")
        segments = [Segment(math.ceil(r.start_s * fps - _TIME_EPS),
                            math.floor(r.end_s * fps + _TIME_EPS), str(r.label))
                    for r in df.itertuples()]
    else:
        raise ValueError(
            f"{path}: a segments file needs the columns start_frame,end_frame,label "
            f"(or start_s,end_s,label); found {', '.join(map(str, df.columns))}"
        )
    return check_segments(segments)


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
    options=None,
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
        The landmark-table columns plus ``frame`` and ``time_s``, in frame order.
    """
    from .dataset import ExtractOptions

    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    options = options or ExtractOptions()
    info = VideoInfo.from_video_path(video)
    segments = check_segments(segments, info.total_frames)
    wanted = {f: seg for seg in segments for f in seg.frames(stride)}
    rows: list[dict] = []
    bar = tqdm(total=len(wanted), unit="frame", desc=Path(info.source).name,
               disable=not progress)
    extractor, current = None, None
    try:
        for frame_index, bgr in iter_selected_frames(info.source, wanted):
            seg = wanted[frame_index]
            if seg is not current:  # a new segment: start tracking afresh
                if extractor is not None:
                    extractor.close()
                extractor, current = options.extractor(static_image_mode=False), seg
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            pose = extractor(rgb)
            rows.append(_frame_row(info, frame_index, seg.label, rgb, pose, options.tag))
            bar.update(1)
    finally:
        bar.close()
        if extractor is not None:
            extractor.close()
    if len(rows) < len(wanted):
        logger.warning("%s: %d of %d segment frames could not be decoded", info.source,
                       len(wanted) - len(rows), len(wanted))
    columns = list(TABLE_COLUMNS + VIDEO_COLUMNS + ("extractor",))
    df = pd.DataFrame(rows, columns=columns)
    numeric = list(LANDMARK_COLUMNS + WORLD_COLUMNS)
    df[numeric] = df[numeric].astype(np.float32)
    return df


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
    options=None,
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
    """
    from .dataset import ExtractOptions

    options = options or ExtractOptions()
    columns = list(TABLE_COLUMNS + VIDEO_COLUMNS + ("extractor",))
    if cluster is None and workers <= 1:
        frames = [extract_video_segments(video, segments, stride=stride, options=options,
                                         progress=progress) for video, segments in jobs]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    tasks = []  # (video index, absolute path, segment): paths are sent, never frames
    for index, (video, segments) in enumerate(jobs):
        info = VideoInfo.from_video_path(video)
        for segment in check_segments(segments, info.total_frames):
            tasks.append((index, str(Path(info.source).absolute()), segment))
    # long segments first: the last task to finish is a short one
    tasks.sort(key=lambda t: -len(t[2].frames(stride)))
    results: dict[tuple[int, int], pd.DataFrame] = {}
    bar = tqdm(total=sum(len(t[2].frames(stride)) for t in tasks), unit="frame",
               desc="extract", disable=not progress)
    try:
        with cluster_or_local(cluster if tasks else None):
            parallel = joblib.Parallel(n_jobs=None if cluster else min(workers, len(tasks)),
                                       return_as="generator_unordered")
            # each result comes back with its (video index, first frame) key
            for key, frame in parallel(joblib.delayed(_keyed_segment)(
                    (index, segment.start_frame), path, segment, stride, options)
                    for index, path, segment in tasks):
                results[key] = frame
                bar.update(len(frame))
    finally:
        bar.close()
    ordered = [results[key] for key in sorted(results)]
    return pd.concat(ordered, ignore_index=True) if ordered else pd.DataFrame(columns=columns)


def _keyed_segment(key, video, segment, stride, options):
    return key, extract_segment(video, segment, stride, options)


def _frame_row(info: VideoInfo, frame: int, label: str, rgb: np.ndarray, pose, tag: str) -> dict:
    row = {"path": frame_path(info.source, frame), "label": label, "width": rgb.shape[1],
           "height": rgb.shape[0], "detected": pose is not None,
           "reason": "" if pose is not None else "no_person"}
    row.update(pose_to_row(pose))
    row.update(frame=frame, time_s=frame / info.fps if info.fps else np.nan, extractor=tag)
    return row
