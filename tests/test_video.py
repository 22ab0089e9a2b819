"""The video job on real files: `poseclf video` headless, its outputs, interruption, errors."""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, ctrl_c_as_in_a_terminal, shared_data_or_skip

from poseclf.classify.model import PoseModel
from poseclf.cli import main
from poseclf.pose.images import read_image
from poseclf.pose.poses import Poses
from poseclf.pose.video_sources import VideoError, VideoInfo, open_source, parse_source
from poseclf.video.outputs import PROBABILITY_PREFIX, TIMELINE_COLUMNS, TimelineWriter, VideoSink
from poseclf.video.run import STOP_MAX_FRAMES, run_video

PHOTOS_PER_CLASS = 6  # push-up photos per class for the test model (BlazePose ~20 ms each)
CLASSES = ["pushups_down", "pushups_up"]


@pytest.fixture(scope="module")
def pushup_model(tmp_path_factory, image_extractor):
    """A k-NN push-up model trained on a few real push-up photos."""
    folder = shared_data_or_skip("pushups_visolus")
    poses, labels = [], []
    for label in CLASSES:
        for path in sorted((folder / label).iterdir())[:PHOTOS_PER_CLASS]:
            pose = image_extractor(read_image(path))
            if pose is not None:
                poses.append(pose)
                labels.append(label)
    batch = Poses.from_poses(poses)
    model = PoseModel.train(batch.landmarks, batch.image_sizes, labels, classifier="knn", cv=0)
    return model.save(tmp_path_factory.mktemp("model") / "pushups.skops")


def video_frames(path) -> tuple[int, tuple[int, int]]:
    """Frames decoded from a video file, and its (width, height)."""
    capture = cv2.VideoCapture(str(path))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    n = 0
    while capture.read()[0]:
        n += 1
    capture.release()
    return n, size


def read_timeline(path) -> pd.DataFrame:
    if str(path).endswith(".jsonl"):
        return pd.DataFrame([json.loads(line) for line in open(path, encoding="utf-8")])
    return pd.read_csv(path)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("video", "max_frames", "timeline_name"),
    [("sit.mp4", None, "timeline.csv"), ("pushup2.mp4", 45, "timeline.jsonl")],
)
def test_headless_run_writes_every_frame_to_video_and_timeline(
    pushup_model, tmp_path, video, max_frames, timeline_name, capsys
):
    source = shared_data_or_skip("videos", video)
    info = VideoInfo.from_video_path(source)
    out, timeline = tmp_path / "out.mp4", tmp_path / timeline_name
    argv = ["video", str(source), "--model", str(pushup_model), "--no-window", "--output",
            str(out), "--timeline", str(timeline), "--count", "pushups_down"]
    if max_frames:
        argv += ["--max-frames", str(max_frames)]
    assert main(argv) == 0
    expected = max_frames or info.total_frames
    assert video_frames(out) == (expected, info.size)
    rows = read_timeline(timeline)
    assert list(rows.columns) == [*TIMELINE_COLUMNS, *(PROBABILITY_PREFIX + c for c in CLASSES)]
    assert rows["frame"].tolist() == list(range(expected))
    np.testing.assert_allclose(rows["time_s"], rows["frame"] / info.fps, atol=1e-3)
    assert f"{expected} frames" in capsys.readouterr().out


@pytest.mark.slow  # runs the video job on a clip
def test_frames_without_a_person_are_labelled_no_person(pushup_model, tmp_path):
    # sit.mp4: the room is empty until frame 103 (annotations.json)
    source = shared_data_or_skip("videos", "sit.mp4")
    timeline = tmp_path / "t.csv"
    report = run_video(source, pushup_model, timeline=timeline, max_frames=100, progress=False)
    rows = pd.read_csv(timeline)
    assert report.detected_frames == 0 and report.stop_reason == STOP_MAX_FRAMES
    assert set(rows["label"]) == set(rows["raw_label"]) == {"no_person"}
    assert (rows[[PROBABILITY_PREFIX + c for c in CLASSES]].to_numpy() == 0).all()


def being_written(path: Path) -> Path | None:
    """The temporary file `poseclf video` writes for ``path`` (renamed to ``path`` at the end)."""
    found = sorted(path.parent.glob(f".{path.name}.*.tmp{path.suffix}"))
    return found[0] if found else None


