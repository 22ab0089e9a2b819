"""`poseclf video` on bad inputs: one line, the right exit status, and nothing lost.

Every case runs the real command (``python -m poseclf video ...`` from the repository) and
checks: the exit status (2 for an input error, 143 for SIGTERM), exactly one stderr line that
names the file or option and the fix, no traceback, and that the source and any file already in
its folder are byte-identical afterwards unless the command's job was to replace them.

The input-error cases are independent, so they run side by side (a process start costs about
2 s of CPU, most of it imports); option ranges are checked in-process through ``main``.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, shared_data_or_skip
from test_video import being_written, main_status, signal_after_rows, video_frames

from poseclf.pose.video_sources import SourceTimeout, VideoError, bounded_call
from poseclf.video.outputs import PROBABILITY_PREFIX
from poseclf.video.run import Smoothing, _StopFlag, run_video

pytestmark = pytest.mark.slow  # subprocesses, signals or notebooks: `pytest -m "not slow"` skips it

MODEL = "sitstand"  # shipped: classes sitting, standing
CLIP_FRAMES, CLIP_SIZE, CLIP_FPS = 30, (160, 120), 10.0
TIMEOUT_S = 1.0  # --timeout of the camera and stream cases
PARALLEL = min(4, os.cpu_count() or 2)  # more than the cores only slows each start
#: root writes into read-only folders: that case cannot fail there
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def make_clip(path: Path, frames: int = CLIP_FRAMES, size=CLIP_SIZE, fps=CLIP_FPS) -> Path:
    """A small synthetic mp4 (a light box moving on a dark background)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), 40, np.uint8)
        x = 5 + (i * 3) % (size[0] - 40)
        cv2.rectangle(frame, (x, 20), (x + 30, size[1] - 20), (200, 180, 160), -1)
        writer.write(frame)
    writer.release()
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) and the hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def poseclf_video(args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "poseclf", "video", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=120, **kwargs)


def assert_one_error_line(result: subprocess.CompletedProcess, *parts: str) -> str:
    err = result.stderr
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("poseclf video: error: "), err
    for part in parts:
        assert part in lines[0], err
    return lines[0]


# -- bad inputs: each case builds its files in its own folder -------------------------------
def _silent_server() -> int:
    """A local TCP port that accepts connections and never answers (a stalled stream)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept())
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return server.getsockname()[1]


def _corrupt_clip(folder: Path) -> Path:
    """An mp4 whose index is intact but whose frames are zeros: it opens, nothing decodes."""
    data = bytearray(make_clip(folder / "ok.mp4").read_bytes())
    (folder / "ok.mp4").unlink()
    start = data.find(b"mdat") + 4
    end = data.find(b"moov")
    assert 0 < start < end
    data[start:end - 4] = bytes(end - 4 - start)
    (folder / "corrupt.mp4").write_bytes(bytes(data))
    return folder / "corrupt.mp4"


def _truncated_clip(folder: Path) -> Path:
    data = make_clip(folder / "ok.mp4").read_bytes()
    (folder / "ok.mp4").unlink()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    return folder / "truncated.mp4"


def _image(folder: Path) -> Path:
    cv2.imwrite(str(folder / "photo.jpg"), np.full((64, 48, 3), 128, np.uint8))
    return folder / "photo.jpg"


def _text(folder: Path) -> Path:
    (folder / "notes.mp4").write_text("not a video\n")
    return folder / "notes.mp4"


def _empty(folder: Path) -> Path:
    (folder / "empty.mp4").write_bytes(b"")
    return folder / "empty.mp4"


def _clip(folder: Path) -> Path:
    return make_clip(folder / "clip.mp4")


def _old_outputs(folder: Path) -> tuple[Path, Path]:
    """An earlier run's video and timeline, which a refused run must leave alone."""
    video = make_clip(folder / "old.mp4", frames=3)
    timeline = folder / "old.csv"
    timeline.write_text("frame,label\n0,sitting\n")
    return video, timeline


def _read_only_folder(folder: Path) -> Path:
    locked = folder / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    return locked


