"""RepetitionCounter on synthetic probability sequences: clean reps, wavering, dropouts."""

from __future__ import annotations

import numpy as np
import pytest

from poseclf.video.counting import IN, OUT, UNKNOWN, RepetitionCounter


def run(counter: RepetitionCounter, sequence) -> list[int]:
    """Frames on which a repetition completed."""
    return [i for i, p in enumerate(sequence) if counter.update(p)]


def reps(n: int, low: float = 0.05, high: float = 0.95, hold: int = 8) -> list[float]:
    return ([low] * hold + [high] * hold) * n + [low] * hold


@pytest.mark.parametrize("n", [1, 3, 10])
def test_counts_each_entry_once(n):
    counter = RepetitionCounter("down")
    completed = run(counter, reps(n))
    assert counter.count == n
    assert completed == [16 * k + 8 for k in range(n)]


def test_wavering_between_the_thresholds_does_not_count():
    rng = np.random.default_rng(1)
    counter = RepetitionCounter("down", enter=0.6, exit=0.4)
    sequence = [0.1, *rng.uniform(0.41, 0.59, 200), 0.9, *rng.uniform(0.41, 0.99, 50)]
    run(counter, sequence)
    assert counter.count == 1


def test_flicker_around_a_single_threshold_counts_once():
    counter = RepetitionCounter("down", enter=0.6, exit=0.4)
    run(counter, [0.1, 0.62, 0.58, 0.61, 0.55, 0.65, 0.1])
    assert counter.count == 1


def test_starting_inside_the_class_is_not_a_repetition():
    counter = RepetitionCounter("down")
    run(counter, [0.9] * 10 + [0.1] * 5 + [0.9] * 5)
    assert counter.count == 1


def test_short_dropouts_keep_the_state():
    counter = RepetitionCounter("down", max_missing=5)
    sequence = [0.1] * 5 + [None] * 5 + [0.9] * 5 + [None] * 5 + [0.9] * 3 + [0.1] * 3
    run(counter, sequence)
    assert counter.count == 1


def test_long_absence_forgets_in_or_out():
    counter = RepetitionCounter("down", max_missing=5)
    run(counter, [0.1] * 5 + [None] * 6)
    assert counter.state == UNKNOWN
    run(counter, [0.9] * 5)  # back in view already down: not a repetition
    assert (counter.count, counter.state) == (0, IN)
    run(counter, [0.1, 0.9])
    assert counter.count == 1


def test_states_follow_the_thresholds():
    counter = RepetitionCounter("down")
    states = []
    for p in (0.5, 0.4, 0.5, 0.6, 0.5, 0.41):
        counter.update(p)
        states.append(counter.state)
    assert states == [UNKNOWN, OUT, OUT, IN, IN, IN]


def test_index_in_names_the_choices():
    counter = RepetitionCounter("squat_down")
    assert RepetitionCounter("down").index_in(["up", "down"]) == 1
    with pytest.raises(ValueError, match="cannot count 'squat_down': .* classes are up, down"):
        counter.index_in(["up", "down"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"enter": 0.4, "exit": 0.6}, "need 0 <= exit < enter <= 1"),
     ({"enter": 1.2}, "need 0 <= exit < enter <= 1"),
     ({"max_missing": -2}, "max_missing must be an integer >= 0"),
     ({"min_out": 1.5}, "min_out must be an integer >= 0")],
)
def test_invalid_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RepetitionCounter("down", **kwargs)


def test_reset_starts_over():
    counter = RepetitionCounter("down")
    run(counter, reps(2))
    counter.reset()
    assert (counter.count, counter.state) == (0, UNKNOWN)
    assert counter.missing_frames == 0


def test_a_short_dip_out_of_the_class_is_not_a_new_repetition():
    """The squat.mp4 case: on the way up the probability fell below exit for 3 frames and rose
    again; with min_out 6 that is no second entry, a real out phase still counts."""
    dip = [0.05] * 8 + [0.9] * 8 + [0.35] * 3 + [0.9] * 4 + [0.05] * 8
    assert run(RepetitionCounter("down"), dip) == [8, 19]  # without min_out: counted twice
    counter = RepetitionCounter("down", min_out=6)
    assert run(counter, dip) == [8]
    assert counter.count == 1 and counter.state == OUT
    assert run(counter, [0.05] * 5 + [0.9]) == [5]  # out 13 frames by now: counts


def test_min_out_counts_frames_with_a_pose_only():
    counter = RepetitionCounter("down", min_out=4, max_missing=10)
    run(counter, [0.05, 0.05, None, None, None, None, 0.9])  # out 2 frames + a dropout
    assert counter.count == 0
    run(counter, [0.05] * 4 + [0.9])
    assert counter.count == 1
