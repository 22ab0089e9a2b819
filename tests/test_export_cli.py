"""``poseclf export`` (ONNX and ML Kit's pose-samples CSV) and ``poseclf extract SAMPLES.csv``
through the command line, in-process; bad inputs are in tests/test_bad_input_*.py."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from poseclf.cli import main
from poseclf.pose.poses import Poses
from poseclf.pose.table import load_table
from poseclf.tables.mlkit_csv import MLKIT_FIELDS, escape, read_mlkit_csv, unescape

TABLE = REPO / "datasets" / "pushups_visolus.csv"


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """The push-up table written as ML Kit pose samples by the command line."""
    path = tmp_path_factory.mktemp("mlkit") / "samples.csv"
    assert main(["export", str(TABLE), "--format", "mlkit-csv", "-o", str(path)]) == 0
    return path


def test_samples_are_mlkit_lines_in_pixels(samples):
    table = load_table(TABLE)
    detected = table[table["detected"]]
    lines = samples.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(detected)  # one line per pose, no header
    fields = lines[0].split(",")
    assert len(fields) == MLKIT_FIELDS
    first = Poses.from_table(detected.head(1))
    width, height = first.image_sizes[0]
    assert fields[0] == f"{detected['path'].iloc[0]}@{int(width)}x{int(height)}"
    assert fields[1] == detected["label"].iloc[0]
    pixels = np.asarray(fields[2:], dtype=float).reshape(33, 3)
    expected = first.landmarks[0, :, :3] * np.array([width, height, width], dtype=np.float64)
    np.testing.assert_array_equal(pixels, expected)


def test_samples_come_back_as_the_same_table(samples, tmp_path):
    back = tmp_path / "back.csv"
    assert main(["extract", str(samples), "-o", str(back)]) == 0
    table = load_table(TABLE)
    detected = table[table["detected"]].reset_index(drop=True)
    again = load_table(back)
    assert again["path"].tolist() == detected["path"].tolist()
    assert again["label"].tolist() == detected["label"].tolist()
    before, after = Poses.from_table(detected), Poses.from_table(again)
    np.testing.assert_array_equal(after.landmarks[..., :3], before.landmarks[..., :3])
    np.testing.assert_array_equal(after.image_sizes, before.image_sizes)
    assert (after.landmarks[..., 3] == 1).all()  # the format has no visibility
    assert not after.has_world.any()  # nor world landmarks


def test_colab_samples_without_sizes_take_the_given_size_or_a_bounding_square(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 500, (2, 99)).round(5)
    path = tmp_path / "colab.csv"
    path.write_text("".join(f"img{i}.jpg,squat_down,{','.join(map(str, row))}\n"
                            for i, row in enumerate(pixels)))
    given = read_mlkit_csv(path, (640, 480))
    assert given["width"].tolist() == [640, 640] and given["height"].tolist() == [480, 480]
    np.testing.assert_allclose(given["left_hip_y"], pixels[:, 23 * 3 + 1] / 480, rtol=1e-6)
    square = read_mlkit_csv(path)
    side = np.ceil(pixels.reshape(2, 33, 3)[:, :, :2].max(axis=(1, 2)))
    assert square["width"].tolist() == side.tolist() == square["height"].tolist()
    assert square["path"].tolist() == ["img0.jpg", "img1.jpg"]


@pytest.mark.parametrize("text", ["a,b", "100%", "x%2Cy", "line\nbreak", "plain/path.jpg"])
def test_names_with_commas_and_percent_signs_round_trip(text):
    assert "," not in escape(text) and "\n" not in escape(text)
    assert unescape(escape(text)) == text


def test_export_onnx_prints_what_it_wrote(tmp_path, capsys):
    pytest.importorskip("onnx", reason="ONNX export needs onnx: pip install \"poseclf[export]\"")
    out = tmp_path / "pushups.onnx"
    assert main(["export", "pushups", "-o", str(out)]) == 0
    line = capsys.readouterr().out
    assert out.is_file() and line.startswith(f"{out}: ")
    assert "world_landmarks (n, 33, 3)" in line and "classes: pushups_down, pushups_up" in line


def test_export_without_onnx_says_how_to_install_it(tmp_path):
    """An install without the export extra: one line naming the extra."""
    fake = tmp_path / "no_onnx" / "onnx"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('onnx is not installed')\n")
    env_path = f"{fake.parent}:{REPO}"
    done = subprocess.run([sys.executable, "-m", "poseclf", "export", "pushups", "-o",
                           str(tmp_path / "m.onnx")], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "poseclf export: error: ONNX export needs the onnx package: pip install "
        "\"poseclf[export]\" (onnx and onnxruntime pinned to fit mediapipe's protobuf)"]
    assert not (tmp_path / "m.onnx").exists()


def _readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Export to ONNX", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.+?)\n```", section, re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


def test_readme_example_classifies_a_row_without_poseclf(tmp_path):
    pytest.importorskip("onnxruntime", reason="the example runs onnxruntime: pip install "
                        "\"poseclf[export]\"")
    assert main(["export", "yoga", "-o", str(tmp_path / "yoga.onnx")]) == 0
    (tmp_path / "datasets").symlink_to(REPO / "datasets")
    code = _readme_example() + "\nimport sys\nassert 'poseclf' not in sys.modules\n"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    path, label, probability = done.stdout.split()
    table = load_table(REPO / "datasets" / "yoga_manoj.csv")
    row = table[table["detected"]].head(1)
    poses = Poses.from_table(row)
    from poseclf.classify.model import PoseModel

    scored = PoseModel.load("yoga").predict_with_scores(
        poses.landmarks, poses.image_sizes, world_landmarks=poses.world_landmarks)
    assert (path, label) == (row["path"].item(), scored.labels[0])
    assert float(probability) == pytest.approx(scored.proba[0].max(), abs=0.005)


def test_a_sample_without_its_class_is_refused_with_its_line(samples, tmp_path):
    from poseclf.errors import TableError

    lines = samples.read_text(encoding="utf-8").splitlines()
    name, _, rest = lines[1].split(",", 2)
    path = tmp_path / "no_class.csv"
    path.write_text("\n".join([lines[0], f"{name},,{rest}"]) + "\n", encoding="utf-8")
    with pytest.raises(TableError, match="line 2 has no class_name"):
        read_mlkit_csv(path)