#: name -> (build the argv from the case's folder, text the error line must contain)
BAD_INPUTS = {
    # sources
    "missing source": (lambda d: [d / "nope.mp4"],
                       ["nope.mp4: no such video file", "webcam give its index"]),
    "source is a folder": (lambda d: [d], ["is a folder; give a video file"]),
    "source is a text file": (lambda d: [_text(d)],
                              ["notes.mp4: OpenCV cannot open this video", "check that it plays"]),
    "source is an image": (lambda d: [_image(d)],
                           ["photo.jpg: is an image, not a video", "poseclf predict"]),
    "source is an image named .mp4": (lambda d: [_image(d).rename(d / "photo.mp4")],
                                      ["photo.mp4: is an image, not a video"]),
    "empty mp4": (lambda d: [_empty(d)], ["empty.mp4: is empty (0 bytes)"]),
    "truncated mp4": (lambda d: [_truncated_clip(d)],
                      ["truncated.mp4: OpenCV cannot open this video"]),
    "corrupt mp4": (lambda d: [_corrupt_clip(d)],
                    ["corrupt.mp4: no frame can be decoded", "corrupt or truncated"]),
    "missing webcam": (lambda d: ["9", "--timeout", TIMEOUT_S],
                       ["camera 9 cannot be opened", "Try another index"]),
    "stalled stream": (lambda d: [f"http://127.0.0.1:{_silent_server()}/live.mp4",
                                  "--timeout", TIMEOUT_S],
                       ["/live.mp4: the stream cannot be opened"]),
    "unknown host": (lambda d: ["rtsp://no-such-camera.invalid/stream", "--timeout", TIMEOUT_S],
                     ["no-such-camera.invalid/stream: the stream cannot be opened"]),
    # model and counted class
    "missing model": (lambda d: [_clip(d), "--model", d / "gone.skops"],
                      ["gone.skops: no such model file", "train one with `poseclf train`"]),
    "count a class the model lacks": (lambda d: [_clip(d), "--count", "squat_down"],
                                      ["cannot count 'squat_down'", "sitting, standing"]),
    # outputs
    "output is the source": (lambda d: [_clip(d), "--output", d / "clip.mp4"],
                             ["--output", "clip.mp4: is also an input", "another file"]),
    "output through a link to the source": (
        lambda d: [_clip(d), "--output", _link(d / "clip.mp4", d / "link.mp4")],
        ["--output", "link.mp4: is also an input"]),
    "output extension": (lambda d: [_clip(d), "--output", d / "labelled.txt"],
                         ["--output", "unknown file type '.txt'", "use .mp4"]),
    "timeline extension": (lambda d: [_clip(d), "--timeline", d / "timeline.txt"],
                           ["--timeline", "unknown file type '.txt'", "use .csv or .jsonl"]),
    "timeline is the source": (lambda d: [_clip_named(d, "t.csv"), "--timeline", d / "t.csv"],
                               ["--timeline", "t.csv: is also an input"]),
    "output is a folder": (lambda d: [_clip(d), "--output", d],
                           ["--output", "is a folder; give a file name"]),
    "output folder is a file": (lambda d: [_clip(d), "--output", d / "clip.mp4" / "out.mp4"],
                                ["--output", "clip.mp4 is a file, not a folder"]),
    "output folder is read-only": (lambda d: [_clip(d), "--output",
                                              _read_only_folder(d) / "out.mp4"],
                                   ["--output", "locked is not writable"]),
    "nothing would be kept": (lambda d: [_clip(d), "--no-window", "--quiet"],
                              ["nothing would be shown or kept", "--output", "--timeline"]),
    # repetitions measured: their options, files and rules
    "--reps without --count": (lambda d: [_clip(d), "--reps", d / "reps.csv"],
                               ["--reps measures counted repetitions", "give --count CLASS"]),
    "--rules without --count": (lambda d: [_clip(d), "--rules", "pushups"],
                                ["--rules measures counted repetitions", "--count CLASS"]),
    "--reps-plot without --count": (lambda d: [_clip(d), "--reps-plot", d / "reps.png"],
                                    ["--reps-plot measures counted repetitions"]),
    "reps extension": (lambda d: [_clip(d), "--count", "sitting", "--reps", d / "reps.txt"],
                       ["--reps", "unknown file type '.txt'", "use .csv or .jsonl"]),
    "reps plot extension": (lambda d: [_clip(d), "--count", "sitting", "--reps-plot",
                                       d / "reps.jpg"],
                            ["--reps-plot", "unknown file type '.jpg'", "use .png or .svg"]),
    "reps is the source": (lambda d: [_clip_named(d, "r.csv"), "--count", "sitting", "--reps",
                                      d / "r.csv"],
                           ["--reps", "r.csv: is also an input"]),
    "reps is the timeline": (lambda d: [_clip(d), "--count", "sitting", "--reps", d / "old.csv"],
                             ["--reps", "old.csv: is also an input"]),
    "missing rules file": (lambda d: [_clip(d), "--count", "sitting", "--rules",
                                      d / "mine.toml"],
                           ["--rules", "mine.toml: no such rules file", "pushups, squats"]),
    "rules file is not TOML": (lambda d: [_clip(d), "--count", "sitting", "--rules",
                                          _rules(d, "[[rule]\nname = 1\n")],
                               ["--rules", "mine.toml: not a readable TOML file"]),
    "rules name an unknown angle": (
        lambda d: [_clip(d), "--count", "sitting", "--rules",
                   _rules(d, '[[rule]]\nname = "depth"\nmeasure = "kneee_min"\nmax = 90\n')],
        ["--rules", "rule 'depth': unknown measure 'kneee_min'", "knee"]),
    "rules key angle unknown": (lambda d: [_clip(d), "--count", "sitting", "--rules",
                                           _rules(d, 'key_angle = "wrist"\n')],
                                ["--rules", "key_angle: unknown angle 'wrist'"]),
    # fall events
    "falls extension": (lambda d: [_clip(d), "--falls", d / "events.txt"],
                        ["--falls", "unknown file type '.txt'", "use .jsonl"]),
    "falls is the source": (lambda d: [_clip_named(d, "e.jsonl"), "--falls", d / "e.jsonl"],
                            ["--falls", "e.jsonl: is also an input"]),
    "falls is the timeline": (lambda d: [_clip(d), "--timeline", d / "t.jsonl", "--falls",
                                         d / "t.jsonl"], ["--falls", "t.jsonl: is also an input"]),
    "falls is the reps file": (lambda d: [_clip(d), "--count", "sitting", "--reps",
                                           d / "r.jsonl", "--falls", d / "r.jsonl"],
                               ["--falls", "r.jsonl: is also an input"]),
    "falls is a folder": (lambda d: [_clip(d), "--falls", d], ["--falls", "is a folder"]),
    # several people: the one-person measures are refused
    "falls with --people 2": (lambda d: [_clip(d), "--people", "2", "--falls",
                                         d / "events.jsonl"],
                              ["--falls follows one person", "drop it or --people 2"]),
    "reps with --people 2": (lambda d: [_clip(d), "--people", "2", "--count", "sitting",
                                        "--reps", d / "reps.csv"],
                             ["--reps follows one person", "drop it or --people 2"]),
    "falls with a model without lying": (
        lambda d: [_clip(d), "--falls", d / "events.jsonl"],
        ["--falls: fall events need a model with a 'lying' class", "sitstandlie"]),
}