def signal_after_rows(argv, timeline: Path, signum: int, rows: int = 40,
                      timeout: float = 60) -> tuple[int, str]:
    """Run ``python -m poseclf video *argv`` from the repository; send ``signum`` once the
    timeline being written has more than ``rows`` rows. Returns the exit status and stderr."""
    process = subprocess.Popen([sys.executable, "-m", "poseclf", "video", *map(str, argv)],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=ctrl_c_as_in_a_terminal)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        partial = being_written(timeline)
        with contextlib.suppress(OSError):  # renamed or removed meanwhile
            if partial is not None and partial.read_text().count("\n") > rows:
                break
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()[1].decode()
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    return process.returncode, err.decode()


@pytest.mark.slow
def test_interrupted_run_leaves_playable_video_and_complete_timeline(pushup_model, tmp_path):
    source = shared_data_or_skip("videos", "pushup2.mp4")
    out, timeline = tmp_path / "out.mp4", tmp_path / "t.csv"
    code, err = signal_after_rows(
        [source, "--model", pushup_model, "--no-window", "--quiet", "--output", out,
         "--timeline", timeline], timeline, signal.SIGINT)
    assert code == 130, err
    rows = pd.read_csv(timeline)
    n = len(rows)
    assert 40 <= n < 472
    assert rows["frame"].tolist() == list(range(n))
    assert video_frames(out) == (n, (1280, 720))
    assert being_written(out) is None and being_written(timeline) is None


def main_status(argv, capsys) -> tuple[int, str]:
    """Exit status and stderr of ``main(argv)``, parse errors (SystemExit) included."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--count", "squat_down"], "cannot count 'squat_down': the model's classes are "
                                    "pushups_down, pushups_up"),
        (["--window", "ten"], "--window: 'ten': give frames"),
        (["--alpha", "0"], r"--alpha: 0 is out of range: give a number in \(0, 1\]"),
        (["--count", "pushups_up", "--enter", "0.3"], "--exit 0.4 must be below --enter 0.3"),
    ],
)
def test_bad_settings_are_one_line_errors(pushup_model, options, message, capsys):
    source = shared_data_or_skip("videos", "sit.mp4")
    code, err = main_status(["video", str(source), "--model", str(pushup_model), "--no-window",
                             *options], capsys)
    assert code == 2
    assert err.startswith("poseclf video: error:") and err.count("\n") == 1, err
    assert re.search(message, err), err


@pytest.mark.parametrize(
    ("source", "expected"),
    [("0", 0), (2, 2), ("rtsp://cam/stream", "rtsp://cam/stream"), ("clip.mp4", "clip.mp4")],
)
def test_parse_source(source, expected):
    assert parse_source(source) == expected


def test_missing_video_file_is_refused_with_the_fix(tmp_path):
    with pytest.raises(VideoError, match=r"nope\.mp4: no such video file .* webcam"):
        open_source(tmp_path / "nope.mp4")


def test_unreadable_video_file_is_refused(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(VideoError, match="OpenCV cannot open this video"):
        open_source(bad)


@pytest.mark.parametrize(
    ("make", "name", "message"),
    [
        (lambda p: TimelineWriter(p, CLASSES), "t.txt", r"timeline is written as \.csv or \.jsonl"),
        (lambda p: VideoSink(p, VideoInfo(32, 24, 5.0, None, "x")), "v.gif",
         "cannot write video with extension '.gif'"),
    ],
)
def test_unsupported_output_extensions_are_refused(tmp_path, make, name, message):
    with pytest.raises(VideoError, match=message), make(tmp_path / name):
        pass


def test_sink_resizes_frames_to_the_output_size(tmp_path):
    path = tmp_path / "v.mp4"
    with VideoSink(path, VideoInfo(64, 48, 10.0, None, "synthetic")) as sink:
        for value in range(5):
            sink.write(np.full((100, 120, 3), value * 40, np.uint8))
    assert video_frames(path) == (5, (64, 48))


def test_timeline_rows_are_on_disk_before_close(tmp_path):
    path = tmp_path / "t.jsonl"
    with TimelineWriter(path, CLASSES) as rows:
        rows.write([0, 0.0, 1, "pushups_up", "no_person", 0.0, "", 0.1, 0.9])
        on_disk = path.read_text()
    assert json.loads(on_disk)["p_pushups_up"] == 0.9


def test_sigint_handler_is_restored_after_a_run(pushup_model):
    source = shared_data_or_skip("videos", "sit.mp4")
    before = signal.getsignal(signal.SIGINT)
    run_video(source, pushup_model, max_frames=2, progress=False)
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("fps, window, max_missing", [(30.0, 10, 5), (5.0, 2, 1), (60.0, 20, 10)])
def test_default_smoothing_lasts_the_same_time_at_any_frame_rate(fps, window, max_missing):
    """MediaPipe's 10-frame window is 0.33 s at 30 fps; a 5 fps clip must not lag 2 s."""
    from poseclf.video.run import Smoothing, make_smoother_and_counter
    from poseclf.video.smoothing import DEFAULT_MAX_MISSING_VIDEO, DEFAULT_WINDOW_VIDEO

    info = VideoInfo(320, 240, fps, 100, "synthetic")
    smoother, _ = make_smoother_and_counter(
        ["a", "b"], info, Smoothing(window=DEFAULT_WINDOW_VIDEO, alpha=0.2, min_frames=1,
                                    margin=0.1, max_missing=DEFAULT_MAX_MISSING_VIDEO))
    assert (smoother.window, smoother.max_missing) == (window, max_missing)


