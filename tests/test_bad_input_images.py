"""Bad image inputs through the real command line: one line each, nothing lost, no traceback.

Each test runs ``python -m poseclf`` once on a folder that mixes good photos with bad files and
checks the exit status (2: a bad input, nothing done; 1: the run finished but some files could
not be read), exactly one ``poseclf ...`` line on stderr per problem naming the file or option
and the fix, and that every input file is byte-identical afterwards. (MediaPipe writes its own
INFO/W0000 lines on stderr once BlazePose starts: only lines starting with ``poseclf`` are ours.)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import pandas as pd
import pytest
from conftest import REPO, shared_data_or_skip
from image_files import PNG_SIGNATURE, blank_png, png_chunk

pytestmark = pytest.mark.slow  # subprocesses, signals or notebooks: `pytest -m "not slow"` skips it

TIMEOUT_S = 120  # a hang (a FIFO read) fails the test instead of blocking the suite
MODEL = "models/yoga.skops"
BAD = {  # file -> what its error line must say (the reason and the fix)
    "huge20000.png": ("20000x20000 pixels (400 megapixels)", "downscale it"),
    "huge33000.png": ("33000x33000 pixels (1089 megapixels)", "downscale it"),
    "empty.jpg": ("the file is empty", "replace it or delete it"),
    "text.jpg": ("not a readable image", "re-export it as JPEG or PNG"),
    "truncated.jpg": ("truncated", "copy or download it again"),
    "zero.png": ("no pixels (0x0)", "replace it or delete it"),
}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "poseclf", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=TIMEOUT_S, check=False)


def our_lines(stderr: str) -> list[str]:
    """poseclf's own stderr lines (MediaPipe adds its start-up logging)."""
    return [line for line in stderr.splitlines() if line.startswith("poseclf")]


