"""Every repetition measured: where it starts, bottoms out and ends, its tempo and its angles.

The counter (:class:`~poseclf.video.counting.RepetitionCounter`) says *that* a repetition
happened: the person entered the counted class. This module says where it began and ended and
how it went, from one **key angle** (the elbow for push-ups, the knee for squats: given by the
rules file, else the angle that differs most between frames in and out of the counted class):

* **bottom**: the extreme of the key angle between the previous repetition's end and the way
  back up (its minimum, or its maximum for an angle that opens in the counted class); the
  reported bottom frame is the middle of the *hold*, the frames within
  :data:`BOTTOM_TOLERANCE_DEG` of that extreme, because a held bottom is flat and its single
  extreme frame is only noise;
* **start**: the last frame before the bottom still near the top the person came down from
  (within :data:`TOP_TOLERANCE` of the range, at least :data:`MIN_TOLERANCE_DEG`; the top is
  the level the person stood at, see :func:`_edge`);
* **end**: the first frame after the bottom near the top the person went back up to.

A repetition is closed as soon as its end is known: the angle has stayed near its new top for
:data:`SETTLE_S`, or started down again, or the next repetition was counted, or the person was
lost, or the video ended. Its time down (start to bottom) and up (bottom to end), and the
minimum, maximum and range of every named angle (:mod:`poseclf.pose.angles`, smoothed like the
probabilities) over it, go into a :class:`Repetition`; the form rules
(:mod:`poseclf.video.form_rules`) mark it good or name the rules it broke.

:class:`RepetitionTracker` does this one frame at a time inside the video loop (0.10 ms per
frame on the dev videos, against a budget of 0.2: ``bench/reps.py``); :func:`write_report`
writes the repetitions as CSV or JSON Lines and :func:`plot_repetitions` draws the angles over
time with the repetitions shaded.

Times are frame indices over the frame rate (a camera's nominal rate for a live source). The
tracker keeps every frame's smoothed angles for the plot: 128 bytes a frame, 14 MB an hour at
30 fps.

Frames are those of the smoothed angles, which lag the picture by the average's mean age (about
3 frames, 0.1 s, at the default 10-frame window): on the dev videos the ends come out 4 to 7
frames after the annotated ones, the bottoms inside the annotated bottom ranges.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..pose.angles import ANGLE_NAMES, PICTURE_SUFFIX, SIDE_FREE, TRUNK_LEAN, pose_angles
from .counting import IN, UNKNOWN
from .smoothing import DEFAULT_ALPHA, DEFAULT_WINDOW, MovingAverage

if TYPE_CHECKING:
    from ..pose.landmarks import Pose

#: Every angle column: the world angles, then the picture's (``knee_2d``).
ANGLE_COLUMNS: tuple[str, ...] = (*ANGLE_NAMES, *(f"{n}{PICTURE_SUFFIX}" for n in ANGLE_NAMES))
#: Angles the key angle is chosen among when no rules file names it (world, side-free).
KEY_CANDIDATES: tuple[str, ...] = (*SIDE_FREE, TRUNK_LEAN)
REPORT_SUFFIXES = (".csv", ".jsonl")

TOP_SHARE = 0.25  # the top level is the median of the values in the top quarter of the range
TOP_TOLERANCE = 0.10  # start/end: within 10% of the range from the top (a 60-degree push-up: 6)
#: The bottom hold: within this of the extreme, about the jitter of a smoothed BlazePose angle
#: (a 5% share of the range instead moved a slow squat's bottom 6 frames into its descent).
BOTTOM_TOLERANCE_DEG = 3.0
MIN_TOLERANCE_DEG = 3.0  # never tighter than this: smoothed BlazePose angles jitter ~2 degrees
MIN_RANGE_DEG = 15.0  # the way back up must cover this before a repetition may close early
SETTLE_S = 0.5  # s near the new top (no further rise) that closes a repetition
MAX_MISSING_S = 0.5  # s without a pose before the angles' average is forgotten
DECIMALS = 2  # angles and times in the report


# -- one repetition --------------------------------------------------------------------------
@dataclass(frozen=True)
class Repetition:
    """One counted repetition, measured.

    Attributes
    ----------
    number : int
        1 for the first repetition counted, ...
    start_frame, bottom_frame, end_frame : int
        Frame indices (see the module docstring); ``*_s`` are the same in seconds.
    key_angle : str
        The angle the repetition was cut by (``"elbow"``, ``"knee"``, ...).
    angles : dict of str to (float, float)
        Minimum and maximum of every angle (:data:`ANGLE_COLUMNS`), degrees, from the last
        frame at the top before the repetition to the first one back at it (``top_before_frame``,
        ``top_after_frame``: the start and end are 10% of the range below the top, so that
        jitter on the top does not move them; the range of motion counts from the top).
    broken : tuple of str
        Names of the form rules this repetition broke (empty: good).
    messages : tuple of str
        The message of each broken rule, in the same order.
    """

    number: int
    start_frame: int
    bottom_frame: int
    end_frame: int
    fps: float
    key_angle: str
    angles: dict[str, tuple[float, float]]
    broken: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    top_before_frame: int | None = None
    top_after_frame: int | None = None

    @property
    def start_s(self) -> float:
        return self.start_frame / self.fps

    @property
    def bottom_s(self) -> float:
        return self.bottom_frame / self.fps

    @property
    def end_s(self) -> float:
        return self.end_frame / self.fps

    @property
    def duration_s(self) -> float:
        return (self.end_frame - self.start_frame) / self.fps

    @property
    def time_down_s(self) -> float:
        return (self.bottom_frame - self.start_frame) / self.fps

    @property
    def time_up_s(self) -> float:
        return (self.end_frame - self.bottom_frame) / self.fps

    @property
    def good(self) -> bool:
        """No form rule broken."""
        return not self.broken

    def measure(self, name: str) -> float:
        """A number of this repetition by name: ``duration_s``, ``time_down_s``,
        ``time_up_s``, or ``<angle>_min``, ``_max``, ``_range`` (``knee_min``, ``elbow_2d_range``).
        """
        if name in ("duration_s", "time_down_s", "time_up_s"):
            return float(getattr(self, name))
        angle, _, stat = name.rpartition("_")
        low, high = self.angles[angle]
        return {"min": low, "max": high, "range": high - low}[stat]

    def row(self) -> dict:
        """The report row: frames, times, key angle, verdict, then min/max/range per angle."""
        row = {
            "repetition": self.number,
            "start_frame": self.start_frame, "bottom_frame": self.bottom_frame,
            "end_frame": self.end_frame,
            "start_s": round(self.start_s, DECIMALS), "bottom_s": round(self.bottom_s, DECIMALS),
            "end_s": round(self.end_s, DECIMALS),
            "duration_s": round(self.duration_s, DECIMALS),
            "time_down_s": round(self.time_down_s, DECIMALS),
            "time_up_s": round(self.time_up_s, DECIMALS),
            "top_before_frame": self.top_before_frame, "top_after_frame": self.top_after_frame,
            "key_angle": self.key_angle,
            "good": self.good,
            "broken": ";".join(self.broken),
        }
        for name in ANGLE_COLUMNS:
            low, high = self.angles[name]
            row[f"{name}_min"] = _round(low)
            row[f"{name}_max"] = _round(high)
            row[f"{name}_range"] = _round(high - low)
        return row


def _round(value: float) -> float | None:
    return None if not math.isfinite(value) else round(float(value), DECIMALS)


class Judge(Protocol):
    """What the tracker needs of form rules (:class:`~poseclf.video.form_rules.FormRules`)."""

    key_angle: str | None
    show: tuple[str, ...]

    def judge(self, repetition: Repetition) -> Repetition: ...


# -- smoothed angles -------------------------------------------------------------------------
class AngleTracker:
    """The named angles of each frame's pose, smoothed over time like the class probabilities.

    :func:`~poseclf.pose.angles.pose_angles` gives the world and picture angle of every name;
    :class:`~poseclf.video.smoothing.MovingAverage` (MediaPipe's EMA: ``window`` frames, decay
    ``alpha``) smooths them. A frame without a pose gives None and leaves the average as it was;
    after ``max_missing`` such frames in a row the average starts afresh.
    """

    def __init__(self, *, window: int = DEFAULT_WINDOW, alpha: float = DEFAULT_ALPHA,
                 max_missing: int = 15) -> None:
        self.window, self.alpha, self.max_missing = window, alpha, max_missing
        self._average = MovingAverage(len(ANGLE_COLUMNS), window=window, alpha=alpha)
        self.missing_frames = 0

    def update(self, pose: Pose | None) -> np.ndarray | None:
        """Smoothed angles (shape ``(len(ANGLE_COLUMNS),)``, degrees) or None without a pose."""
        if pose is None:
            self.missing_frames += 1
            if self.missing_frames > self.max_missing:
                self._average.reset()
            return None
        self.missing_frames = 0
        return self._average.push(pose_angles(pose).reshape(-1))  # world, then picture


# -- the repetitions of a run ----------------------------------------------------------------
@dataclass(frozen=True)
class RepsFrame:
    """What the overlay shows of the repetitions on one frame: the live angles that matter
    (``shown``: (name, degrees or None)) and the last repetition closed (None before the first).
    """

    shown: tuple[tuple[str, float | None], ...]
    last: Repetition | None = None


@dataclass
class _Pending:
    """A counted repetition not yet closed."""

    entry: int  # row of the frame it was counted on
    exit: int | None = None  # first row after it out of the class
    sign: float = 1.0  # +1: the bottom is the key angle's minimum; -1: its maximum


class RepetitionTracker:
    """Measure each counted repetition, one frame at a time (see the module docstring).

    Parameters
    ----------
    fps : float
        Frame rate: times in the report and the lengths in seconds above.
    key_angle : str, optional
        The angle repetitions are cut by (an :data:`ANGLE_COLUMNS` name); None: chosen from the
        data (the one of :data:`KEY_CANDIDATES` whose mean differs most in and out of the class).
    rules : FormRules, optional
        Form rules (:class:`~poseclf.video.form_rules.FormRules`, or any :class:`Judge`)
        checked on each repetition; its key angle and shown angles are used when ``key_angle``
        and ``show`` are not given.
    show : sequence of str, optional
        Angles shown live on the overlay (default: the rules' ``show``, else the key angle).
    window, alpha : smoothing of the angles (default: those of the probabilities).

    Attributes
    ----------
    repetitions : list of Repetition
        The repetitions closed so far.
    """

    def __init__(self, fps: float, *, key_angle: str | None = None,
                 rules: Judge | None = None, show: Sequence[str] | None = None,
                 window: int = DEFAULT_WINDOW, alpha: float = DEFAULT_ALPHA) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps!r}")
        self.fps = float(fps)
        self.rules = rules
        key = key_angle or (rules.key_angle if rules is not None else None)
        if key is not None and key not in ANGLE_COLUMNS:
            raise ValueError(f"unknown key angle {key!r}; the angles are "
                             f"{', '.join(ANGLE_COLUMNS)}")
        self.key_angle = key
        self.show = tuple(show or (rules.show if rules is not None and rules.show else ()))
        for name in self.show:
            if name not in ANGLE_COLUMNS:
                raise ValueError(f"unknown angle {name!r} to show; the angles are "
                                 f"{', '.join(ANGLE_COLUMNS)}")
        self.angles = AngleTracker(window=window, alpha=alpha,
                                   max_missing=max(1, round(MAX_MISSING_S * self.fps)))
        self.settle = max(1, round(SETTLE_S * self.fps))
        self.repetitions: list[Repetition] = []
        # every frame: its index and smoothed angles (NaN without a pose); grown by doubling
        self._frames = np.zeros(0, np.int64)
        self._values = np.zeros((0, len(ANGLE_COLUMNS)), np.float32)
        self._n = 0
        self._lo = 0  # row where the next repetition may start (the last one's end)
        self._pending: _Pending | None = None
        # running sums of the key candidates in and out of the class (auto key angle)
        self._candidates = [ANGLE_COLUMNS.index(n) for n in KEY_CANDIDATES]
        self._sums = np.zeros((2, len(self._candidates)))
        self._counts = np.zeros((2, len(self._candidates)))

    # -- per frame ---------------------------------------------------------------------------
    def update(self, index: int, pose: Pose | None, state: str,
               counted: bool) -> tuple[RepsFrame, Repetition | None]:
        """Take one frame: its pose, the counter's state after it (``"in"``, ``"out"``,
        ``"unknown"``) and whether a repetition was counted on it.

        Returns what the overlay shows, and the repetition closed on this frame (or None).
        """
        angles = self.angles.update(pose)
        row = self._append(index, angles)
        if self.key_angle is None and angles is not None and state != UNKNOWN:
            inside = state == IN
            values = angles[self._candidates]
            ok = np.isfinite(values)
            self._sums[int(inside)] += np.where(ok, values, 0.0)
            self._counts[int(inside)] += ok
        closed = None
        pending = self._pending
        if counted:
            if pending is not None:  # the last one never came back up clearly: close it here
                closed = self._close(pending, row)
            self._pending = _Pending(entry=row)
        elif pending is not None:
            if state == UNKNOWN:
                closed = self._close(pending, row)
            elif state != IN:
                if pending.exit is None:
                    pending.exit = row
                    pending.sign = self._sign(pending)
                if self._settled(pending, row):
                    closed = self._close(pending, row)
        key = self.current_key()
        names = self.show or ((key,) if key else ())
        shown = tuple((n, None if angles is None else float(angles[ANGLE_COLUMNS.index(n)]))
                      for n in names)
        last = self.repetitions[-1] if self.repetitions else None
        return RepsFrame(shown, last), closed

    def finish(self) -> Repetition | None:
        """Close the repetition still open at the end of the video (None when there is none)."""
        pending, self._pending = self._pending, None
        if pending is None or self._n == 0:
            return None
        if pending.exit is None:
            pending.exit = self._n
            pending.sign = self._sign(pending)
        return self._close(pending, self._n - 1)

    def current_key(self) -> str | None:
        """The key angle now: the given one, or the candidate that differs most in and out of
        the class so far (None before the person has been both)."""
        if self.key_angle is not None:
            return self.key_angle
        if not (self._counts > 0).all(axis=0).any():
            return None
        with np.errstate(invalid="ignore", divide="ignore"):
            means = self._sums / self._counts
        gap = np.nan_to_num(np.abs(means[1] - means[0]), nan=-1.0)
        return KEY_CANDIDATES[int(np.argmax(gap))]

    @property
    def frames(self) -> np.ndarray:
        """Index of every frame seen, shape (n,)."""
        return self._frames[: self._n]

    @property
    def values(self) -> np.ndarray:
        """Smoothed angles of every frame seen (NaN without a pose), shape (n, n_angles)."""
        return self._values[: self._n]

    # -- inside ------------------------------------------------------------------------------
    def _append(self, index: int, angles: np.ndarray | None) -> int:
        if self._n == len(self._frames):
            size = max(256, 2 * self._n)
            self._frames = np.resize(self._frames, size)
            values = np.full((size, len(ANGLE_COLUMNS)), np.nan, np.float32)
            values[: self._n] = self._values[: self._n]
            self._values = values
        self._frames[self._n] = index
        self._values[self._n] = np.nan if angles is None else angles
        self._n += 1
        return self._n - 1

    def _key_series(self, sign: float, stop: int) -> np.ndarray:
        """sign x key angle from ``_lo`` to ``stop`` (inclusive): its bottom is the minimum."""
        key = ANGLE_COLUMNS.index(self.current_key() or KEY_CANDIDATES[0])
        return sign * self._values[self._lo: stop + 1, key].astype(np.float64)

    def _sign(self, pending: _Pending) -> float:
        """+1 when the key angle is smaller in the class than before it (elbow, knee), -1 when
        larger."""
        series = self._key_series(1.0, pending.exit)
        entry = pending.entry - self._lo
        before, inside = series[:entry], series[entry:]
        if np.isfinite(before).any() and np.isfinite(inside).any():
            return 1.0 if np.nanmean(inside) <= np.nanmean(before) else -1.0
        return 1.0

    def _settled(self, pending: _Pending, row: int) -> bool:
        """Whether the way back up is over: near the new top for ``settle`` frames, or down
        again."""
        a = self._key_series(pending.sign, row)
        bottom = _bottom(a, pending.exit - self._lo)
        if bottom is None:
            return False
        after = a[bottom:]
        top = np.nanmax(after)
        rise = top - a[bottom]
        if not rise >= MIN_RANGE_DEG:
            return False
        tolerance = max(MIN_TOLERANCE_DEG, TOP_TOLERANCE * rise)
        near = np.flatnonzero(after >= top - tolerance)
        reached = bottom + int(near[0])
        last = a[-1]
        return len(a) - 1 - reached >= self.settle or (np.isfinite(last)
                                                        and last < top - tolerance)

    def _close(self, pending: _Pending, row: int) -> Repetition:
        """Cut the repetition out of rows ``_lo .. row`` and measure it."""
        if pending.exit is None:
            pending.exit = row
            pending.sign = self._sign(pending)
        a = self._key_series(pending.sign, row)
        lo = self._lo
        extreme = _bottom(a, pending.exit - lo)
        if extreme is None:
            start = bottom = end = top_before = top_after = pending.entry - lo
        else:
            start, top_before = _edge(a[: extreme + 1], from_end=True)
            end, top_after = _edge(a[extreme:], from_end=False)
            end, top_after = extreme + end, extreme + top_after
            hold = np.flatnonzero(a[start: end + 1] <= a[extreme] + BOTTOM_TOLERANCE_DEG)
            bottom = start + int(round(float(np.median(hold))))
        values = self._values[lo + top_before: lo + top_after + 1]
        angles = {}
        for i, name in enumerate(ANGLE_COLUMNS):
            column = values[:, i]
            ok = column[np.isfinite(column)]
            angles[name] = ((float(ok.min()), float(ok.max())) if ok.size
                            else (math.nan, math.nan))
        frames = self._frames
        repetition = Repetition(
            number=len(self.repetitions) + 1,
            start_frame=int(frames[lo + start]), bottom_frame=int(frames[lo + bottom]),
            end_frame=int(frames[lo + end]), fps=self.fps,
            top_before_frame=int(frames[lo + top_before]),
            top_after_frame=int(frames[lo + top_after]),
            key_angle=self.current_key() or KEY_CANDIDATES[0], angles=angles)
        if self.rules is not None:
            repetition = self.rules.judge(repetition)
        self.repetitions.append(repetition)
        self._lo = lo + end
        if self._pending is pending:
            self._pending = None
        return repetition


def _bottom(a: np.ndarray, exit: int) -> int | None:
    """Row of the minimum of ``a`` up to ``exit`` (the first row out of the class again), None
    when the key angle was never measured there. Not later: a repetition closed by the next one's
    entry must not take the next one's (deeper) bottom."""
    head = a[: exit + 1]
    return int(np.nanargmin(head)) if np.isfinite(head).any() else None


