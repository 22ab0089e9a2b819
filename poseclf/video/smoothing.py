"""Stable labels from noisy per-frame class probabilities.

Two stages, both per frame and O(window x n_classes):

1. **Probability smoothing**: an exponential moving average over the last ``window`` frames,
   the method of MediaPipe's pose-classification example (``EMADictSmoothing``: window 10,
   alpha 0.2). The newest frame has weight 1, the one before ``1 - alpha``, then
   ``(1 - alpha)**2``, ...; the weighted sum is divided by the sum of the weights.
2. **Label hysteresis**: the shown label changes only when another class has been ahead of it
   by at least ``margin`` (in smoothed probability) for ``min_frames`` frames in a row.

Frames without a usable pose (no person, or a pose the model rejects as "unknown" or
"partial") are given as
``None``. Up to ``max_missing`` of them in a row are bridged: the label and the probabilities
are held, so a short detection dropout changes nothing. After that the shown label becomes the
absent label (``"no_person"`` by default, or the reason given to :meth:`LabelSmoother.update`)
and the history is cleared, so a person who comes back starts afresh.

All lengths are in frames. For a stream at ``fps`` frames per second, :func:`seconds_to_frames`
converts a duration; the defaults at 30 fps: window 10 frames = 0.33 s, min_frames 1 = 0.03 s,
max_missing 5 = 0.17 s (at 5 fps: 2 s, 0.2 s, 1 s).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..pose.landmarks import NO_PERSON

# The smoother's defaults live where --help reads them without NumPy; still importable here.
from .defaults import (
    DEFAULT_ALPHA,
    DEFAULT_MARGIN,
    DEFAULT_MAX_MISSING,
    DEFAULT_MIN_FRAMES,
    DEFAULT_WINDOW,
)
from .defaults import DEFAULT_MAX_MISSING_VIDEO as DEFAULT_MAX_MISSING_VIDEO
from .defaults import DEFAULT_WINDOW_VIDEO as DEFAULT_WINDOW_VIDEO


def seconds_to_frames(seconds: float, fps: float, *, minimum: int = 1) -> int:
    """Number of frames (at least ``minimum``) that lasts ``seconds`` at ``fps`` frames/s.

    >>> seconds_to_frames(0.33, 30)
    10
    >>> seconds_to_frames(0.1, 5)
    1
    """
    if not fps > 0 or not math.isfinite(fps):
        raise ValueError(f"fps must be a positive number to convert seconds to frames, got {fps!r}")
    if seconds < 0:
        raise ValueError(f"a duration must be >= 0 seconds, got {seconds!r}")
    return max(minimum, int(round(seconds * fps)))


def _length_error(value) -> ValueError:
    return ValueError(f"{value!r}: give frames (an integer, e.g. 10) or seconds (e.g. 0.3s)")


def parse_length(value: int | float | str, *, minimum: int = 1) -> int | float:
    """Check a length given as frames or seconds, without a frame rate.

    Returns the frames as an ``int`` (``10`` or ``"10"``, at least ``minimum``) or the seconds
    as a ``float`` (``"0.3s"``: finite, above 0, or 0 too when ``minimum`` is 0). The one
    syntax check of ``--window``, ``--min-frames`` and ``--max-missing``.

    >>> parse_length("0.5s"), parse_length("4"), parse_length("0", minimum=0)
    (0.5, 4, 0)
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text.endswith("s"):
            try:
                seconds = float(text[:-1])
            except ValueError:
                raise _length_error(value) from None
            if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and minimum > 0):
                raise ValueError(f"{value!r}: give a duration {'>=' if minimum <= 0 else '>'} "
                                 "0 seconds (e.g. 0.3s) or frames (e.g. 10)")
            return seconds
        try:
            value = int(text)
        except ValueError:
            raise _length_error(value) from None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _length_error(value)
    if not math.isfinite(value) or int(value) != value or value < minimum:
        raise ValueError(f"a frame count must be an integer >= {minimum}, got {value!r}")
    return int(value)


def frames_or_seconds(value: int | float | str, fps: float | None, *, minimum: int = 1) -> int:
    """Frames from ``10`` / ``"10"`` (frames) or ``"0.33s"`` (seconds, needs ``fps``).

    >>> frames_or_seconds("0.5s", 30)
    15
    >>> frames_or_seconds("4", None)
    4
    """
    parsed = parse_length(value, minimum=minimum)
    if isinstance(parsed, int):
        return parsed
    if fps is None or not fps > 0:
        raise ValueError(f"{value!r} is in seconds but the frame rate is unknown; "
                         "give frames instead (e.g. 10)")
    return seconds_to_frames(parsed, fps, minimum=minimum)


