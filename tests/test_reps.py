"""Every repetition measured: the tracker on synthetic repetitions, the form rules, the report
files, and the issue's targets on the annotated dev videos.

The dev-video tests run BlazePose once per video (about 10 s for pushup2.mp4, 20 s for
squat.mp4) and keep the landmarks in pytest's cache (``.pytest_cache``), so later runs replay
them through the same :func:`~poseclf.video.run.label_frames` in a second or two.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import shared_data_or_skip
from table_models import SQUAT_PARTS, model_from_tables
from test_angles import skeleton

from poseclf.errors import InputError
from poseclf.pose.landmarks import Pose
from poseclf.video.counting import IN, OUT, UNKNOWN
from poseclf.video.form_rules import load_rules, parse_rules, shipped_rules
from poseclf.video.reps import (
    ANGLE_COLUMNS,
    RepetitionTracker,
    format_report,
    plot_repetitions,
    report_text,
    write_report,
)

FPS = 30.0
#: The issue's targets.
START_END_TOLERANCE_S = 0.5
RANGE_TOLERANCE_DEG = 10.0


# -- synthetic repetitions -------------------------------------------------------------------
def knee_profile(reps: int, *, top=170.0, bottom=70.0, stand=30, down=45, hold=15, up=30):
    """A squat's knee angle per frame: stand, go down, hold, come up; then stand at the end.

    Returns the angles and the true (start, bottom hold, end) frames of each repetition.
    """
    angles, truth = [], []
    for _ in range(reps):
        angles += [top] * stand
        start = len(angles)
        angles += list(top + (bottom - top) * (1 - np.cos(np.linspace(0, np.pi, down))) / 2)
        hold_start = len(angles)
        angles += [bottom] * hold
        hold_end = len(angles) - 1
        angles += list(bottom + (top - bottom) * (1 - np.cos(np.linspace(0, np.pi, up))) / 2)
        truth.append((start, (hold_start, hold_end), len(angles) - 1))
    angles += [top] * stand
    return np.array(angles), truth


def states_of(angles: np.ndarray, enter_below=110.0, exit_above=130.0):
    """Counter states as a classifier would give them: in the class while the knee is bent."""
    states, counted, state = [], [], UNKNOWN
    for a in angles:
        entered = False
        if a <= enter_below:
            entered = state == OUT
            state = IN
        elif a >= exit_above:
            state = OUT
        states.append(state)
        counted.append(entered)
    return states, counted


def run_tracker(angles, tracker, *, missing=()):
    states, counted = states_of(angles)
    closed = []
    for i, (a, state, c) in enumerate(zip(angles, states, counted, strict=True)):
        image, world = skeleton(a, lean_deg=20.0)
        pose = None if i in missing else Pose(image.astype(np.float32),
                                               world.astype(np.float32), (480, 480))
        shown, done = tracker.update(i, pose, state, c)
        if done is not None:
            closed.append((i, done))
    last = tracker.finish()
    if last is not None:
        closed.append((len(angles), last))
    return closed


def test_synthetic_squats_are_cut_at_their_start_bottom_and_end():
    angles, truth = knee_profile(3)
    tracker = RepetitionTracker(FPS, key_angle="knee")
    closed = run_tracker(angles, tracker)
    reps = tracker.repetitions
    assert [r.number for r in reps] == [1, 2, 3]
    lag = 3  # the smoothed angle's mean age at window 10, alpha 0.2 (2.8 frames)
    tolerance = round(START_END_TOLERANCE_S * FPS)
    for r, (start, (hold_start, hold_end), end) in zip(reps, truth, strict=True):
        # a cosine leaves the top slowly: 10% of the range down is 9 frames after its start
        assert 0 <= r.start_frame - start <= tolerance
        assert hold_start <= r.bottom_frame <= hold_end + lag
        assert abs(r.end_frame - end) <= tolerance
        low, high = r.angles["knee"]
        assert low == pytest.approx(70.0, abs=0.5) and high == pytest.approx(170.0, abs=3)
        assert r.angles["trunk_lean"] == pytest.approx((20.0, 20.0), abs=1e-3)
        assert r.time_down_s + r.time_up_s == pytest.approx(r.duration_s)
    # each closes within SETTLE_S (15 frames) of its end, before the next one is counted
    for (closed_at, r), next_start in zip(closed, [t[0] for t in truth[1:]] + [None],
                                          strict=True):
        assert closed_at - r.end_frame <= 16
        if next_start is not None:
            assert closed_at < next_start + 15


def test_the_key_angle_is_found_from_the_data_without_rules():
    angles, _ = knee_profile(2)
    tracker = RepetitionTracker(FPS)
    run_tracker(angles, tracker)
    assert tracker.current_key() == "knee"  # the hip angle does not move, the knee does
    assert [r.key_angle for r in tracker.repetitions] == ["knee", "knee"]


def test_a_short_dropout_is_bridged_and_the_shown_angle_is_none_there():
    angles, truth = knee_profile(1)
    tracker = RepetitionTracker(FPS, key_angle="knee", show=["knee", "hip_2d"])
    missing = set(range(truth[0][1][0], truth[0][1][0] + 5))  # 5 frames of the bottom hold
    states, counted = states_of(angles)
    shown_during = []
    for i, (a, state, c) in enumerate(zip(angles, states, counted, strict=True)):
        image, world = skeleton(a)
        pose = None if i in missing else Pose(image.astype(np.float32),
                                               world.astype(np.float32), (480, 480))
        shown, _ = tracker.update(i, pose, state, c)
        if i in missing:
            shown_during.append(shown.shown)
    tracker.finish()
    assert shown_during[0] == (("knee", None), ("hip_2d", None))
    (rep,) = tracker.repetitions
    assert rep.angles["knee"][0] == pytest.approx(70.0, abs=0.5)


def test_a_repetition_cut_short_by_the_video_end_is_still_reported():
    angles, _ = knee_profile(1)
    angles = angles[: len(angles) - 30 - 20]  # ends on the way up
    tracker = RepetitionTracker(FPS, key_angle="knee")
    closed = run_tracker(angles, tracker)
    assert len(closed) == 1 and closed[0][0] == len(angles)  # closed by finish()
    assert len(angles) - 4 <= tracker.repetitions[0].end_frame <= len(angles) - 1


def test_a_repetition_closed_by_the_next_entry_keeps_its_own_bottom():
    """Back up by only 12 degrees (too little to close it) and down again, deeper, with the
    classifier entering the class late (at 90 degrees, below the first bottom): the first
    repetition is closed when the second is counted, with its own bottom, not the second's."""
    angles = np.concatenate([np.full(20, 170.0), np.linspace(170, 100, 30), np.full(10, 100.0),
                             np.linspace(100, 112, 8), np.linspace(112, 60, 30),
                             np.full(10, 60.0), np.linspace(60, 170, 30), np.full(30, 170.0)])
    second = 68  # first frame of the second descent
    states = [OUT if a > (110 if i < second else 90) else IN for i, a in enumerate(angles)]
    counted = [s == IN and (i == 0 or states[i - 1] == OUT) for i, s in enumerate(states)]
    tracker = RepetitionTracker(FPS, key_angle="knee")
    for i, (a, state, c) in enumerate(zip(angles, states, counted, strict=True)):
        image, world = skeleton(a)
        tracker.update(i, Pose(image.astype(np.float32), world.astype(np.float32), (480, 480)),
                       state, c)
    tracker.finish()
    first, second = tracker.repetitions
    assert first.angles["knee"][0] == pytest.approx(100.0, abs=1.0)
    assert 50 <= first.bottom_frame <= 62 + 3
    assert second.angles["knee"][0] == pytest.approx(60.0, abs=1.0)