@pytest.mark.slow  # runs the video job on a clip
def test_report_counts_people_the_model_rejects(tmp_path, capsys):
    """The shipped push-up model meets a man doing squats: BlazePose finds him in every frame,
    the model answers unknown, and nothing is counted."""
    source = shared_data_or_skip("videos", "squat.mp4")
    assert main(["video", str(source), "--model", "pushups", "--no-window", "--count",
                 "pushups_down", "--max-frames", "60", "--timeline", str(tmp_path / "t.csv")]) == 0
    rows = pd.read_csv(tmp_path / "t.csv")
    assert (rows["raw_label"] == "unknown").sum() >= 50
    out = capsys.readouterr().out
    rejected = int((rows["raw_label"].isin(["unknown", "partial"])).sum())
    assert f"60 with a person ({rejected} of them unknown or partial)" in out
    assert "0 repetitions of pushups_down" in out


@pytest.mark.slow  # BlazePose on a video; test_video_loop covers the loop without it (2 s)
def test_label_frames_drives_the_loop_from_python_like_run_video(pushup_model, tmp_path):
    """No window, thread or file: the same labels and count as ``poseclf video``'s timeline."""
    from poseclf.classify.model import PoseModel
    from poseclf.pose.extraction import PoseExtractor
    from poseclf.pose.video_sources import iter_frames, open_source
    from poseclf.video.run import label_frames, make_smoother_and_counter

    source = shared_data_or_skip("videos", "pushup2.mp4")
    frames = 45
    timeline = tmp_path / "t.csv"
    run_video(source, pushup_model, timeline=timeline, show=False, count="pushups_down",
              max_frames=frames, progress=False)
    expected = pd.read_csv(timeline)
    model = PoseModel.load(pushup_model)
    capture, info = open_source(source)
    smoother, counter = make_smoother_and_counter(model.classes_, info, count="pushups_down")
    try:
        with PoseExtractor(static_image_mode=False) as extractor:
            results = list(itertools.islice(label_frames(iter_frames(capture), extractor, model,
                                                         smoother, counter), frames))
    finally:
        capture.release()
    assert [r.index for r in results] == list(range(frames))
    assert [r.smoothed.label for r in results] == expected["label"].tolist()
    assert [r.smoothed.raw_label for r in results] == expected["raw_label"].tolist()
    assert [r.repetitions for r in results] == expected["repetitions"].tolist()