def _rules(folder: Path, text: str) -> Path:
    (folder / "mine.toml").write_text(text)
    return folder / "mine.toml"


def _link(target: Path, link: Path) -> Path:
    os.link(target, link)  # a hard link: another name for the same file
    return link


def _clip_named(folder: Path, name: str) -> Path:
    """The source under a timeline's name (FFmpeg reads a clip called t.csv: it probes the
    content), so that only the check against the inputs can refuse it."""
    return make_clip(folder / "tmp.mp4").rename(folder / name)


#: Cases where the separate process matters: FFmpeg writes to the process's stderr (its log
#: level is read once per process, which pytest's own process may have set up already), and
#: cameras and streams are waited for (a camera that times out ends the process with
#: ``os._exit``). The other cases run through ``main`` in-process (capfd captures the file
#: descriptor 2 too, so OpenCV's own lines would show).
SUBPROCESS = {"source is a text file", "truncated mp4", "corrupt mp4", "missing webcam",
              "stalled stream", "unknown host"}
SKIPPED = {"output folder is read-only": "running as root, which may write into a read-only "
                                         "folder"} if ROOT else {}


def prepare(name: str, folder: Path) -> list[str]:
    """The case's files in ``folder`` and its argv (after ``video``)."""
    args = [str(a) for a in BAD_INPUTS[name][0](folder)]
    if "--model" not in args:
        args += ["--model", MODEL]
    if "--quiet" not in args:  # every other case keeps something: old outputs that must stay
        _old_outputs(folder)
        if "--output" not in args:
            args += ["--output", str(folder / "old.mp4")]
        if "--timeline" not in args:
            args += ["--timeline", str(folder / "old.csv")]
    return [*args, "--no-window"]


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory) -> dict:
    """The SUBPROCESS cases, run side by side: name -> (folder, files before, result, seconds)."""
    cases = {}
    for name in sorted(SUBPROCESS):
        folder = tmp_path_factory.mktemp(name.replace(" ", "_"))
        args = prepare(name, folder)
        cases[name] = (folder, args, snapshot(folder))

    def run(name: str):
        folder, args, before = cases[name]
        start = time.monotonic()
        result = poseclf_video(args)
        return name, (folder, before, result, time.monotonic() - start)

    with ThreadPoolExecutor(PARALLEL) as pool:
        return dict(pool.map(run, cases))


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_changes_nothing(case, request, tmp_path, capfd):
    if case in SKIPPED:
        pytest.skip(SKIPPED[case])
    if case in SUBPROCESS:
        folder, before, result, seconds = request.getfixturevalue("bad_runs")[case]
        assert seconds < 30  # bounded: a camera or stream that never answers does not hang
    else:
        folder = tmp_path
        args = prepare(case, folder)
        before = snapshot(folder)
        code, err = main_status(["video", *args], capfd)
        result = subprocess.CompletedProcess(args, code, "", err)
    assert result.returncode == 2, result.stderr
    assert_one_error_line(result, *BAD_INPUTS[case][1])
    assert snapshot(folder) == before  # no file made, changed or removed; no temporary left