class MovingAverage:
    """MediaPipe's EMA over the last ``window`` frames, of a vector of ``width`` values.

    The newest frame weighs 1, the one before ``1 - alpha``, then ``(1 - alpha)**2``, ...;
    the weighted sum is divided by the sum of the weights of the frames seen (at most
    ``window``). :class:`LabelSmoother` averages class probabilities with it, and the video
    loop joint angles (:class:`~poseclf.video.reps.AngleTracker`). O(window x width) per frame.

    >>> average = MovingAverage(1, window=3, alpha=0.5)
    >>> [float(average.push([v])[0]) for v in (3.0, 0.0)]
    [3.0, 1.0]
    """

    def __init__(self, width: int, *, window: int = DEFAULT_WINDOW,
                 alpha: float = DEFAULT_ALPHA) -> None:
        self.width, self.window, self.alpha = int(width), int(window), float(alpha)
        # weights[k] for the frame k steps back; history is a ring buffer, newest at _head.
        self._decay = (1.0 - self.alpha) ** np.arange(self.window)
        self._history = np.zeros((self.window, self.width))
        # once the window is full the weights of the slots depend only on the newest slot:
        # one row per position of it (a lookup instead of 5 array operations per frame)
        ages = (np.arange(self.window)[:, None] - np.arange(self.window)[None, :]) % self.window
        self._full_weights = self._decay[ages] / self._decay.sum()
        self.reset()

    def reset(self) -> None:
        """Forget every frame."""
        self._history[:] = 0.0
        self._filled = 0
        self._head = -1

    @property
    def filled(self) -> int:
        """Frames in the average now (0 after :meth:`reset`, at most ``window``)."""
        return self._filled

    def push(self, values) -> np.ndarray:
        """Add one frame's ``values`` (shape ``(width,)``); returns the new average."""
        self._head = (self._head + 1) % self.window
        self._history[self._head] = values
        self._filled = min(self._filled + 1, self.window)
        if self._filled == self.window:
            return self._full_weights[self._head] @ self._history
        n = self._filled
        # age of each slot: 0 for the newest frame
        ages = (self._head - np.arange(self.window)) % self.window
        weights = np.where(ages < n, self._decay[np.minimum(ages, self.window - 1)], 0.0)
        return weights @ self._history / weights.sum()


@dataclass(frozen=True)
class SmoothedResult:
    """What the smoother shows after one frame.

    Attributes
    ----------
    label : str
        The stable label: a class, or the absent label (``"no_person"``, ...).
    confidence : float
        Smoothed probability of ``label`` (0 when it is the absent label).
    probabilities : ndarray of shape (n_classes,)
        Smoothed probability of each class (zeros after a long absence).
    raw_label : str
        This frame's own answer: the most likely class, or the absent reason.
    detected : bool
        Whether this frame had a usable pose.
    changed : bool
        Whether ``label`` changed on this frame.
    """

    label: str
    confidence: float
    probabilities: np.ndarray
    raw_label: str
    detected: bool
    changed: bool


