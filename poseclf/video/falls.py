"""Fall events: upright to lying on the floor faster than a normal lying-down, then staying down.

:class:`FallDetector` takes one frame at a time (its time, the smoother's label and the pose) and
says when to raise an alarm. A fall is recognised from three things, all needed:

1. **Down, from upright**: the person goes from upright (the smoothed label ``standing`` or
   ``sitting``) to down within :data:`MAX_FALL_S` seconds. Down is any of:

   * the label ``lying``;
   * when the model answers ``unknown``/``partial`` (a lying pose unlike its training poses, the
     odd shapes of a fall: rejection stays honest), a torso within 90 - :data:`LYING_TILT_DEG`
     degrees of horizontal in the world landmarks;
   * whatever the label, **on the floor** in the picture: the hips and the shoulders both at
     most :data:`FLOOR_SHARE` of their standing height above the floor line where the feet
     stood (:func:`floor_share`, against the last frames seen ``standing``). A frame on the
     floor is never upright: a model that calls someone lying curled up on their back
     ``sitting`` neither hides the fall nor ends it.

   Frames without a pose may lie between.
2. **The hips' descent**: somewhere between :data:`DESCENT_LOOKBACK_S` before the last upright
   frame and the first lying one, the hips went down at :data:`MIN_DESCENT_M_S` metres per second
   or faster. The speed is measured in the picture (the hips' image height) and put in metres
   with the world landmarks (the body's world extent over its extent in pixels), so it does not
   depend on the camera's distance. A person lying down on purpose goes through sitting, and
   their hips are already low when the label turns to lying: no fall.
3. **The time down**: the person stays down (not seen upright for :data:`RECOVER_S`, with signs
   of lying at most :data:`MAX_GAP_S` apart) for ``after_s`` seconds from the hips' fastest
   descent (``--falls-after``, default :data:`DEFAULT_FALLS_AFTER_S`): a bend, a push-up or a
   stumble that ends upright does not alarm.

Gaps without a pose of up to :data:`MAX_GAP_S` are bridged, so a fall in which BlazePose loses the
person for a few frames is still caught, and so is an upright label shorter than
:data:`RECOVER_S` in the middle of a fall. One event is raised per fall; the alarm stays on until
the person is seen upright again (for :data:`RECOVER_S`).

**On the floor, for another camera.** A level camera at height ``h`` sees a point at height ``z``
and distance ``d`` at ``f (h - z) / d`` below the horizon. For a body part that ends at the distance
where the feet stood, its share is exactly ``z / z_standing``, whatever the camera's height,
distance and focal length: lying, about 0.1-0.2 (hips and shoulders 0.1-0.15 m above the floor, of
0.9 and 1.45 m); sitting up on the floor, the shoulders keep about 0.4 (0.6 m); measured on the dev
material, a full squat 0.45 and sitting on a chair 0.56. A body that ends ``D`` metres farther away
has the share ``(z d + h D) / (z_standing (d + D))``: with the camera at hip height, a backward
fall whose shoulders land 1.2 m farther at 3 m reads about 0.25 (s1_fall_13 measures 0.27); with a
camera 2.5 m up, 0.57: a fall away from a high camera is not "on the floor" by this rule and is
left to the label and the torso. Towards the camera the share only drops (a forward fall measured
-0.4). A person who crouches while moving half a metre towards a high camera can read low (about
0.3); the fast descent and the time down still apply. Without a frame seen standing with both
ankles in the picture there is no floor line, and the rule says nothing.

The limits (one camera, roughly level; one person; see the README's "Watching for falls") are
those of the data it was tuned on: 8 falls and 7 daily-activity clips of two people
(``bench/falls.py``).
"""

from __future__ import annotations

import json
import math
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..pose.landmarks import VISIBILITY_THRESHOLD, Pose
from .defaults import DEFAULT_FALLS_AFTER_S