def test_a_camera_that_never_answers_is_abandoned_after_the_timeout(tmp_path):
    """A webcam whose driver blocks (OpenCV ignores deadlines there): one line after --timeout,
    and the process ends at once although the open is still running."""
    code = (
        "import sys, time, cv2\n"
        "class Stuck:\n"
        "    def __init__(self, *args, **kwargs): time.sleep(60)\n"
        "cv2.VideoCapture = Stuck\n"
        "from poseclf.cli import main\n"
        f"sys.exit(main(['video', '0', '--model', '{MODEL}', '--no-window', '--timeout', '1',"
        f" '--timeline', {str(tmp_path / 't.csv')!r}]))\n"
    )
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert_one_error_line(result, "camera 0: no frame within 1 s", "--timeout")
    assert time.monotonic() - start < 20
    assert list(tmp_path.iterdir()) == []


def test_bounded_wait_hands_a_late_result_to_its_clean_up():
    released = threading.Event()
    with pytest.raises(SourceTimeout, match="too slow"):
        bounded_call(lambda: time.sleep(0.3) or "capture", 0.05,
                 lambda value: released.set() if value == "capture" else None, "too slow")
    assert released.wait(5)
    assert bounded_call(lambda: 42, 5, lambda value: None, "unused") == 42


# -- the source and old outputs are safe ---------------------------------------------------
def test_source_given_as_output_is_refused_and_left_whole(tmp_path):
    """The reported bug: `poseclf video same.mp4 --output same.mp4` truncated the video."""
    source = shutil.copy(shared_data_or_skip("videos", "sit.mp4"), tmp_path / "same.mp4")
    before = snapshot(tmp_path)
    result = poseclf_video([source, "--model", MODEL, "--no-window", "--output", source,
                            "--max-frames", 5])
    assert result.returncode == 2
    assert_one_error_line(result, "--output", "same.mp4: is also an input", "another file")
    assert snapshot(tmp_path) == before


def test_a_failed_run_leaves_the_old_outputs_and_no_temporary(tmp_path, monkeypatch, capsys):
    """An error mid-run (here the classifier breaks at frame 4): the earlier video and timeline
    stay as they were, exit status 1, one line."""
    import poseclf.video.run as video

    source = make_clip(tmp_path / "clip.mp4")
    _old_outputs(tmp_path)
    before = snapshot(tmp_path)
    calls = []

    def broken(model, pose, reject=True):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("classifier broke")
        return None, "no_person"

    monkeypatch.setattr(video, "_classify", broken)
    code, err = main_status(["video", str(source), "--model", MODEL, "--no-window", "--quiet",
                             "--output", str(tmp_path / "old.mp4"),
                             "--timeline", str(tmp_path / "old.csv")], capsys)
    assert code == 1
    assert err.count("\n") == 1 and "classifier broke" in err, err
    assert snapshot(tmp_path) == before