def assert_one_line_each(result: subprocess.CompletedProcess, command: str,
                         expected: dict[str, tuple[str, ...]]) -> None:
    """Exactly one ``poseclf COMMAND: error:`` line per problem, naming it with the fix."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = our_lines(result.stderr)
    assert len(lines) == len(expected), lines
    for name, phrases in expected.items():
        mine = [line for line in lines if name in line]
        assert len(mine) == 1, (name, lines)
        assert mine[0].startswith(f"poseclf {command}: error: "), mine[0]
        for phrase in phrases:
            assert phrase in mine[0], (phrase, mine[0])


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def photo() -> Path:
    return shared_data_or_skip("yoga_marchenkova", "warrior2", "File12.jpg")


@pytest.fixture()
def mixed(tmp_path, photo) -> Path:
    """Good photos (one name in two class folders, a motion photo, a non-ASCII name, a folder
    named like an image) and the bad files of BAD."""
    folder = tmp_path / "in"
    for sub in ("warrior2", "tree", "dir.jpg"):
        (folder / sub).mkdir(parents=True)
    shutil.copy(photo, folder / "warrior2" / "File12.jpg")
    shutil.copy(photo, folder / "tree" / "File12.jpg")
    shutil.copy(photo, folder / "dir.jpg" / "inside.jpg")
    shutil.copy(photo, folder / "поза é.jpg")
    try:  # a Latin-1 name, not UTF-8 (Linux allows any bytes; macOS and Windows do not)
        (folder / os.fsdecode(b"caf\xe9.jpg")).write_bytes(photo.read_bytes())
        (folder / os.fsdecode(b"bad\xe9.jpg")).write_text("not a photo")
    except (OSError, UnicodeError):
        pass
    video = shared_data_or_skip("videos", "sit.mp4").read_bytes()[:100_000]
    (folder / "motion.jpg").write_bytes(photo.read_bytes() + video)  # a phone's motion photo
    data = photo.read_bytes()
    (folder / "huge20000.png").write_bytes(blank_png(20000, 20000))
    (folder / "huge33000.png").write_bytes(blank_png(33000, 33000))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("a text file named like a photo\n")
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    zero = struct.pack(">IIBBBBB", 0, 0, 8, 2, 0, 0, 0)  # an IHDR of 0x0 pixels
    (folder / "zero.png").write_bytes(PNG_SIGNATURE + png_chunk(b"IHDR", zero)
                                      + png_chunk(b"IEND", b""))
    return folder


GOOD = ["warrior2/File12", "tree/File12", "dir.jpg/inside", "поза é", "motion"]


def test_detect_reports_each_unreadable_image_once_and_goes_on(mixed, tmp_path):
    before = snapshot(mixed)
    out = tmp_path / "out"
    result = run_cli("detect", str(mixed), "--draw", str(out), "--plot3d", str(out))
    assert result.returncode == 1, result.stderr
    latin1 = (mixed / os.fsdecode(b"caf\xe9.jpg")).exists()
    bad = {**BAD, "bad\\xe9.jpg": ("not a readable image",)} if latin1 else BAD
    assert_one_line_each(result, "detect", bad)
    lines = result.stdout.splitlines()
    for good in GOOD + (["caf\\xe9"] if latin1 else []):  # a line each, a person, drawings
        line = next(line for line in lines if f"{good}.jpg\t" in line)
        assert "people=1" in line
    drawn = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert drawn == sorted([  # the two File12.jpg get one drawing each
        "warrior2/File12_pose.png", "tree/File12_pose.png", "inside_pose.png",
        "поза é_pose.png", "motion_pose.png",
        "warrior2/File12_3d.png", "tree/File12_3d.png", "inside_3d.png",
        "поза é_3d.png", "motion_3d.png",
    ] + ([os.fsdecode(b"caf\xe9_pose.png"), os.fsdecode(b"caf\xe9_3d.png")] if latin1 else []))
    assert snapshot(mixed) == before


def test_predict_reports_each_unreadable_image_once_and_goes_on(mixed, tmp_path):
    before = snapshot(mixed)
    out = tmp_path / "drawn"
    result = run_cli("predict", "--model", MODEL, str(mixed / "warrior2"), str(mixed / "tree"),
                     str(mixed / "huge33000.png"), str(mixed / "motion.jpg"),
                     str(mixed / "поза é.jpg"), "--draw", str(out), "--json")
    assert result.returncode == 1, result.stderr
    assert_one_line_each(result, "predict", {"huge33000.png": BAD["huge33000.png"]})
    records = {Path(r["file"]).relative_to(mixed).as_posix(): r
               for r in map(json.loads, result.stdout.splitlines())}
    assert records["huge33000.png"]["error"].startswith(f"{mixed / 'huge33000.png'}: 33000x")
    for good in ("warrior2/File12.jpg", "tree/File12.jpg", "motion.jpg", "поза é.jpg"):
        assert records[good]["label"] == "warrior2", records[good]
    drawn = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert drawn == sorted(["warrior2/File12_pred.png", "tree/File12_pred.png",
                            "motion_pred.png", "поза é_pred.png"])
    assert cv2.imread(str(out / "tree" / "File12_pred.png")).shape[:2] == (
        cv2.imread(str(mixed / "tree" / "File12.jpg")).shape[:2])
    assert snapshot(mixed) == before


def test_predict_refuses_paths_that_are_not_image_files_before_any_work(tmp_path, photo):
    folder = tmp_path / "in"
    (folder / "no_images").mkdir(parents=True)
    (folder / "no_images" / "notes.txt").write_text("no photo here\n")
    shutil.copy(photo, folder / "ok.jpg")
    fifo = folder / "fifo.jpg"
    os.mkfifo(fifo)
    sock_path = folder / "socket.jpg"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    expected = {
        "fifo.jpg": ("not a regular file", "give a file or folder saved on disk"),
        "/dev/zero": ("not a regular file", "give a file or folder saved on disk"),
        "socket.jpg": ("not a regular file", "give a file or folder saved on disk"),
        "missing.jpg": ("no such file or folder", "check the path"),
        "missing_folder": ("no such file or folder", "check the path"),
        "no_images": ("no image files in this folder", "check the path"),
        "--draw": ("is a file", "give a folder name"),
    }
    args = [str(fifo), "/dev/zero", str(sock_path), str(folder / "missing.jpg"),
            str(folder / "missing_folder") + os.sep, str(folder / "no_images"),
            str(folder / "ok.jpg")]
    if os.geteuid() != 0:  # root reads a chmod-000 file: tests/test_images.py checks that one
        locked = folder / "locked.jpg"
        shutil.copy(photo, locked)
        locked.chmod(0)
        args.append(str(locked))
        expected["locked.jpg"] = ("permission denied", "chmod u+r")
    before = snapshot(folder)
    try:
        result = run_cli("predict", "--model", MODEL, *args, "--draw", str(folder / "ok.jpg"))
    finally:
        sock.close()
    assert result.returncode == 2, result.stderr
    assert_one_line_each(result, "predict", expected)
    assert result.stdout == ""
    assert snapshot(folder) == before


def read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write into."""
    if os.geteuid() != 0:
        folder = tmp_path / "read_only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    if os.path.isdir("/proc/1") and not os.access("/proc/1", os.W_OK):
        return Path("/proc/1")  # root writes anywhere on disk, not in /proc
    pytest.skip("running as root and no read-only folder found")


