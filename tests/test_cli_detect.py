"""`poseclf detect` in-process: lines, JSON, pictures, and exit codes."""

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from poseclf.cli import main


@pytest.fixture()
def photos(tmp_path, astronaut):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(astronaut).save(folder / "astronaut.jpg", quality=95)
    cv2.imwrite(str(folder / "blank.png"), np.full((100, 100, 3), 200, np.uint8))
    (folder / "broken.jpg").write_text("not a picture")
    return folder


def test_detect_prints_one_line_per_image_and_fails_only_for_unreadable(photos, capsys):
    code = main(["detect", str(photos / "astronaut.jpg"), str(photos / "broken.jpg"),
                 str(photos / "blank.png")])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert code == 1
    assert len(lines) == 2  # the unreadable file is reported on stderr only
    assert "astronaut.jpg\tpeople=1" in lines[0]
    assert "blank.png\tpeople=0" in lines[1]
    errors = [line for line in err.splitlines() if line.startswith("poseclf")]
    assert len(errors) == 1 and errors[0].startswith("poseclf detect: error: ")
    assert "broken.jpg" in errors[0] and "not a readable image" in errors[0]


def test_detect_json_has_named_landmarks(photos, capsys):
    assert main(["detect", "--json", str(photos / "astronaut.jpg")]) == 0
    record = json.loads(capsys.readouterr().out.strip())
    marks = record["people"][0]["landmarks"]
    assert len(marks) == 33 and marks[0]["name"] == "nose" and len(marks[0]["world"]) == 3
    assert record["width"] == 512


def test_detect_draws_the_pose_and_the_3d_plot(photos, tmp_path):
    out = tmp_path / "out"
    assert main(["detect", str(photos / "astronaut.jpg"), "--draw", str(out),
                 "--plot3d", str(out)]) == 0
    drawn = cv2.imread(str(out / "astronaut_pose.png"))
    assert drawn.shape == (512, 512, 3)
    plot = cv2.imread(str(out / "astronaut_3d.png"))
    assert plot is not None and plot.shape[0] > 300


def test_missing_model_is_a_one_line_error(photos, capsys, blazepose_home):
    assert main(["detect", "--complexity", "2", str(photos / "astronaut.jpg")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("poseclf detect: error:") and "--install-blazepose" in err
    assert len(err.strip().splitlines()) == 1