def _edge(a: np.ndarray, *, from_end: bool) -> tuple[int, int]:
    """In ``a`` (the way down, ending at its minimum, or the way up, starting at it): the frame
    nearest the minimum that is still near the top (the start or end), and the one nearest it
    that is at the top level itself (where the range of motion is measured from or to).

    The top is the median of the values in the top quarter of the range of ``a`` (the plateau
    the person stood at), not its maximum: a cut in the video or one stray frame before a
    repetition must not move its start (push-up 4 of ``pushup2.mp4``: 0.5 s early with the
    maximum). A wider share (the upper half) takes in a slow descent and starts 0.7 s late
    (the first squat of ``squat.mp4``).
    """
    low, high = np.nanmin(a), np.nanmax(a)
    upper = a[a >= high - TOP_SHARE * (high - low)]
    top = float(np.median(upper))
    tolerance = max(MIN_TOLERANCE_DEG, TOP_TOLERANCE * (top - low))
    near = np.flatnonzero(a >= top - tolerance)
    at_top = np.flatnonzero(a >= top)
    if from_end:
        return int(near[-1]), int(at_top[-1])
    return int(near[0]), int(at_top[0])


# -- the report ------------------------------------------------------------------------------
def report_text(repetitions: Sequence[Repetition], max_rows: int = 20) -> str:
    """A short table for the summary: one line per repetition (times, key angle, verdict)."""
    if not repetitions:
        return "no repetition measured"
    lines = [f"{'rep':>3} {'start':>7} {'end':>7} {'down':>5} {'up':>5} "
             f"{'key angle':<12} {'min':>5} {'max':>5}  form"]
    for r in list(repetitions)[:max_rows]:
        low, high = r.angles[r.key_angle]
        verdict = "good" if r.good else "broke " + ", ".join(r.broken)
        lines.append(f"{r.number:>3} {r.start_s:>6.2f}s {r.end_s:>6.2f}s {r.time_down_s:>4.1f}s "
                     f"{r.time_up_s:>4.1f}s {r.key_angle:<12} {low:>5.0f} {high:>5.0f}  {verdict}")
    if len(repetitions) > max_rows:
        lines.append(f"... {len(repetitions) - max_rows} more in the report file")
    return "\n".join(lines)