def test_read_row_images_decodes_each_video_once_with_the_frames_of_load_row_image(tmp_path):
    from poseclf.pictures.draw import write_image
    from poseclf.pose.row_pictures import load_row_image, read_row_images

    video = shared_data_or_skip("videos", "sit.mp4")
    (tmp_path / "sit.mp4").symlink_to(video)
    write_image(tmp_path / "photo.png", np.full((20, 30, 3), (10, 20, 30), np.uint8))
    paths = ["sit.mp4#000010", "photo.png", "sit.mp4#000003", "missing.png",
             "sit.mp4#000010", "sit.mp4#999999", "other.mp4#000001"]
    pictures = read_row_images(tmp_path, paths)
    assert [p is None for p in pictures] == [False, False, False, True, False, True, True]
    for path, picture in zip(paths, pictures, strict=True):
        if picture is not None:
            np.testing.assert_array_equal(picture, load_row_image(tmp_path, path))
    assert pictures[1][0, 0].tolist() == [30, 20, 10]  # RGB


# -- reading, drawing and writing in threads: the same outputs as one loop doing it all --------
def decoded(path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    return frames


@pytest.mark.slow  # BlazePose on 30 frames of a clip (2 s)
def test_threaded_outputs_equal_an_inline_reference_frame_for_frame(pushup_model, tmp_path,
                                                                     monkeypatch):
    """``run_video`` (frames read ahead, drawn and written in threads) writes the video and the
    timeline that drawing and writing each labelled frame in line, in this thread, writes."""
    import poseclf.video.loop as loop
    import poseclf.video.run as run
    from poseclf.pictures.draw import (
        CounterAnnotator,
        LabelAnnotator,
        SkeletonAnnotator,
        annotate_all,
    )

    source = shared_data_or_skip("videos", "yoga.mp4")  # a person from the first frame on
    frames = 30
    # the rate drawn on each frame is the loop's own speed: the same for both outputs here
    monkeypatch.setattr(loop._Clock, "tick", lambda self: 12.5)
    labelled_frames = []  # each labelled frame as label_frames yields it, before any drawing
    label_frames = run.label_frames

    def kept(*args, **kwargs):
        for labelled in label_frames(*args, **kwargs):
            labelled_frames.append(replace(labelled, frame=labelled.frame.copy(), rate=12.5))
            yield labelled

    monkeypatch.setattr(run, "label_frames", kept)
    report = run_video(source, pushup_model, output=tmp_path / "threaded.mp4",
                       timeline=tmp_path / "threaded.csv", count="pushups_down",
                       max_frames=frames, progress=False)
    assert report.frames == len(labelled_frames) == frames

    _, info = open_source(source)
    annotators = (SkeletonAnnotator(), LabelAnnotator(), CounterAnnotator())
    with (VideoSink(tmp_path / "inline.mp4", info) as video,
          TimelineWriter(tmp_path / "inline.csv", report.classes) as rows):
        for labelled in labelled_frames:
            video.write(annotate_all(labelled.frame, labelled, annotators))
            rows.write(loop.timeline_row(labelled, labelled.index / info.fps))
    assert (tmp_path / "threaded.csv").read_text() == (tmp_path / "inline.csv").read_text()
    threaded, inline = decoded(tmp_path / "threaded.mp4"), decoded(tmp_path / "inline.mp4")
    assert len(threaded) == len(inline) == frames
    for index, (mine, reference) in enumerate(zip(threaded, inline, strict=True)):
        assert np.array_equal(mine, reference), f"frame {index} differs"
    assert any(labelled.pose is not None for labelled in labelled_frames)


@pytest.mark.slow  # BlazePose on a few frames of a clip
def test_a_failing_writer_stops_the_run_with_one_line_and_claims_no_output(
        pushup_model, tmp_path, monkeypatch, capsys):
    """An error in the writer thread (here a full disk at the fifth frame) ends ``poseclf
    video`` with one line; the earlier output is left as it was and no temporary file stays."""
    source = shared_data_or_skip("videos", "pushup2.mp4")
    out, timeline = tmp_path / "out.mp4", tmp_path / "t.csv"
    out.write_bytes(b"an earlier video")
    write = VideoSink.write

    def full_disk(self, frame):
        if self.frames_written == 4:
            raise OSError(28, "No space left on device")
        write(self, frame)

    monkeypatch.setattr(VideoSink, "write", full_disk)
    code, err = main_status(["video", str(source), "--model", str(pushup_model), "--no-window",
                             "--quiet", "--output", str(out), "--timeline", str(timeline),
                             "--max-frames", "40"], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1, err
    assert "No space left on device" in err
    assert out.read_bytes() == b"an earlier video" and not timeline.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