# -- form rules ------------------------------------------------------------------------------
def test_rules_mark_each_repetition_good_or_name_the_rules_broken():
    angles, _ = knee_profile(2)
    rules = parse_rules({
        "key_angle": "knee", "show": ["knee", "trunk_lean"],
        "rule": [{"name": "depth", "measure": "knee_min", "max": 90, "message": "go lower"},
                 {"name": "lean", "measure": "trunk_lean_max", "max": 15},
                 {"name": "tempo", "measure": "duration_s", "min": 1.0, "max": 10.0}]})
    tracker = RepetitionTracker(FPS, rules=rules)
    run_tracker(angles, tracker)
    assert tracker.key_angle == "knee" and tracker.show == ("knee", "trunk_lean")
    for r in tracker.repetitions:
        assert r.broken == ("lean",) and r.messages == ("lean",) and not r.good
    shallow = parse_rules({"rule": [{"name": "depth", "measure": "knee_min", "max": 60,
                                     "message": "go lower"}]})
    judged = shallow.judge(tracker.repetitions[0])
    assert judged.broken == ("depth",) and judged.messages == ("go lower",)


@pytest.mark.parametrize("name", ["pushups", "squats"])
def test_shipped_rules_load_and_explain_every_threshold(name):
    assert name in shipped_rules()
    rules = load_rules(name)
    assert rules.key_angle in ("elbow", "knee")
    assert len(rules.rules) >= 3
    for rule in rules.rules:
        assert len(rule.why) > 40, rule  # the reason: a source or a measurement
        assert "Measured" in rule.why