LYING_CLASS = "lying"
STANDING_CLASS = "standing"  # the label whose frames give the standing reference
UPRIGHT_CLASSES = (STANDING_CLASS, "sitting")
#: s from the last upright label to the first sign of lying. On the dev clips it is 0.3 s at most
#: (a fall still looks upright or seated to the model until the person is down); 3 s leaves room
#: for a slower fall, frames lost to blur and the smoother's lag.
MAX_FALL_S = 3.0
#: s before the last upright label where the hips' fastest descent may lie: the smoothed label
#: may still say standing or sitting after the impact (0.7 s after it on the dev clips).
DESCENT_LOOKBACK_S = 1.0
#: m/s: the hips' fastest descent (over SPEED_SPAN_S) must reach this. The dev falls reach
#: 0.65-1.3 m/s (bench/falls.py); lying back from sitting barely moves the hips. No daily activity
#: of the dev material shows lying, so no deliberate quick lying-down has tested this bound.
MIN_DESCENT_M_S = 0.5
#: degrees from vertical: a torso (hips to shoulders, world landmarks) this tilted or more is
#: lying. The dev falls end at 76-123 degrees; yoga's triangle and side angle reach 63, a
#: reclining sofa sitter 63.
LYING_TILT_DEG = 70.0
#: share of their standing height above the floor line where the feet stood (in the picture) at
#: or below which the hips and the shoulders are both on the floor. Measured (bench/falls.py):
#: on the floor after the 7 dev falls with a floor line -0.43 to 0.33 (medians 0.01-0.32); the
#: material without a fall never below 0.45 (a full squat; sitting on a chair 0.56). Any value
#: from 0.30 to 0.50 gives the same bench figures; 0.35 lies below sitting up on the floor (the
#: shoulders at about 0.4 of their standing height).
FLOOR_SHARE = 0.35
#: s of standing frames (before the last one) the standing reference is taken from: the last
#: of them at least REFERENCE_SPAN of the tallest (the smoothed label still says standing while
#: a fall begins; someone walking away from the camera shrinks in the picture).
REFERENCE_S = 2.0
REFERENCE_SPAN = 0.9
SPEED_SPAN_S = 0.25  # s: the hips' speed is their displacement over this span (less jitter)
RECOVER_S = 1.0  # s seen upright (standing or sitting) that end a fall being watched
MAX_GAP_S = 2.0  # s without a pose (or with an unknown one) bridged during a fall or down
HISTORY_S = MAX_FALL_S + DESCENT_LOOKBACK_S + 1.0  # s of hip positions kept
FAST_DESCENT_M_S = 2 * MIN_DESCENT_M_S  # m/s: a descent this fast counts fully in the confidence
_HIPS = (23, 24)  # BlazePose left_hip, right_hip
_SHOULDERS = (11, 12)
_ANKLES = (27, 28)


@dataclass(frozen=True)
class FallEvent:
    """One fall, as raised.

    Attributes
    ----------
    start_s : float
        Time of the fall's start: where the hips' fast descent began (never after the last frame
        seen upright).
    alarm_s : float
        Time the alarm was raised (``start_s`` + the fall + ``after_s`` down).
    on_floor_s : float
        Time on the floor when the alarm was raised (from the hips' fastest descent, about the
        impact).
    confidence : float
        In [0, 1]: the mean smoothed probability of ``lying`` while down (1 on a frame down by
        the torso's tilt or on the floor), times the share of frames down with a pose seen,
        times the descent speed's share of :data:`FAST_DESCENT_M_S` (at most 1).
    descent_m_s : float
        The hips' fastest descent (metres per second).
    frame : int
        Index of the frame of the alarm.
    snapshot : str or None
        The PNG of the frame of the alarm, once written.
    """

    start_s: float
    alarm_s: float
    on_floor_s: float
    confidence: float
    descent_m_s: float
    frame: int
    snapshot: str | None = None

    def to_json(self) -> str:
        return json.dumps({"event": "fall", **{k: (round(v, 3) if isinstance(v, float) else v)
                                                for k, v in asdict(self).items()}})


def torso_tilt(pose: Pose | None) -> float | None:
    """Degrees between the torso (hips' to shoulders' midpoint, world landmarks) and the
    vertical (world -y: up in a level camera's picture); None without world landmarks."""
    if pose is None or pose.world_landmarks is None:
        return None
    w = pose.world_landmarks
    v = (w[11] + w[12]) / 2 - (w[23] + w[24]) / 2
    if not np.isfinite(v).all() or not np.any(v):
        return None
    return float(np.degrees(np.arctan2(np.hypot(v[0], v[2]), -v[1])))


def hips_and_scale(pose: Pose | None) -> tuple[float, float] | None:
    """(hips' image height in pixels, metres per pixel) of a pose; None without a pose or world
    landmarks.

    Metres per pixel: the diagonal of the body's world landmarks in their x-y plane (the camera's
    picture plane, metres) over the diagonal of its landmarks in the picture (pixels). Both shrink
    alike when the body is foreshortened, so the ratio holds for a lying person too.
    """
    if pose is None or pose.world_landmarks is None:
        return None
    width, height = pose.image_size
    lm, world = pose.landmarks, pose.world_landmarks
    if not (np.isfinite(lm[:, :2]).all() and np.isfinite(world[:, :2]).all()):
        return None
    pixels = lm[:, :2] * np.array([width, height], dtype=np.float32)
    diag_px = float(np.hypot(*np.ptp(pixels, axis=0)))
    diag_m = float(np.hypot(*np.ptp(world[:, :2], axis=0)))
    if diag_px <= 0 or diag_m <= 0:
        return None
    return float(pixels[list(_HIPS), 1].mean()), diag_m / diag_px


