"""LabelSmoother on synthetic probability sequences: flicker, dropouts, hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from poseclf.video.smoothing import (
    NO_PERSON,
    LabelSmoother,
    frames_or_seconds,
    parse_length,
    seconds_to_frames,
)

CLASSES = ["up", "down"]
UP, DOWN = [0.9, 0.1], [0.1, 0.9]


def labels(smoother: LabelSmoother, sequence) -> list[str]:
    return [smoother.update(p).label for p in sequence]


def switches(sequence: list[str]) -> int:
    return sum(a != b for a, b in zip(sequence[:-1], sequence[1:], strict=True))


def test_moving_average_matches_mediapipe_weights():
    # EMADictSmoothing: weights 1, (1-a), (1-a)^2 ... over the last `window` frames.
    rng = np.random.default_rng(0)
    frames = rng.dirichlet([1.0, 1.0, 1.0], size=25)
    smoother = LabelSmoother(["a", "b", "c"], window=10, alpha=0.2)
    for i, p in enumerate(frames):
        result = smoother.update(p)
        recent = frames[max(0, i - 9): i + 1][::-1]
        w = 0.8 ** np.arange(len(recent))
        np.testing.assert_allclose(result.probabilities, w @ recent / w.sum())


def test_alpha_one_keeps_only_the_newest_frame():
    smoother = LabelSmoother(CLASSES, alpha=1.0)
    smoother.update(UP)
    np.testing.assert_allclose(smoother.update(DOWN).probabilities, DOWN)


@pytest.mark.parametrize(("period", "min_frames"), [(1, 1), (2, 1), (3, 3), (5, 6)])
def test_flicker_of_a_wrong_class_does_not_change_the_label(period, min_frames):
    # `period` frames of the wrong class between 6 right ones: the raw label flickers.
    block = [UP] * 6 + [DOWN] * period
    sequence = [UP] * 10 + block * 8
    smoother = LabelSmoother(CLASSES, min_frames=min_frames)
    shown = labels(smoother, sequence)
    raw = [CLASSES[int(np.argmax(p))] for p in sequence]
    assert switches(raw) == 15
    assert set(shown[5:]) == {"up"}


def test_a_real_change_is_followed_after_min_frames():
    smoother = LabelSmoother(CLASSES, min_frames=3)
    shown = labels(smoother, [UP] * 20 + [DOWN] * 20)
    assert shown[-1] == "down"
    assert switches(shown[shown.index("up"):]) == 1
    first_down = shown.index("down")
    # the averaged lead takes a couple of frames, then min_frames more
    assert 20 + 3 <= first_down + 1 <= 20 + 10


@pytest.mark.parametrize("min_frames", [1, 4, 8])
def test_min_frames_delays_the_switch_by_that_many_frames(min_frames):
    shown = labels(LabelSmoother(CLASSES, alpha=1.0, margin=0.0, min_frames=min_frames),
                   [UP] * 10 + [DOWN] * 10)
    assert shown.index("down") == 10 + min_frames - 1


def test_margin_blocks_a_class_that_is_barely_ahead():
    smoother = LabelSmoother(CLASSES, alpha=1.0, margin=0.3, min_frames=1)
    assert labels(smoother, [UP, [0.4, 0.6], [0.4, 0.6]])[-1] == "up"
    assert smoother.update([0.3, 0.7]).label == "down"


def test_short_dropouts_are_bridged():
    smoother = LabelSmoother(CLASSES, max_missing=5)
    labels(smoother, [UP] * 10)
    before = smoother.probabilities.copy()
    results = [smoother.update(None) for _ in range(5)]
    assert [r.label for r in results] == ["up"] * 5
    assert [r.raw_label for r in results] == [NO_PERSON] * 5
    assert not any(r.detected for r in results)
    np.testing.assert_allclose(smoother.probabilities, before)
    assert smoother.update(UP).label == "up"
    assert smoother.n_switches == 1  # only no_person -> up at the start


def test_long_absence_shows_no_person_and_forgets_history():
    smoother = LabelSmoother(CLASSES, max_missing=3, min_frames=2)
    labels(smoother, [UP] * 10)
    shown = labels(smoother, [None] * 5)
    assert shown == ["up", "up", "up", NO_PERSON, NO_PERSON]
    assert smoother.confidence == 0.0
    np.testing.assert_array_equal(smoother.probabilities, [0.0, 0.0])
    # the person comes back in the other class: no trace of the old "up" frames
    result = smoother.update(DOWN)
    np.testing.assert_allclose(result.probabilities, DOWN)
    assert labels(smoother, [DOWN])[-1] == "down"


@pytest.mark.parametrize("reason", ["unknown", "partial"])
def test_absent_reason_is_shown_like_no_person(reason):
    smoother = LabelSmoother(CLASSES, max_missing=2)
    labels(smoother, [UP] * 10)
    results = [smoother.update(None, absent=reason) for _ in range(3)]
    assert [r.raw_label for r in results] == [reason] * 3
    assert results[-1].label == reason


def test_starts_as_no_person_until_a_class_holds():
    smoother = LabelSmoother(CLASSES, min_frames=3)
    assert labels(smoother, [UP] * 3) == [NO_PERSON, NO_PERSON, "up"]


def test_result_reports_change_and_confidence():
    smoother = LabelSmoother(CLASSES, min_frames=1, alpha=1.0)
    result = smoother.update(UP)
    assert result.changed and result.label == "up"
    assert result.confidence == pytest.approx(0.9)
    assert not smoother.update(UP).changed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 0}, "window must be an integer >= 1"),
        ({"alpha": 0.0}, r"alpha must be in \(0, 1\]"),
        ({"min_frames": 0}, "min_frames must be an integer >= 1"),
        ({"margin": 1.0}, r"margin must be in \[0, 1\)"),
        ({"max_missing": -1}, "max_missing must be an integer >= 0"),
    ],
)
def test_invalid_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LabelSmoother(CLASSES, **kwargs)


def test_wrong_number_of_probabilities_is_refused():
    with pytest.raises(ValueError, match=r"expected 2 probabilities .* got shape \(3,\)"):
        LabelSmoother(CLASSES).update([0.2, 0.3, 0.5])


@pytest.mark.parametrize(
    ("value", "fps", "expected"),
    [(10, None, 10), ("10", None, 10), ("0.5s", 30.0, 15), ("0.1s", 5.0, 1), ("1s", 29.97, 30)],
)
def test_frames_or_seconds(value, fps, expected):
    assert frames_or_seconds(value, fps) == expected


@pytest.mark.parametrize(
    ("value", "fps", "message"),
    [("0.5s", None, "frame rate is unknown"), ("ten", 30.0, "give frames"), (0, 30.0, ">= 1"),
     ("infs", 30.0, "give a duration > 0 seconds"), ("nans", 30.0, "give a duration"),
     ("0s", 30.0, "give a duration > 0 seconds"), ("-1s", 30.0, "give a duration"),
     ("2.5", 30.0, "give frames"), (float("inf"), 30.0, "integer >= 1"), (True, 30.0, "give")],
)
def test_frames_or_seconds_refuses(value, fps, message):
    with pytest.raises(ValueError, match=message):
        frames_or_seconds(value, fps)


def test_parse_length_checks_without_a_frame_rate():
    assert parse_length("0.3s") == 0.3 and parse_length(" 12 ") == 12
    assert parse_length("0s", minimum=0) == 0.0 and parse_length("0", minimum=0) == 0
    assert frames_or_seconds("0s", 30.0, minimum=0) == 0
    with pytest.raises(ValueError, match="give a duration >= 0 seconds"):
        parse_length("-0.5s", minimum=0)


def test_seconds_to_frames_needs_a_frame_rate():
    assert seconds_to_frames(2.0, 5.0) == 10
    with pytest.raises(ValueError, match="fps must be a positive number"):
        seconds_to_frames(1.0, 0.0)