@pytest.mark.parametrize(("data", "message"), [
    ({"rule": [{"name": "d", "measure": "kneee_min", "max": 90}]},
     "rule 'd': unknown measure 'kneee_min'"),
    ({"rule": [{"name": "d", "measure": "knee_mean", "max": 90}]}, "unknown measure 'knee_mean'"),
    ({"rule": [{"name": "d", "measure": "knee_min"}]}, "rule 'd': give min, max or both"),
    ({"rule": [{"name": "d", "measure": "knee_min", "min": 100, "max": 90}]}, "is above max"),
    ({"rule": [{"name": "d", "measure": "knee_min", "max": "low"}]}, "max must be a number"),
    ({"rule": [{"measure": "knee_min", "max": 90}]}, "rule 1: give it a name"),
    ({"rule": [{"name": "d", "measure": "knee_min", "max": 1, "maxx": 2}]},
     "unknown key 'maxx'"),
    ({"rule": [{"name": "d", "measure": "knee_min", "max": 1}] * 2}, "used twice"),
    ({"key_angle": "knees"}, "key_angle: unknown angle 'knees'"),
    ({"show": ["elbow", "wrist"]}, "show: unknown angle 'wrist'"),
    ({"rules": []}, "unknown key 'rules'"),
])
def test_bad_rules_are_refused_with_the_reason(data, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_rules(data)


def test_a_rules_file_is_read_and_its_errors_name_it(tmp_path):
    good = tmp_path / "mine.toml"
    good.write_text('key_angle = "elbow_2d"\n[[rule]]\nname = "depth"\nmeasure = "elbow_2d_min"'
                    '\nmax = 90\n')
    assert load_rules(good).rules[0].measure == "elbow_2d_min"
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]\nname = 1\n")
    with pytest.raises(InputError, match="--rules .*bad.toml: not a readable TOML file"):
        load_rules(bad)
    with pytest.raises(InputError, match="no such rules file.*pushups, squats"):
        load_rules(tmp_path / "gone.toml")