def format_report(repetitions: Sequence[Repetition], suffix: str) -> str:
    """The report as the text of a ``.csv`` or ``.jsonl`` file."""
    rows = [r.row() for r in repetitions]
    if suffix == ".jsonl":
        return "".join(json.dumps(row) + "\n" for row in rows)
    out = io.StringIO()
    columns = list(Repetition(0, 0, 0, 0, 1.0, KEY_CANDIDATES[0],
                              dict.fromkeys(ANGLE_COLUMNS, (0.0, 0.0))).row())
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_report(repetitions: Sequence[Repetition], path: str | os.PathLike) -> Path:
    """Write the report to ``path`` (``.csv`` or ``.jsonl``, by its extension)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        raise ValueError(f"{path}: a repetition report is written as .csv or .jsonl")
    path.write_text(format_report(repetitions, suffix), encoding="utf-8")
    return path


# -- the picture -----------------------------------------------------------------------------
GOOD_COLOR = "#2ca02c"
BROKEN_COLOR = "#d62728"


def plot_repetitions(tracker: RepetitionTracker, names: Sequence[str] | None = None,
                     title: str | None = None):
    """A matplotlib figure of the angles over time with the repetitions shaded: green when
    good, red with the names of the rules broken; the bottom of each is marked. Returned, not
    shown (``fig.savefig(path)``).

    ``names`` are the angles drawn (default: the tracker's shown angles, else its key angle
    and the side-free ones that moved most over the repetitions).
    """
    from matplotlib.figure import Figure

    reps = tracker.repetitions
    key = reps[-1].key_angle if reps else tracker.current_key()
    names = list(names or tracker.show or ([key] if key else list(KEY_CANDIDATES[:2])))
    if key and key not in names:
        names.insert(0, key)
    times = tracker.frames / tracker.fps
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for name in names:
        column = tracker.values[:, ANGLE_COLUMNS.index(name)]
        ax.plot(times, column, lw=2.2 if name == key else 1.2, label=name)
    drawn = tracker.values[:, [ANGLE_COLUMNS.index(n) for n in names]]
    top = float(np.nanmax(drawn)) if np.isfinite(drawn).any() else 180.0
    for r in reps:
        color = GOOD_COLOR if r.good else BROKEN_COLOR
        ax.axvspan(r.start_s, r.end_s, color=color, alpha=0.15, lw=0)
        if key:
            row = np.searchsorted(tracker.frames, r.bottom_frame)
            if row < len(times):
                ax.plot([r.bottom_s], [tracker.values[row, ANGLE_COLUMNS.index(key)]], "v",
                        color=color, ms=8)
        text = f"{r.number}" + ("" if r.good else "\n" + "\n".join(r.broken))
        ax.text((r.start_s + r.end_s) / 2, 0.98, text, ha="center", va="top",
                color=color, fontsize=8, fontweight="bold", transform=ax.get_xaxis_transform())
    ax.set_ylim(top=top + 30 if np.isfinite(top) else 200.0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("angle (degrees, smoothed)")
    good = sum(r.good for r in reps)
    ax.set_title(title or f"{len(reps)} repetitions measured, {good} good "
                 f"(key angle: {key or 'none'})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, ncols=min(4, len(names)))
    return fig
