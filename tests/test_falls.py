"""Fall events (poseclf.video.falls), the GMDCSA24 converter (datasets/gmdcsa24.py) and
``poseclf video --falls`` on a real fall clip.

The detector's rules are tested on frames built from two real poses of a committed fall table
(standing and lying, interpolated to make a fall of any speed); the whole chain (model, smoother,
detector) on committed clip tables, replayed as ``bench/falls.py`` replays them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, shared_data_or_skip

from poseclf.classify.model import PoseModel
from poseclf.pictures.draw import FallAlarmAnnotator
from poseclf.pose.landmarks import Pose
from poseclf.pose.poses import Poses
from poseclf.pose.table import load_table
from poseclf.shipped import resolve_model
from poseclf.video.falls import (
    FallDetector,
    FallEvent,
    FallEventWriter,
    check_falls_after,
    floor_share,
    hips_and_scale,
    standing_heights,
    torso_tilt,
)

sys.path.insert(0, str(REPO))
from datasets.gmdcsa24 import lying_seconds, parse_classes, read_clips  # noqa: E402

CLASSES = ("lying", "sitting", "standing")
FPS = 15.0
TABLES = REPO / "datasets" / "falls_gmdcsa24"


# -- the converter ---------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    (" Falling (BW)[1.9 to 5]; Standing[0 to 1.8]",
     [("Falling (BW)", 1.9, 5.0), ("Standing", 0.0, 1.8)]),
    (" Falling (SW) [1.8 to 6] ; Sitting [0 to 2]",
     [("Falling (SW)", 1.8, 6.0), ("Sitting", 0.0, 2.0)]),
    (" Exercising[0 to 3]; Standing[0 to 0.3; 1.5 to 2.2]",
     [("Exercising", 0.0, 3.0), ("Standing", 0.0, 0.3), ("Standing", 1.5, 2.2)]),
    ("  Sitting[0 to 3]", [("Sitting", 0.0, 3.0)]),
])
def test_class_ranges_are_read_as_annotated(text, expected):
    assert parse_classes(text) == expected


@pytest.mark.parametrize("text", ["Standing[0 - 3]", "Standing[3 to 1]", "Standing 0 to 3"])
def test_unreadable_class_ranges_are_refused(text):
    with pytest.raises(ValueError, match="range"):
        parse_classes(text)


def test_every_present_clip_is_read_with_its_fall_onset():
    clips = list(read_clips(shared_data_or_skip("falls_gmdcsa24")))
    assert len(clips) == 15
    falls = {c.name: c.fall_range for c in clips if c.kind == "fall"}
    assert len(falls) == 8 and all(r is not None for r in falls.values())
    assert falls["s3_fall_01"] == (0.0, 3.0)  # "Fall (FW)[0 to 3]": the other spelling
    assert all(c.fall_range is None for c in clips if c.kind == "adl")
    s1_15 = next(c for c in clips if c.name == "s1_fall_15")
    assert lying_seconds(s1_15) == pytest.approx((3.3, 6.0))  # the first 1.5 s is the fall


# -- the detector on made-up falls from two real poses ---------------------------------------
@pytest.fixture(scope="module")
def two_poses() -> tuple[Pose, Pose]:
    """Subject 3 standing (first frames of clip 20) and lying (its last frames)."""
    rows = load_table(TABLES / "s3_fall.csv")
    rows = rows[rows["path"].str.startswith("20.mp4#") & rows["detected"]]
    poses = list(Poses.from_table(rows))
    return poses[2], poses[-2]


def _between(a: Pose, b: Pose, w: float) -> Pose:
    return Pose(a.landmarks * (1 - w) + b.landmarks * w,
                a.world_landmarks * (1 - w) + b.world_landmarks * w, a.image_size)


def _frames(standing: Pose, lying: Pose, *, fall_s: float = 0.6, down_s: float = 3.0,
            via: str | None = None, gap: tuple[float, float] | None = None,
            up_after_s: float | None = None):
    """(time, label, probabilities, pose) of: 1.5 s standing, a fall of ``fall_s`` (labelled
    ``via`` when given, else standing then unknown), ``down_s`` lying; ``gap``: seconds without
    a pose; ``up_after_s``: standing again that long after landing."""
    onehot = {c: np.eye(len(CLASSES))[i] for i, c in enumerate(CLASSES)}
    frames, t = [], 0.0
    step = 1 / FPS
    while t < 1.5:
        frames.append((t, "standing", onehot["standing"], standing))
        t += step
    start = t
    while t < start + fall_s:
        w = (t - start) / fall_s
        label = via or ("standing" if w < 0.3 else "unknown")
        frames.append((t, label, onehot.get(label), _between(standing, lying, w)))
        t += step
    landed = t
    while t < landed + down_s:
        if up_after_s is not None and t >= landed + up_after_s:
            frames.append((t, "standing", onehot["standing"], standing))
        elif gap is not None and gap[0] <= t - landed < gap[1]:
            frames.append((t, "no_person", np.zeros(3), None))
        else:
            frames.append((t, "lying", onehot["lying"] * 0.9, lying))
        t += step
    return frames


def _run(frames, after_s: float = 2.0) -> FallDetector:
    detector = FallDetector(CLASSES, after_s=after_s)
    for i, (t, label, proba, pose) in enumerate(frames):
        detector.update(t, label, proba, pose, frame=i)
    return detector


def test_the_poses_tell_standing_from_lying(two_poses):
    standing, lying = two_poses
    assert torso_tilt(standing) < 20 and torso_tilt(lying) > 70
    hips_up, scale = hips_and_scale(standing)
    hips_down, _ = hips_and_scale(lying)
    assert hips_down > hips_up and 0.0005 < scale < 0.02  # pixels of about 1-20 mm


def test_a_fast_fall_that_stays_down_raises_one_event(two_poses):
    detector = _run(_frames(*two_poses))
    assert len(detector.events) == 1
    event = detector.events[0]
    assert 1.3 < event.start_s < 2.2  # the last upright frame
    assert event.on_floor_s == pytest.approx(2.0, abs=0.1)
    assert event.alarm_s == pytest.approx(event.start_s + 2.4, abs=0.5)
    assert 0 < event.confidence <= 1 and event.descent_m_s > 0.5
    assert detector.alarm


def test_falls_after_sets_the_wait(two_poses):
    quick = _run(_frames(*two_poses), after_s=0.5).events[0]
    slow = _run(_frames(*two_poses), after_s=2.5).events[0]
    assert slow.alarm_s - quick.alarm_s == pytest.approx(2.0, abs=0.1)
    assert _run(_frames(*two_poses, down_s=1.5)).events == []  # not down long enough


def test_getting_up_before_the_wait_raises_nothing(two_poses):
    assert _run(_frames(*two_poses, up_after_s=1.2)).events == []


def test_lying_down_slowly_through_sitting_is_not_a_fall(two_poses):
    detector = _run(_frames(*two_poses, fall_s=5.0, via="sitting"))
    assert detector.events == []


def test_a_fall_with_the_person_lost_for_a_second_is_still_caught(two_poses):
    detector = _run(_frames(*two_poses, gap=(0.2, 1.2)))
    assert len(detector.events) == 1


def test_the_alarm_ends_when_the_person_is_up_again(two_poses):
    standing, lying = two_poses
    frames = _frames(standing, lying, down_s=4.0)
    t = frames[-1][0]
    frames += [(t + (i + 1) / FPS, "standing", np.eye(3)[2], standing) for i in range(30)]
    detector = FallDetector(CLASSES)
    alarms = []
    for i, (t, label, proba, pose) in enumerate(frames):
        detector.update(t, label, proba, pose, frame=i)
        alarms.append(detector.alarm)
    assert any(alarms) and not alarms[-1]
    assert len(detector.events) == 1


def test_a_model_without_lying_cannot_watch_for_falls():
    with pytest.raises(ValueError, match="'lying' class.*sitstandlie"):
        FallDetector(["sitting", "standing"])


@pytest.mark.parametrize("value", [-1, "nan", "inf", "soon", None])
def test_falls_after_must_be_a_finite_duration(value):
    with pytest.raises(ValueError, match="--falls-after"):
        check_falls_after(value)


# -- on the floor: synthetic tracks of the feet, hips and shoulders ---------------------------
SIZE = (640, 480)
M_PER_PX = 0.004  # the figures' world landmarks: their picture, 4 mm a pixel, hips at 0


def _figure(feet: float, hips: float, shoulders: float, *, ankles_in: bool = True) -> Pose:
    """A front-facing figure with its lower ankle, hips and shoulders at these picture heights
    (pixels); its world landmarks are its picture in metres, so its torso stays upright (only
    the picture tells it is down) and it measures M_PER_PX."""
    y = np.empty(33)
    y[:11] = shoulders - 40  # head
    y[[11, 12, 13, 14]] = shoulders, shoulders, (shoulders + hips) / 2, (shoulders + hips) / 2
    y[15:23] = hips  # wrists and hands by the hips
    y[[23, 24]] = hips
    y[[25, 26]] = (hips + feet) / 2
    y[27:33] = feet if ankles_in else SIZE[1] + 40
    x = 320 + np.where(np.arange(33) % 2, 20.0, -20.0)
    pixels = np.stack([x, y], axis=1)
    lm = np.column_stack([pixels / SIZE, np.zeros(33), np.full(33, 0.9)])
    world = np.column_stack([(pixels - pixels[[23, 24]].mean(axis=0)) * M_PER_PX, np.zeros(33)])
    return Pose(lm, world, SIZE)


STANDS = (450.0, 250.0, 100.0)  # feet, hips, shoulders (px): 0.8 m hips, 1.4 m shoulders


def _track(end: tuple[float, float], *, label: str, fall_s: float = 0.6, down_s: float = 3.0,
           ankles_in: bool = True):
    """(time, label, probabilities, pose): 1.5 s standing, then the hips and the shoulders
    going down to ``end`` (px) in ``fall_s`` and staying there ``down_s``, all labelled
    ``label`` (the feet stay put)."""
    feet, hips0, shoulders0 = STANDS
    frames, t = [], 0.0
    while t < 1.5 + fall_s + down_s:
        w = min(1.0, max(0.0, (t - 1.5) / fall_s))
        pose = _figure(feet, hips0 + w * (end[0] - hips0), shoulders0 + w * (end[1] - shoulders0),
                       ankles_in=ankles_in)
        name = "standing" if t < 1.5 else label
        frames.append((t, name, np.eye(3)[CLASSES.index(name)] if name in CLASSES else None,
                       pose))
        t += 1 / FPS
    return frames


def test_the_floor_share_is_the_height_above_the_standing_feet():
    reference = standing_heights(_figure(*STANDS))
    assert reference == pytest.approx(STANDS)
    assert floor_share(_figure(*STANDS), reference) == pytest.approx(1.0)
    # hips 0.15, shoulders 0.17 of their standing heights above the feet: the higher counts
    assert floor_share(_figure(450, 420, 390), reference) == pytest.approx(60 / 350)
    assert standing_heights(_figure(*STANDS, ankles_in=False)) is None  # no floor line
    assert floor_share(_figure(450, 420, 390), None) is None


@pytest.mark.parametrize("label", ["sitting", "standing", "unknown"])
def test_a_fast_fall_to_the_floor_alarms_whatever_the_label(label):
    # hips and shoulders 0.15-0.17 of their standing heights above the feet, the torso upright
    # in the world landmarks: only the picture says down, and a model calling it sitting (or
    # even standing) neither hides the fall nor ends it
    frames = _track((420.0, 390.0), label=label)
    assert torso_tilt(frames[-1][3]) < 10
    detector = _run(frames)
    assert len(detector.events) == 1
    event = detector.events[0]
    assert event.descent_m_s > 0.5 and 1.3 < event.start_s < 1.7
    assert event.alarm_s == pytest.approx(event.start_s + 2.6, abs=0.3)


@pytest.mark.parametrize(("end", "label", "fall_s", "ankles_in", "why"), [
    ((420.0, 390.0), "sitting", 5.0, True, "down to the floor slowly"),
    ((430.0, 310.0), "sitting", 0.6, True, "sits up on the floor: shoulders at 0.4"),
    ((410.0, 290.0), "unknown", 0.6, True, "a full squat held: shoulders at 0.46"),
    ((420.0, 390.0), "unknown", 0.6, False, "never seen with the feet in the picture"),
])
def test_no_alarm_without_a_fast_descent_to_the_floor(end, label, fall_s, ankles_in, why):
    assert _run(_track(end, label=label, fall_s=fall_s, ankles_in=ankles_in)).events == [], why


def test_getting_up_from_the_floor_ends_the_watch():
    frames = _track((420.0, 390.0), label="sitting", down_s=1.2)
    t = frames[-1][0]
    frames += [(t + (i + 1) / FPS, "standing", np.eye(3)[2], _figure(*STANDS))
               for i in range(45)]
    assert _run(frames).events == []


# -- the chain on committed clip tables --------------------------------------------------------
@pytest.fixture(scope="module")
def shipped_sitstandlie() -> PoseModel:
    return PoseModel.load(resolve_model("sitstandlie"))


def _replay(table: str, video: str, model: PoseModel) -> list[FallEvent]:
    sys.path.insert(0, str(REPO / "bench"))
    from falls import _recording, replay

    rows = load_table(TABLES / table)
    rows = rows[rows["path"].str.startswith(f"{video}#")].sort_values("frame")
    return replay(_recording(video, None, None, rows), model, 2.0)[0]


@pytest.mark.parametrize(("table", "video", "onset"), [
    ("s3_fall.csv", "16.mp4", 1.8),  # walking, falls on the left side
    ("s3_fall.csv", "19.mp4", 2.0),  # falls backwards, lost by BlazePose for 1 s
])
def test_a_real_fall_is_raised_within_3_s_after_the_wait(table, video, onset,
                                                         shipped_sitstandlie):
    events = _replay(table, video, shipped_sitstandlie)
    assert len(events) == 1
    assert onset <= events[0].alarm_s <= onset + 2.0 + 3.0


@pytest.mark.parametrize(("table", "video"), [
    ("s3_adl.csv", "18.mp4"),  # walks, sits down on a bed, eats
    ("s1_adl.csv", "16.mp4"),  # bends down from a chair to pick a phone up from the floor
])
def test_daily_activity_raises_nothing(table, video, shipped_sitstandlie):
    assert _replay(table, video, shipped_sitstandlie) == []


# -- outputs -----------------------------------------------------------------------------------
def test_events_are_json_lines_with_their_snapshot(tmp_path):
    event = FallEvent(start_s=1.25, alarm_s=3.5, on_floor_s=2.0, confidence=0.8,
                      descent_m_s=1.2, frame=52)
    frame = np.zeros((48, 64, 3), np.uint8)
    with FallEventWriter(tmp_path / ".events.tmp.jsonl", tmp_path / "events.jsonl") as writer:
        named = writer.name_snapshot(event)
        writer.write(named, frame)
        writer.write(writer.name_snapshot(event), None)  # no frame: no picture
    lines = [json.loads(x) for x in (tmp_path / ".events.tmp.jsonl").read_text().splitlines()]
    assert lines[0] == {"event": "fall", "start_s": 1.25, "alarm_s": 3.5, "on_floor_s": 2.0,
                        "confidence": 0.8, "descent_m_s": 1.2, "frame": 52,
                        "snapshot": "events_fall1.png"}
    assert (tmp_path / "events_fall1.png").is_file()
    assert not (tmp_path / "events_fall2.png").exists()


class _Result:
    fall_alarm = True
    fall_on_floor_s = 3.2


def test_the_alarm_banner_is_drawn_only_while_the_alarm_is_on():
    frame = np.full((120, 160, 3), 128, np.uint8)
    FallAlarmAnnotator().annotate(frame, _Result())
    assert frame[-8, 12, 2] > 150 and frame[-8, 12, 0] < 100  # red (BGR) banner at the bottom
    assert frame[0, 80, 2] > 150 and frame[60, 0, 2] > 150 and frame[60, 0, 0] < 100  # border
    untouched = np.full((120, 160, 3), 128, np.uint8)
    FallAlarmAnnotator().annotate(untouched, object())
    assert (untouched == 128).all()


@pytest.mark.slow
def test_poseclf_video_falls_writes_the_event_and_its_snapshot(tmp_path, capsys):
    from poseclf.cli import main

    video = shared_data_or_skip("falls_gmdcsa24", "subject_3", "Fall", "16.mp4")
    events = tmp_path / "events.jsonl"
    assert main(["video", str(video), "--model", "sitstandlie", "--falls", str(events),
                 "--no-window", "--quiet"]) == 0
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    assert len(lines) == 1 and 1.8 <= lines[0]["alarm_s"] <= 1.8 + 5.0
    assert (tmp_path / lines[0]["snapshot"]).is_file()
    assert Path(tmp_path / "events_fall1.png").stat().st_size > 1000