def _mid_height(pixels: np.ndarray, pair: tuple[int, int]) -> float:
    """Image height (pixels) of the midpoint of two landmarks."""
    return float(pixels[pair[0], 1] + pixels[pair[1], 1]) / 2


def standing_heights(pose: Pose | None) -> tuple[float, float, float] | None:
    """(feet, hips, shoulders): image heights in pixels of the lower ankle and of the hips' and
    the shoulders' midpoints, the reference of a person seen standing; None unless both ankles
    are in the picture and visible and the shoulders are above the hips above the feet."""
    if pose is None:
        return None
    lm, px = pose.landmarks, pose.pixels
    ankles = lm[list(_ANKLES)]
    if not (np.isfinite(px).all() and (ankles[:, 3] >= VISIBILITY_THRESHOLD).all()
            and ((ankles[:, 1] >= 0) & (ankles[:, 1] <= 1)).all()):
        return None
    feet = float(px[list(_ANKLES), 1].max())
    hips, shoulders = _mid_height(px, _HIPS), _mid_height(px, _SHOULDERS)
    return (feet, hips, shoulders) if shoulders < hips < feet else None


def floor_share(pose: Pose | None, reference: tuple[float, float, float] | None) -> float | None:
    """How high the hips and the shoulders (the higher of the two) are above the feet of the
    ``reference`` (:func:`standing_heights`: the floor line where the person stood), as a share
    of their height there while standing: 1 standing, 0 on the floor line; None without a pose
    or a reference.

    The picture's heights, not the world landmarks (whose depth BlazePose guesses worst for a
    body lying towards or away from the camera), and in shares of the person's own standing
    height, so neither the camera's distance nor the person's size matters.
    """
    if pose is None or reference is None:
        return None
    feet, hips0, shoulders0 = reference
    px = pose.pixels
    hips, shoulders = _mid_height(px, _HIPS), _mid_height(px, _SHOULDERS)
    if not (math.isfinite(hips) and math.isfinite(shoulders)):
        return None
    return max((feet - hips) / (feet - hips0), (feet - shoulders) / (feet - shoulders0))