# -- the report ------------------------------------------------------------------------------
def test_report_files_hold_one_row_per_repetition(tmp_path):
    angles, _ = knee_profile(2)
    tracker = RepetitionTracker(FPS, rules=load_rules("squats"))
    run_tracker(angles, tracker)
    csv_path = write_report(tracker.repetitions, tmp_path / "reps.csv")
    jsonl_path = write_report(tracker.repetitions, tmp_path / "reps.jsonl")
    table = pd.read_csv(csv_path)
    rows = [json.loads(line) for line in jsonl_path.read_text().splitlines()]
    assert len(table) == len(rows) == 2
    assert table["repetition"].tolist() == [1, 2]
    for column in ("start_frame", "bottom_frame", "end_frame", "start_s", "end_s",
                   "duration_s", "time_down_s", "time_up_s", "good", "broken",
                   "knee_min", "knee_max", "knee_range", "knee_2d_range", "trunk_lean_max"):
        assert column in table.columns and column in rows[0]
    assert len([c for c in table.columns if c.endswith("_range")]) == len(ANGLE_COLUMNS)
    assert table["knee_min"].tolist() == [r["knee_min"] for r in rows]
    assert format_report([], ".csv").startswith("repetition,start_frame")
    text = report_text(tracker.repetitions)
    assert text.splitlines()[0].split()[:3] == ["rep", "start", "end"]
    assert len(text.splitlines()) == 3
    with pytest.raises(ValueError, match=r"\.csv or \.jsonl"):
        write_report(tracker.repetitions, tmp_path / "reps.txt")


def test_the_plot_draws_the_angles_and_every_repetition(tmp_path):
    angles, _ = knee_profile(2)
    rules = parse_rules({"key_angle": "knee",
                         "rule": [{"name": "deep", "measure": "knee_min", "max": 50}]})
    tracker = RepetitionTracker(FPS, rules=rules)
    run_tracker(angles, tracker)
    fig = plot_repetitions(tracker)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()][:1] == ["knee"]
    assert len(ax.patches) == 2  # one shaded span per repetition
    assert [t.get_text() for t in ax.texts] == ["1\ndeep", "2\ndeep"]  # the broken rule named
    fig.savefig(tmp_path / "reps.png")
    assert (tmp_path / "reps.png").stat().st_size > 10_000