def test_detect_refuses_bad_outputs_and_inputs_before_any_work(tmp_path, photo):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(photo, folder / "x.jpg")
    shutil.copy(photo, folder / "x_pose.png")  # e.g. a drawing of an earlier run, now an input
    os.mkfifo(folder / "pipe.png")
    locked = read_only_folder(tmp_path)
    before = snapshot(folder)
    result = run_cli("detect", str(folder / "x.jpg"), str(folder / "x_pose.png"),
                     str(folder / "pipe.png"), str(tmp_path / "gone"),
                     "--draw", str(folder), "--plot3d", str(locked / "plots"))
    if locked.is_relative_to(tmp_path):
        locked.chmod(0o755)
    assert result.returncode == 2, result.stderr
    assert_one_line_each(result, "detect", {
        "pipe.png": ("not a regular file", "give a file or folder saved on disk"),
        "gone": ("no such file or folder", "check the path"),
        "--plot3d": ("is not writable", "choose another path"),
        "--draw": ("would replace the input", "x_pose.png", "choose another folder"),
    })
    assert result.stdout == ""
    assert snapshot(folder) == before
    assert not (folder / "x_pose.png").is_dir()


def test_detect_num_poses_zero_is_refused_at_parse():
    result = run_cli("detect", "--num-poses", "0", "x.jpg")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = our_lines(result.stderr)
    assert line.startswith("poseclf detect: error: ") and "--num-poses" in line
    assert "0 is too small: give 1 or more" in line  # the parser's check, before any work


def test_extract_turns_a_huge_image_into_an_unreadable_row(tmp_path, photo):
    from poseclf.tables.dataset import extract_folder

    data = tmp_path / "data" / "warrior2"
    data.mkdir(parents=True)
    shutil.copy(photo, data / "File12.jpg")
    (data / "huge.png").write_bytes(blank_png(33000, 33000))
    table = tmp_path / "table.csv"
    extract_folder(tmp_path / "data", table, workers=1, progress=False)
    rows = pd.read_csv(table, keep_default_na=False).set_index("path")
    assert bool(rows.loc["warrior2/File12.jpg", "detected"])
    reason = rows.loc["warrior2/huge.png", "reason"]
    assert reason.startswith("unreadable: 33000x33000 pixels") and "downscale it" in reason


@pytest.mark.parametrize(("value", "message"), [("0", "--people: 0 is too small: give 1 or more"),
                                                ("many", "--people: 'many' is not an integer")])
def test_predict_refuses_a_bad_people_count_in_one_line(tmp_path, value, message):
    result = run_cli("predict", "--model", MODEL, str(tmp_path), "--people", value)
    assert result.returncode == 2
    lines = our_lines(result.stderr)
    assert len(lines) == 1 and message in lines[0], result.stderr