class FallDetector:
    """Raise a :class:`FallEvent` when a person falls and stays down; one :meth:`update` per frame.

    Parameters
    ----------
    classes : sequence of str
        The model's classes; it must have ``lying`` and at least one upright class.
    after_s : float, default=DEFAULT_FALLS_AFTER_S
        Seconds down before the alarm (``--falls-after``), 0 or more.
    min_descent : float, default=MIN_DESCENT_M_S
        The hips' descent speed (m/s) a fall needs.

    Attributes
    ----------
    events : list of FallEvent
        Every event raised so far.
    alarm : bool
        Whether the alarm is on (raised, and the person not seen up again since).
    on_floor_s : float or None
        While the alarm is on, the time on the floor so far (seconds).
    """

    def __init__(self, classes: Sequence[str], *, after_s: float = DEFAULT_FALLS_AFTER_S,
                 min_descent: float = MIN_DESCENT_M_S) -> None:
        classes = [str(c) for c in classes]
        if LYING_CLASS not in classes:
            raise ValueError(f"fall events need a model with a '{LYING_CLASS}' class (such as "
                             f"the shipped sitstandlie); this one has {', '.join(classes)}")
        if not any(c in classes for c in UPRIGHT_CLASSES):
            raise ValueError(f"fall events need a model with an upright class "
                             f"({' or '.join(UPRIGHT_CLASSES)}); this one has "
                             f"{', '.join(classes)}")
        check_falls_after(after_s)
        self.classes = classes
        self.after_s = float(after_s)
        self.min_descent = float(min_descent)
        self._lying = classes.index(LYING_CLASS)
        self.events: list[FallEvent] = []
        self.alarm = False
        self.on_floor_s: float | None = None
        self._hips: deque[tuple[float, float, float]] = deque()  # (time, hips px, m per px)
        #: (time, feet, hips, shoulders px) of the last REFERENCE_S of frames seen standing
        self._standing: deque[tuple[float, float, float, float]] = deque()
        self._reference: tuple[float, float, float] | None = None  # (feet, hips, shoulders px)
        self._speeds: deque[tuple[float, float]] = deque()  # (time, descent m/s)
        self._last_upright: float | None = None
        #: (time, descent m/s or None when too long after upright, accepted) of every start
        #: of a lying phase: what was, and what was not, taken for a fall
        self.candidates: list[tuple[float, float | None, bool]] = []
        self._episode: dict | None = None  # the fall being watched (down, not yet up)
        self._blocked = False  # lying without a fall: wait for upright before watching again
        self._upright_since: float | None = None  # first frame of the current upright run
        self._last_descent: float | None = None  # the fastest descent of the last check

    def update(self, time_s: float, label: str, probabilities: Sequence[float] | None,
               pose: Pose | None, frame: int = 0) -> FallEvent | None:
        """Take one frame: its time, the smoothed ``label`` and ``probabilities``, the pose.

        Returns the :class:`FallEvent` raised on this frame, else None.
        """
        self._track_hips(time_s, pose)
        share = floor_share(pose, self._reference)
        on_floor = share is not None and share <= FLOOR_SHARE
        if label == STANDING_CLASS and not on_floor:
            self._track_standing(time_s, pose)
        episode = self._episode
        if self.alarm and episode is not None:
            self.on_floor_s = time_s - episode["down_s"]
        # hips and shoulders on the floor are not upright, whatever the label says
        if label in UPRIGHT_CLASSES and not on_floor:
            if self._upright_since is None:
                self._upright_since = time_s
            self._last_upright = time_s
            # a fall's odd middle may look like sitting for a moment: the person is up again
            # only when seen upright for RECOVER_S
            if episode is None or time_s - self._upright_since + 1e-9 >= RECOVER_S:
                self._episode, self._blocked, self.alarm = None, False, False
                self.on_floor_s = None
            return None
        self._upright_since = None
        evidence = self._down_evidence(label, probabilities, pose) or float(on_floor)
        if evidence > 0 and episode is None and not self._blocked:
            episode = self._episode = self._start(time_s)
        if episode is None:
            return None
        if evidence > 0:
            episode["last_down"] = time_s
        elif time_s - episode["last_down"] > MAX_GAP_S:  # no sign of lying for too long
            self._episode, self.alarm, self.on_floor_s = None, False, None
            return None
        episode["evidence"].append(evidence)
        if episode["raised"]:
            return None
        on_floor = time_s - episode["down_s"]
        if on_floor + 1e-9 < self.after_s:
            return None
        episode["raised"] = True
        self.alarm, self.on_floor_s = True, on_floor
        confidence = (float(np.mean(episode["evidence"]))
                      * min(1.0, episode["descent"] / FAST_DESCENT_M_S))
        event = FallEvent(start_s=episode["start_s"], alarm_s=time_s, on_floor_s=on_floor,
                          confidence=float(np.clip(confidence, 0.0, 1.0)),
                          descent_m_s=episode["descent"], frame=frame)
        self.events.append(event)
        return event

    def _down_evidence(self, label: str, probabilities, pose: Pose | None) -> float:
        """How surely this frame shows someone lying, in [0, 1]: the smoothed probability of
        ``lying`` when it is the label, else 1 when the world landmarks show a torso within
        90 - :data:`LYING_TILT_DEG` degrees of horizontal (the model may answer ``unknown`` for a
        lying pose it was not taught, or a fall's odd end), else 0. (:meth:`update` adds the
        hips and shoulders on the floor.)"""
        if label == LYING_CLASS and probabilities is not None:
            return float(np.asarray(probabilities)[self._lying])
        tilt = torso_tilt(pose)
        return 1.0 if tilt is not None and tilt >= LYING_TILT_DEG else 0.0

    def _start(self, time_s: float) -> dict | None:
        """The fall that ends down at ``time_s``, or None when it was not one (yet: the hips may
        still be on their way down; after :data:`MAX_FALL_S` from upright, no more). Each final
        answer is kept in :attr:`candidates`."""
        if self._last_upright is None or time_s - self._last_upright > MAX_FALL_S:
            self._blocked = True  # down without a fall: wait for upright before watching again
            self.candidates.append((time_s, self._last_descent, False))
            return None
        since = self._last_upright - DESCENT_LOOKBACK_S
        descent, peak_s = max(((v, t) for t, v in self._speeds if t >= since),
                              default=(0.0, time_s))
        self._last_descent = descent
        if descent < self.min_descent:
            return None
        self.candidates.append((time_s, descent, True))
        # the fall began where the hips started going down fast: back from the fastest descent
        # while they still went down at half the threshold or more
        began = peak_s
        for t, v in reversed(self._speeds):
            if t > peak_s:
                continue
            if v < 0.5 * self.min_descent:
                break
            began = t
        start_s = min(self._last_upright, max(0.0, began - SPEED_SPAN_S))
        # down from the hips' fastest descent (about the impact), not from the first lying
        # frame: the smoother's lag, or frames lost to motion blur, would delay the alarm
        return {"start_s": start_s, "down_s": min(peak_s, time_s),
                "last_down": time_s, "descent": descent, "evidence": [], "raised": False}

    def _track_standing(self, time_s: float, pose: Pose | None) -> None:
        """Keep the heights of a frame seen standing (the last :data:`REFERENCE_S` of them) and
        the standing reference they give: the last whose feet to shoulders span is
        :data:`REFERENCE_SPAN` of the tallest or more."""
        heights = standing_heights(pose)
        if heights is None:
            return
        while self._standing and self._standing[0][0] < time_s - REFERENCE_S:
            self._standing.popleft()
        self._standing.append((time_s, *heights))
        tallest = max(feet - shoulders for _, feet, _, shoulders in self._standing)
        self._reference = next((feet, hips, shoulders)
                               for _, feet, hips, shoulders in reversed(self._standing)
                               if feet - shoulders >= REFERENCE_SPAN * tallest)

    def _track_hips(self, time_s: float, pose: Pose | None) -> None:
        """Keep the hips' recent positions and their descent speed (m/s, down positive)."""
        while self._hips and self._hips[0][0] < time_s - HISTORY_S:
            self._hips.popleft()
        while self._speeds and self._speeds[0][0] < time_s - HISTORY_S:
            self._speeds.popleft()
        measured = hips_and_scale(pose)
        if measured is None:
            return
        y, scale = measured
        # the oldest position at least SPEED_SPAN_S back (within a bridged gap)
        before = None
        for t, y0, s0 in reversed(self._hips):
            if time_s - t >= SPEED_SPAN_S:
                before = (t, y0, s0)
                break
        self._hips.append((time_s, y, scale))
        if before is None or time_s - before[0] > SPEED_SPAN_S + MAX_GAP_S:
            return
        t0, y0, s0 = before
        self._speeds.append((time_s, (y - y0) * 0.5 * (scale + s0) / (time_s - t0)))