def test_a_complete_run_replaces_the_old_outputs(tmp_path, capsys):
    source = make_clip(tmp_path / "clip.mp4")
    video_path, timeline = _old_outputs(tmp_path)
    code, _ = main_status(["video", str(source), "--model", MODEL, "--no-window", "--quiet",
                           "--output", str(video_path), "--timeline", str(timeline)], capsys)
    assert code == 0
    assert video_frames(video_path) == (CLIP_FRAMES, CLIP_SIZE)
    assert pd.read_csv(timeline)["frame"].tolist() == list(range(CLIP_FRAMES))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "old.csv", "old.mp4"]
    umask = os.umask(0)
    os.umask(umask)
    assert video_path.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temporary's 0600


# -- signals and displays ------------------------------------------------------------------
def test_sigterm_leaves_playable_video_and_complete_timeline(tmp_path):
    source = make_clip(tmp_path / "long.mp4", frames=900, size=(320, 240), fps=30.0)
    video_path, timeline = _old_outputs(tmp_path)  # replaced: that is this command's job
    source_hash = snapshot(tmp_path)["long.mp4"]
    code, err = signal_after_rows(
        [source, "--model", MODEL, "--no-window", "--quiet", "--output", video_path,
         "--timeline", timeline], timeline, signal.SIGTERM, rows=10)
    assert code == 143, err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("poseclf")] == [
        f"poseclf video: terminated (the outputs hold its {len(pd.read_csv(timeline))} frames)"]
    rows = pd.read_csv(timeline)
    n = len(rows)
    assert 10 <= n < 900
    assert rows["frame"].tolist() == list(range(n))
    assert not rows.drop(columns="repetitions").isna().any().any()  # every row complete
    capture = cv2.VideoCapture(str(video_path))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) > 0  # the mp4 has its index
    capture.release()
    assert video_frames(video_path) == (n, (320, 240))
    assert being_written(video_path) is None and being_written(timeline) is None
    assert snapshot(tmp_path)["long.mp4"] == source_hash


def test_without_a_display_the_run_goes_on_headless_with_one_warning(tmp_path):
    """It aborted inside Qt (exit 134) and left a 44-byte mp4 and a 2-line timeline."""
    source = make_clip(tmp_path / "clip.mp4")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = poseclf_video([source, "--model", MODEL, "--quiet", "--max-frames", 12,
                            "--output", tmp_path / "out.mp4",
                            "--timeline", tmp_path / "t.jsonl"], env=env)
    assert result.returncode == 0, result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith(("poseclf", "qt."))]
    assert ours == ["poseclf: WARNING: no window (neither DISPLAY nor WAYLAND_DISPLAY is set): "
                    "running headless as with --no-window; Ctrl-C stops"], result.stderr
    assert video_frames(tmp_path / "out.mp4") == (12, CLIP_SIZE)
    assert len((tmp_path / "t.jsonl").read_text().splitlines()) == 12


def test_stop_flag_turns_sigterm_into_a_clean_stop_and_restores_the_handlers():
    before = {s: signal.getsignal(s) for s in _StopFlag.SIGNALS}
    with _StopFlag() as stop:
        assert signal.getsignal(signal.SIGTERM) == stop._handler  # or the kill ends pytest
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs between bytecodes
        assert stop.requested and stop.stop_reason == "terminated"
    assert {s: signal.getsignal(s) for s in _StopFlag.SIGNALS} == before