class LabelSmoother:
    """EMA of class probabilities plus label hysteresis; feed one frame at a time.

    Parameters
    ----------
    classes : sequence of str
        Class names, in the column order of the probabilities.
    window : int, default=10
        Frames in the moving average (MediaPipe: 10; 0.33 s at 30 fps).
    alpha : float, default=0.2
        Weight decay per frame back in time, in (0, 1]; 1 keeps only the newest frame.
    min_frames : int, default=1
        Frames another class must stay ahead before the label changes (3 = 0.1 s at 30 fps);
        1 switches as soon as it is ahead by ``margin``.
    margin : float, default=0.1
        Lead in smoothed probability the new class needs over the shown one.
    max_missing : int, default=5
        Frames without a pose that are bridged (label held) before the label becomes
        the absent label (0.17 s at 30 fps); 0 shows it at once.

    Attributes
    ----------
    label : str
        The label shown now.
    probabilities : ndarray of shape (n_classes,)
        Smoothed probabilities now.
    missing_frames : int
        Consecutive frames without a pose up to now.
    n_frames : int
        Frames seen.
    n_switches : int
        Label changes so far (to and from the absent label included).

    Examples
    --------
    >>> smoother = LabelSmoother(["up", "down"], min_frames=2)
    >>> [smoother.update(p).label for p in ([0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.1, 0.9])]
    ['no_person', 'up', 'up', 'down']
    """

    def __init__(
        self,
        classes: Sequence[str],
        *,
        window: int = DEFAULT_WINDOW,
        alpha: float = DEFAULT_ALPHA,
        min_frames: int = DEFAULT_MIN_FRAMES,
        margin: float = DEFAULT_MARGIN,
        max_missing: int = DEFAULT_MAX_MISSING,
    ) -> None:
        self.classes = [str(c) for c in classes]
        if not self.classes:
            raise ValueError("LabelSmoother needs at least one class")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"class names must be unique, got {self.classes}")
        if int(window) != window or window < 1:
            raise ValueError(f"window must be an integer >= 1 frame, got {window!r}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        if int(min_frames) != min_frames or min_frames < 1:
            raise ValueError(f"min_frames must be an integer >= 1, got {min_frames!r}")
        if not 0.0 <= margin < 1.0:
            raise ValueError(f"margin must be in [0, 1), got {margin!r}")
        if int(max_missing) != max_missing or max_missing < 0:
            raise ValueError(f"max_missing must be an integer >= 0, got {max_missing!r}")
        self.window = int(window)
        self.alpha = float(alpha)
        self.min_frames = int(min_frames)
        self.margin = float(margin)
        self.max_missing = int(max_missing)
        self._average = MovingAverage(len(self.classes), window=self.window, alpha=self.alpha)
        self.reset()

    def reset(self) -> None:
        """Forget everything: the label goes back to ``"no_person"``."""
        self._average.reset()
        self.label = NO_PERSON
        self.probabilities = np.zeros(len(self.classes))
        self.missing_frames = 0
        self.n_frames = 0
        self.n_switches = 0
        self._candidate: int | None = None
        self._candidate_frames = 0

    @property
    def confidence(self) -> float:
        """Smoothed probability of the shown label (0 for the absent label)."""
        if self.label in self.classes:
            return float(self.probabilities[self.classes.index(self.label)])
        return 0.0

    def _check_proba(self, proba) -> np.ndarray:
        p = np.asarray(proba, dtype=float).reshape(-1)
        if p.shape != (len(self.classes),):
            raise ValueError(f"expected {len(self.classes)} probabilities (one per class "
                             f"{self.classes}), got shape {np.shape(proba)}")
        if not np.all(np.isfinite(p)):
            raise ValueError(f"probabilities must be finite, got {p}")
        return p

    def update(self, proba: Sequence[float] | np.ndarray | None,
               absent: str = NO_PERSON) -> SmoothedResult:
        """Take one frame's class probabilities, or ``None`` when it has no usable pose.

        Parameters
        ----------
        proba : array-like of shape (n_classes,) or None
        absent : str, default="no_person"
            Why there is no pose (e.g. ``"no_person"``, ``"unknown"``, ``"partial"``): the
            raw label of this frame and the label shown once the absence lasts.

        Returns
        -------
        SmoothedResult
        """
        self.n_frames += 1
        before = self.label
        if proba is None:
            self.missing_frames += 1
            raw_label = str(absent)
            if self.missing_frames > self.max_missing and self.label != raw_label:
                self._average.reset()
                self.probabilities = np.zeros(len(self.classes))
                self._candidate, self._candidate_frames = None, 0
                self.label = raw_label
        else:
            p = self._check_proba(proba)
            self.missing_frames = 0
            raw_label = self.classes[int(np.argmax(p))]
            self.probabilities = self._average.push(p)
            self._hysteresis()
        changed = self.label != before
        self.n_switches += changed
        return SmoothedResult(self.label, self.confidence, self.probabilities.copy(), raw_label,
                              proba is not None, changed)

    def _hysteresis(self) -> None:
        best = int(np.argmax(self.probabilities))
        shown = self.classes.index(self.label) if self.label in self.classes else None
        shown_p = self.probabilities[shown] if shown is not None else 0.0
        if best == shown or self.probabilities[best] - shown_p < self.margin:
            self._candidate, self._candidate_frames = None, 0
            return
        if best != self._candidate:
            self._candidate, self._candidate_frames = best, 0
        self._candidate_frames += 1
        if self._candidate_frames >= self.min_frames:
            self.label = self.classes[best]
            self._candidate, self._candidate_frames = None, 0