def check_falls_after(value) -> float:
    """``--falls-after``: a finite number of seconds, 0 or more."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"--falls-after must be a number of seconds, got {value!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"--falls-after must be 0 or more seconds (finite), got {value!r}")
    return seconds


class FallEventWriter:
    """Write each :class:`FallEvent` as a JSON line (flushed at once) and a PNG snapshot of its
    frame beside the events file (``events.jsonl`` -> ``events_fall1.png``, ...).

    ``file`` is where the lines go (the staged temporary of ``path`` in ``poseclf video``);
    snapshots are named after ``path``. Use as a context manager.
    """

    def __init__(self, file: str | os.PathLike, path: str | os.PathLike | None = None) -> None:
        self.file = Path(file)
        self.path = Path(path) if path is not None else self.file
        self.count = 0
        self._stream = None

    def __enter__(self) -> FallEventWriter:
        self._stream = open(self.file, "w", encoding="utf-8")  # noqa: SIM115 - closed on exit
        return self

    def __exit__(self, *exc) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def name_snapshot(self, event: FallEvent) -> FallEvent:
        """The event with the file name of its snapshot (numbered in order)."""
        self.count += 1
        return replace(event, snapshot=f"{self.path.stem}_fall{self.count}.png")

    def write(self, event: FallEvent, frame: np.ndarray | None) -> None:
        """Save the snapshot (when ``frame`` is given and the event names one), then the line."""
        import cv2

        if frame is not None and event.snapshot:
            png = self.path.parent / event.snapshot
            if not cv2.imwrite(str(png), frame):
                raise OSError(f"{png}: cannot write the fall snapshot")
        self._stream.write(event.to_json() + "\n")
        self._stream.flush()


def replay_falls(times: Sequence[float], labels: Sequence[str],
                 probabilities: Sequence[np.ndarray | None], poses: Sequence[Pose | None],
                 classes: Sequence[str], *, after_s: float = DEFAULT_FALLS_AFTER_S,
                 min_descent: float = MIN_DESCENT_M_S) -> FallDetector:
    """The :class:`FallDetector` after recorded frames (smoothed labels and probabilities,
    poses), e.g. a landmark table replayed (``bench/falls.py``); its ``events`` are the
    events raised."""
    detector = FallDetector(classes, after_s=after_s, min_descent=min_descent)
    for i, (t, label, proba, pose) in enumerate(zip(times, labels, probabilities, poses,
                                                   strict=True)):
        detector.update(t, label, proba, pose, frame=i)
    return detector