# -- options: checked at parse time, one line naming the option and the range ----------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--max-frames", "0"], "--max-frames: 0 is too small: give 1 or more"),
        (["--max-frames", "ten"], "--max-frames: 'ten' is not an integer"),
        (["--people", "0"], "--people: 0 is too small: give 1 or more"),
        (["--people", "two"], "--people: 'two' is not an integer"),
        (["--alpha", "0"], r"--alpha: 0 is out of range: give a number in (0, 1]"),
        (["--alpha", "1.5"], r"--alpha: 1.5 is out of range: give a number in (0, 1]"),
        (["--alpha", "nan"], "--alpha: 'nan' is not a finite number"),
        (["--margin", "-0.1"], "--margin: -0.1 is out of range: give a number in [0, 1)"),
        (["--margin", "1"], "--margin: 1 is out of range: give a number in [0, 1)"),
        (["--count", "sitting", "--enter", "1.2"], "--enter: 1.2 is out of range"),
        (["--count", "sitting", "--exit", "-0.1"], "--exit: -0.1 is out of range"),
        (["--count", "sitting", "--enter", "0.5", "--exit", "0.5"],
         "--exit 0.5 must be below --enter 0.5"),
        (["--enter", "0.7"], "--enter sets a threshold of --count; give --count CLASS too"),
        (["--window", "ten"], "--window: 'ten': give frames (an integer, e.g. 10) or seconds"),
        (["--window", "0"], "--window: a frame count must be an integer >= 1, got 0"),
        (["--window", "0s"], "--window: '0s': give a duration > 0 seconds"),
        (["--window=-1s"], "--window: '-1s': give a duration > 0 seconds"),
        (["--window", "infs"], "--window: 'infs': give a duration > 0 seconds"),
        (["--window", "2.5"], "--window: '2.5': give frames"),
        (["--min-frames", "0"], "--min-frames: a frame count must be an integer >= 1"),
        (["--max-missing", "-1"], "--max-missing: a frame count must be an integer >= 0"),
        (["--max-missing=-0.1s"], "--max-missing: '-0.1s': give a duration >= 0 seconds"),
        (["--max-missing", "soon"], "--max-missing: 'soon': give frames"),
        (["--timeout", "0"], "--timeout: 0 is out of range: give a number in (0, inf)"),
        (["--falls", "e.jsonl", "--falls-after", "-1"],
         "--falls-after: -1 is out of range: give a number in [0, inf)"),
        (["--falls", "e.jsonl", "--falls-after", "nan"], "--falls-after: 'nan' is not a finite"),
        (["--falls", "e.jsonl", "--falls-after", "soon"], "--falls-after: 'soon' is not a"),
        (["--falls-after", "2"], "--falls-after sets the wait of --falls; give --falls"),
    ],
)
def test_bad_option_is_one_line_naming_it_and_the_range(options, message, capsys):
    code, err = main_status(["video", "clip.mp4", "--model", MODEL, *options], capsys)
    assert code == 2
    assert err.startswith("poseclf video: error: ") and err.count("\n") == 1, err
    assert message in err, err


@pytest.mark.parametrize("options", [["--max-missing", "0"], ["--max-missing", "0s"],
                                     ["--window", "1"], ["--window", "0.01s"], ["--alpha", "1"],
                                     ["--margin", "0"], ["--count", "sitting", "--exit", "0"],
                                     ["--falls", "e.jsonl", "--falls-after", "0"]])
def test_edge_values_are_accepted(options):
    from poseclf.cli import build_parser

    args = build_parser().parse_args(["video", "clip.mp4", "--model", MODEL, *options])
    assert args.func is not None


def test_an_animated_gif_is_a_video_not_a_photo(tmp_path):
    from PIL import Image

    frames = [Image.new("RGB", (48, 32), (40 * i, 90, 160)) for i in range(5)]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=100)
    report = run_video(tmp_path / "clip.gif", MODEL, timeline=tmp_path / "t.csv", progress=False)
    assert report.frames == 5 and len(pd.read_csv(tmp_path / "t.csv")) == 5


def test_run_video_refuses_zero_max_frames(tmp_path):
    with pytest.raises(VideoError, match="max_frames must be an integer >= 1"):
        run_video(make_clip(tmp_path / "clip.mp4"), MODEL, max_frames=0, progress=False)


def test_lengths_in_seconds_and_zero_gap_run(tmp_path):
    source = make_clip(tmp_path / "clip.mp4")
    report = run_video(source, MODEL, timeline=tmp_path / "t.csv",
                       smoothing=Smoothing(window="1s", max_missing="0s"), progress=False)
    rows = pd.read_csv(tmp_path / "t.csv")
    assert report.frames == CLIP_FRAMES and len(rows) == CLIP_FRAMES
    assert set(rows.columns) >= {PROBABILITY_PREFIX + "sitting", PROBABILITY_PREFIX + "standing"}
    assert math.isclose(report.info.fps, CLIP_FPS)