# -- the targets on the annotated dev videos -----------------------------------------
def cached_landmarks(request, video: str) -> dict:
    """BlazePose (video mode) landmarks of every frame of ``video``, kept in pytest's cache."""
    from poseclf.pose.poses import Poses

    source = shared_data_or_skip("videos", video)
    folder = request.config.cache.mkdir("poseclf-reps-landmarks")
    path = folder / f"{video}.{source.stat().st_size}.npz"
    if not path.is_file():
        import cv2

        from poseclf.pose.extraction import PoseExtractor
        from poseclf.pose.video_sources import iter_frames, open_source

        capture, info = open_source(source)
        try:
            with PoseExtractor(static_image_mode=False) as extractor:
                poses = [extractor(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
                         for f in iter_frames(capture)]
        finally:
            capture.release()
        batch = Poses.from_poses(poses, [info.size] * len(poses))
        np.savez(path, landmarks=batch.landmarks, world=batch.world_landmarks,
                 sizes=batch.image_sizes, fps=info.fps)
    data = np.load(path)
    return {k: data[k] for k in data.files}


def squat_model():
    """Standing people are ``up``, sitting ones ``down`` (no squat photos exist)."""
    return model_from_tables(SQUAT_PARTS)


def replay(data: dict, model, count: str, rules: str) -> RepetitionTracker:
    """The video loop's labelling (label_frames) on cached landmarks, with the tracker."""
    from poseclf.pose.poses import Poses
    from poseclf.pose.video_sources import VideoInfo
    from poseclf.video.run import label_frames, make_smoother_and_counter

    poses = list(Poses(data["landmarks"], data["world"], data["sizes"]))
    fps = float(data["fps"])
    info = VideoInfo(int(data["sizes"][0][0]), int(data["sizes"][0][1]), fps, len(poses), "dev")
    smoother, counter = make_smoother_and_counter(model.classes_, info, count=count)
    tracker = RepetitionTracker(fps, rules=load_rules(rules))
    given = iter(poses)
    blank = np.zeros((2, 2, 3), np.uint8)
    for _ in label_frames((blank for _ in poses), lambda rgb: next(given), model, smoother,
                          counter, reps=tracker):
        pass
    tracker.finish()
    return tracker


def independent_angle(data: dict, joint: str, frames: range) -> np.ndarray:
    """The side-free ``joint`` angle per frame by another road: a plain loop with atan2 of the
    cross and dot products (the module uses arccos of the normalised dot product), the same
    visibility weights, and a centred 5-frame median instead of the causal EMA."""
    from poseclf.pose.angles import JOINTS

    values = []
    for i in frames:
        world, vis = data["world"][i], data["landmarks"][i][:, 3]
        if not np.isfinite(world).all():
            values.append(math.nan)
            continue
        total = weight_sum = 0.0
        for side in ("left", "right"):
            a, b, c = JOINTS[f"{side}_{joint}"]
            u, v = world[a] - world[b], world[c] - world[b]
            angle = math.degrees(math.atan2(float(np.linalg.norm(np.cross(u, v))),
                                            float(np.dot(u, v))))
            weight = float(min(vis[a], vis[b], vis[c]))
            total += weight * angle
            weight_sum += weight
        values.append(total / weight_sum)
    series = pd.Series(values)
    return series.rolling(5, center=True, min_periods=1).median().to_numpy()


DEV_VIDEOS = {  # video -> (model, counted class, rules, key angle)
    "pushup2.mp4": ("pushups", "pushups_down", "pushups", "elbow"),
    "squat.mp4": (squat_model, "down", "squats", "knee"),
}


@pytest.fixture(scope="module")
def measured(request) -> dict:
    """video -> (annotation, tracker, landmarks) for both dev videos with repetitions."""
    from poseclf.video.run import load_model

    annotations = json.loads(shared_data_or_skip("videos", "annotations.json").read_text())
    out = {}
    for video, (model, count, rules, _) in DEV_VIDEOS.items():
        data = cached_landmarks(request, video)
        model = model() if callable(model) else load_model(model)
        out[video] = (annotations[video], replay(data, model, count, rules), data)
    return out


@pytest.mark.slow  # BlazePose over two videos on the first run (30 s), then cached
@pytest.mark.parametrize("video", list(DEV_VIDEOS))
def test_every_annotated_repetition_is_found_and_measured(measured, video):
    annotation, tracker, data = measured[video]
    truth = annotation["repetitions"]
    fps = float(data["fps"])
    key = DEV_VIDEOS[video][3]
    reps = tracker.repetitions
    assert len(reps) == truth["count"]
    for r, annotated, (low, high) in zip(reps, truth["per_rep"], truth["bottom_ranges"],
                                         strict=True):
        assert r.key_angle == key
        assert low <= r.bottom_frame <= high, (r.number, r.bottom_frame, (low, high))
        assert abs(r.start_frame - annotated["start"]) / fps <= START_END_TOLERANCE_S
        assert abs(r.end_frame - annotated["end"]) / fps <= START_END_TOLERANCE_S
        assert r.top_before_frame <= r.start_frame < r.end_frame <= r.top_after_frame
        reference = independent_angle(data, key, range(r.top_before_frame,
                                                        r.top_after_frame + 1))
        reference_range = np.nanmax(reference) - np.nanmin(reference)
        low_angle, high_angle = r.angles[key]
        assert abs((high_angle - low_angle) - reference_range) <= RANGE_TOLERANCE_DEG


@pytest.mark.slow  # BlazePose on 160 frames of a clip (6 s)
def test_the_command_writes_the_report_and_the_plot_and_prints_the_table(tmp_path, capsys):
    from poseclf.cli import main

    source = shared_data_or_skip("videos", "pushup2.mp4")
    argv = ["video", str(source), "--model", "pushups", "--no-window", "--count",
            "pushups_down", "--rules", "pushups", "--max-frames", "170",
            "--reps", str(tmp_path / "reps.jsonl"), "--reps-plot", str(tmp_path / "reps.png")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    (row,) = [json.loads(line) for line in (tmp_path / "reps.jsonl").read_text().splitlines()]
    assert row["repetition"] == 1 and row["key_angle"] == "elbow" and row["good"]
    assert 60 <= row["start_frame"] <= 80 and 100 <= row["bottom_frame"] <= 120
    assert "rep   start" in out and "  1 " in out and "good" in out
    assert f"repetitions written to {tmp_path / 'reps.jsonl'}" in out
    assert (tmp_path / "reps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reps.jsonl", "reps.png"]
