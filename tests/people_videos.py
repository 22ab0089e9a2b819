"""Videos with two people, made from two one-person videos, with the truth of who is where.

There is no multi-person video in ``../shared/data``: :func:`make_pair_video` puts two dev videos
side by side (each resized to one height), optionally swaps the halves at a frame (the people
change places at once: ids must follow the people, not the sides) and blanks one half for a
while (that person leaves the picture); the shorter video's half is blank once it ends.
:func:`make_half_video` writes one half exactly as it is in the pair, so each person's own run
gives the truth of their count and labels.
Used by tests/test_people.py and bench/people.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

HALF_HEIGHT = 360
BLANK = (128, 128, 128)  # BGR fill of a half whose person has left


@dataclass(frozen=True)
class PairPlan:
    """How two videos make one: ``frames`` frames (a video's half is blank once it ends),
    halves swapped from frame ``swap_at`` on (None: never), half ``0`` (first video) blanked
    over the frames ``leave`` = (start, stop) (None: never)."""

    frames: int
    swap_at: int | None = None
    leave: tuple[int, int] | None = None

    def left_is_first(self, index: int) -> bool:
        """Whether the first video's person is on the left in frame ``index``."""
        return self.swap_at is None or index < self.swap_at

    def first_present(self, index: int) -> bool:
        """Whether the first video's person is in frame ``index`` (not blanked)."""
        return self.leave is None or not self.leave[0] <= index < self.leave[1]


def _frames(path: Path, count: int, height: int):
    """``count`` frames of ``path`` resized to ``height``; once the video ends, frames of its
    size filled with :data:`BLANK` (the person has left: a held last frame would be someone
    frozen in place, whom BlazePose and the model keep seeing)."""
    capture = cv2.VideoCapture(str(path))
    shape, ended = None, False
    try:
        for _ in range(count):
            ok, frame = (False, None) if ended else capture.read()
            if ok:
                scale = height / frame.shape[0]
                frame = cv2.resize(frame, (round(frame.shape[1] * scale / 2) * 2, height),
                                   interpolation=cv2.INTER_AREA)
                shape = frame.shape
                yield frame
                continue
            if shape is None:
                raise ValueError(f"{path}: no frame to read")
            ended = True
            yield np.full(shape, BLANK, dtype=np.uint8)
    finally:
        capture.release()


def _fps(path: Path) -> float:
    capture = cv2.VideoCapture(str(path))
    try:
        return capture.get(cv2.CAP_PROP_FPS) or 30.0
    finally:
        capture.release()


def _writer(out: Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise OSError(f"{out}: OpenCV cannot write an mp4 here")
    return writer


def make_pair_video(first: Path, second: Path, out: Path, plan: PairPlan,
                    height: int = HALF_HEIGHT) -> Path:
    """Write ``out``: ``first`` and ``second`` side by side as ``plan`` says; returns ``out``."""
    writer = None
    for index, (a, b) in enumerate(zip(_frames(first, plan.frames, height),
                                       _frames(second, plan.frames, height), strict=True)):
        if not plan.first_present(index):
            a = np.full_like(a, BLANK)
        frame = np.hstack([a, b] if plan.left_is_first(index) else [b, a])
        if writer is None:
            writer = _writer(out, _fps(first), (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    writer.release()
    return out


def make_half_video(video: Path, out: Path, plan: PairPlan, *, first: bool,
                    height: int = HALF_HEIGHT) -> Path:
    """Write ``out``: one person's half of the pair ``plan`` makes (``first``: the first
    video's, blanked as in the pair), alone; returns ``out``."""
    writer = None
    for index, frame in enumerate(_frames(video, plan.frames, height)):
        if first and not plan.first_present(index):
            frame = np.full_like(frame, BLANK)
        if writer is None:
            writer = _writer(out, _fps(video), (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    writer.release()
    return out


def true_person(pose, index: int, plan: PairPlan) -> int:
    """0 when ``pose`` (in frame ``index`` of the pair) is the first video's person, else 1:
    which half its keypoints are in, and which video that half shows then."""
    left = float(np.median(pose.landmarks[:, 0])) < 0.5
    return 0 if left == plan.left_is_first(index) else 1


def id_switches(frames, plan: PairPlan) -> tuple[int, dict[int, set[int]]]:
    """Identity switches over the :class:`~poseclf.video.people.PeopleFrame` s of a pair: each
    time a true person is given another id than at their previous pose; and the ids each true
    person was given."""
    last: dict[int, int] = {}
    ids: dict[int, set[int]] = {0: set(), 1: set()}
    switches = 0
    for frame in frames:
        for person in frame.people:
            if person.pose is None:
                continue
            truth = true_person(person.pose, frame.index, plan)
            switches += truth in last and last[truth] != person.person
            last[truth] = person.person
            ids[truth].add(person.person)
    return switches, ids


def up_down_model():
    """A model (``poseclf train``'s defaults) whose ``down`` holds push-ups at the bottom and
    sitting people, and ``up`` push-ups at the top, standing people and yoga's mountain:
    push-ups and squats counted with one model and ``--count down``."""
    from table_models import PUSHUP_PARTS, SQUAT_PARTS, model_from_tables

    return model_from_tables(PUSHUP_PARTS + SQUAT_PARTS)
