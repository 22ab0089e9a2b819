"""What the video loop gives: a :class:`FrameResult` per labelled frame, a :class:`VideoReport`
per run, and the reasons a run stops.

:func:`~poseclf.video.run.label_frames` makes the frame results, the frame loop of
:mod:`poseclf.video.loop` draws, writes and counts them into the report, and
:func:`~poseclf.video.run.run_video` returns the report. All three are also importable from
:mod:`poseclf.video.run`, where they were first defined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..pose.landmarks import Pose
from ..pose.video_sources import VideoInfo
from .smoothing import SmoothedResult

if TYPE_CHECKING:
    from .falls import FallEvent
    from .reps import RepsFrame

#: Why the loop ended (:attr:`VideoReport.stop_reason`).
STOP_END = "end"  # the file ended, or the camera/stream gave no more frames
STOP_MAX_FRAMES = "max_frames"
STOP_INTERRUPTED = "interrupted"  # Ctrl-C / SIGINT
STOP_TERMINATED = "terminated"  # SIGTERM / SIGHUP
STOP_QUIT = "quit"  # q/Esc or the window was closed


@dataclass(frozen=True)
class FrameResult:
    """One labelled frame: what :func:`~poseclf.video.run.label_frames` yields.

    ``probabilities`` are the model's raw class probabilities (None when there is nothing to
    classify: nobody found, or the pose rejected), ``reason`` why they are missing
    (``no_person``, ``unknown``, ``partial``), ``smoothed`` the smoother's result (label,
    confidence, smoothed probabilities) and ``repetitions`` the count so far (None without a
    counter) of ``count_class``. ``rate`` is the processing rate (frames per second) that
    :func:`~poseclf.video.run.run_video` shows; ``label_frames`` leaves it None. ``reps`` is
    what the overlay shows of the repetitions (live angles, the last repetition's form; None
    without a :class:`~poseclf.video.reps.RepetitionTracker`). With a
    :class:`~poseclf.video.falls.FallDetector`, ``fall_alarm`` says whether the fall alarm is on
    (``fall_on_floor_s``: the time on the floor so far) and ``fall_event`` is the event raised on
    this frame, if any.

    ``person`` is the person's id in a several-people run (:mod:`poseclf.video.people`), else
    None.

    It is what the annotators of :mod:`poseclf.pictures.draw` draw (an
    :class:`~poseclf.pictures.draw.Annotation`): the smoothed label, its confidence when it is a
    class, and one bar per class of ``classes``.
    """

    index: int
    frame: np.ndarray
    pose: Pose | None
    probabilities: np.ndarray | None
    reason: str
    smoothed: SmoothedResult
    repetitions: int | None
    classes: tuple[str, ...] = ()
    count_class: str | None = None
    rate: float | None = None
    reps: RepsFrame | None = None
    fall_alarm: bool = False
    fall_on_floor_s: float | None = None
    fall_event: FallEvent | None = None
    person: int | None = None

    @property
    def label(self) -> str:
        """The shown (smoothed) label: a class or the absent reason."""
        return self.smoothed.label

    @property
    def confidence(self) -> float | None:
        """The smoothed probability of the shown label; None when it is not a class."""
        return self.smoothed.confidence if self.smoothed.label in self.classes else None

    @property
    def bars(self) -> np.ndarray:
        """The smoothed probability of each class (drawn as bars)."""
        return self.smoothed.probabilities


@dataclass
class PersonTally:
    """One person of a several-people run: frames from first to last seen, frames with a pose
    and with a classified pose, label changes, repetitions counted (None without a counter)."""

    first_frame: int
    last_frame: int = 0
    pose_frames: int = 0
    detected_frames: int = 0
    label_switches: int = 0
    repetitions: int | None = None


@dataclass
class VideoReport:
    """What a :func:`~poseclf.video.run.run_video` run did.

    Attributes
    ----------
    info : VideoInfo
    frames : int
        Frames processed (= rows in the timeline = frames in the output video).
    detected_frames : int
        Frames with a classified pose (neither absent nor rejected).
    pose_frames : int
        Frames where BlazePose found a person.
    rejected_frames : int
        Frames with a person that the model answered ``unknown`` or ``partial``.
    repetitions : int or None
        Repetitions counted (None without ``count``).
    label_switches, raw_label_switches : int
        Changes of the shown (smoothed) and of the per-frame label, absent labels included.
    elapsed_s : float
        Wall time of the loop.
    stop_reason : {"end", "max_frames", "interrupted", "terminated", "quit"}
    output, timeline, reps, reps_plot, falls : Path or None
        The files written (None when not asked for, or when no frame was processed: an
        existing file is then left as it was).
    measured : list of Repetition
        Each counted repetition measured (:mod:`poseclf.video.reps`; empty unless asked for).
    fall_events : list of FallEvent
        The falls raised (``falls``), with their snapshots' file names.
    classes : list of str
    people : dict of int to PersonTally
        Each person of a several-people run (``people`` > 1), by id; empty otherwise (the
        frame counts above then count a frame when anyone in it qualifies).
    """

    info: VideoInfo
    classes: list[str]
    frames: int = 0
    detected_frames: int = 0
    pose_frames: int = 0
    rejected_frames: int = 0
    repetitions: int | None = None
    label_switches: int = 0
    raw_label_switches: int = 0
    elapsed_s: float = 0.0
    stop_reason: str = STOP_END
    output: Path | None = None
    timeline: Path | None = None
    count_class: str | None = None
    measured: list = field(default_factory=list)
    reps: Path | None = None
    reps_plot: Path | None = None
    falls: Path | None = None
    fall_events: list = field(default_factory=list)
    people: dict = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time."""
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def interrupted(self) -> bool:
        """Stopped by Ctrl-C, SIGTERM or SIGHUP."""
        return self.stop_reason in (STOP_INTERRUPTED, STOP_TERMINATED)
