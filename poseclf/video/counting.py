"""Repetition counting: entries into one class, with enter/exit hysteresis on its probability.

A repetition is counted when the person **enters** the counted class (its smoothed probability
rises to ``enter`` or above) after having been seen **out** of it (probability at or below
``exit``). Between the two thresholds nothing changes, so a probability wavering around one
value cannot count twice. MediaPipe's pose-classification example uses the same two thresholds
(6 and 4 of 10 k-NN neighbours, i.e. 0.6 and 0.4).

Needing an "out" phase first means a video that starts inside the class (e.g. at the bottom of a
push-up) does not count that half repetition, and someone who walks out of view and back does
not count one either: after more than ``max_missing`` frames without a pose the counter forgets
whether the person was in or out. Shorter dropouts are bridged.

``min_out`` asks for the "out" phase to last a few frames: on the way up from a front-view squat
the probability dipped below ``exit`` for 3 frames and rose again, which counted a repetition
that never happened (``bench/rejection.py``, ``squat.mp4``). Real repetitions spend far longer
out of the counted class (push-ups in ``pushup2.mp4``: 1 s or more).
"""

from __future__ import annotations

from collections.abc import Sequence

ENTER_THRESHOLD = 0.6  # MediaPipe pose classification: 6 of 10 neighbours
EXIT_THRESHOLD = 0.4  # MediaPipe pose classification: 4 of 10 neighbours
MAX_MISSING = 15  # frames without a pose bridged: 0.5 s at 30 fps
MIN_OUT = 0  # frames out of the class before an entry counts (poseclf video: 0.2 s)

#: Counter states.
UNKNOWN, OUT, IN = "unknown", "out", "in"


class RepetitionCounter:
    """Count entries into a class from its (smoothed) probability, one frame at a time.

    Parameters
    ----------
    class_name : str
        The counted class (e.g. ``"pushups_down"``); used to pick its column with
        :meth:`index_in` and for display.
    enter : float, default=0.6
        Probability at or above which the person is in the class.
    exit : float, default=0.4
        Probability at or below which the person is out of it; ``exit < enter``.
    max_missing : int, default=15
        Frames without a pose (``update(None)``) bridged without losing the state
        (0.5 s at 30 fps); after that the state becomes unknown.
    min_out : int, default=0
        Frames with a pose the person must stay out of the class (below ``enter`` since the
        probability fell to ``exit``) before the next entry counts; a shorter dip is ignored
        (the person is taken as still in).

    Attributes
    ----------
    count : int
        Repetitions counted so far.
    state : {"unknown", "out", "in"}
        Where the person is now; ``"unknown"`` at the start and after a long absence.
    missing_frames : int
        Consecutive frames without a pose up to now.
    out_frames : int
        Frames with a pose since the person last went out (0 when in or unknown).

    Examples
    --------
    >>> counter = RepetitionCounter("down")
    >>> [counter.update(p) for p in (0.1, 0.7, 0.5, 0.3, 0.9)]
    [False, True, False, False, True]
    >>> counter.count
    2
    """

    def __init__(self, class_name: str, *, enter: float = ENTER_THRESHOLD,
                 exit: float = EXIT_THRESHOLD, max_missing: int = MAX_MISSING,
                 min_out: int = MIN_OUT) -> None:
        if not 0.0 <= exit < enter <= 1.0:
            raise ValueError(f"need 0 <= exit < enter <= 1, got enter={enter!r}, exit={exit!r}")
        if int(max_missing) != max_missing or max_missing < 0:
            raise ValueError(f"max_missing must be an integer >= 0, got {max_missing!r}")
        if int(min_out) != min_out or min_out < 0:
            raise ValueError(f"min_out must be an integer >= 0, got {min_out!r}")
        self.class_name = str(class_name)
        self.enter = float(enter)
        self.exit = float(exit)
        self.max_missing = int(max_missing)
        self.min_out = int(min_out)
        self.reset()

    def reset(self) -> None:
        """Back to zero repetitions and an unknown state."""
        self.count = 0
        self.state = UNKNOWN
        self.missing_frames = 0
        self.out_frames = 0

    def index_in(self, classes: Sequence[str]) -> int:
        """Column of the counted class among ``classes``; the error lists the choices."""
        names = [str(c) for c in classes]
        if self.class_name not in names:
            raise ValueError(f"cannot count {self.class_name!r}: the model's classes are "
                             f"{', '.join(names)}")
        return names.index(self.class_name)

    def update(self, probability: float | None) -> bool:
        """Take the class probability of one frame (``None``: no usable pose).

        Returns
        -------
        bool
            True when a repetition was completed on this frame (``count`` went up by one).
        """
        if probability is None:
            self.missing_frames += 1
            if self.missing_frames > self.max_missing:
                self.state = UNKNOWN
            return False
        self.missing_frames = 0
        p = float(probability)
        if p >= self.enter:
            entered = self.state == OUT and self.out_frames >= self.min_out
            self.state, self.out_frames = IN, 0
            self.count += entered
            return entered
        if self.state == OUT:
            self.out_frames += 1
        elif p <= self.exit:
            self.state, self.out_frames = OUT, 1
        return False
