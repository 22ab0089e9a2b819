"""`poseclf demo` runs offline on material that ships with the install."""

import re

import cv2
import pytest

from poseclf.cli import main

pytestmark = pytest.mark.usefixtures("one_blas_thread")  # trains models: see conftest


@pytest.mark.slow  # the whole demo: BlazePose, a plot, training (2 s)
def test_demo_runs_the_whole_flow_and_says_where_the_pictures_are(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "astronaut: 33 landmarks" in out and str(tmp_path) in out
    assert "cameraman" in out and "'sitstand' says standing" in out  # he stands
    assert "5-fold cross-validation" in out
    assert re.search(r"accuracy (0\.\d{3}|1\.000), macro-F1", out)
    assert "What to try next" in out
    for name in ("astronaut_pose.png", "astronaut_3d.png", "cameraman_pose.png"):
        image = cv2.imread(str(tmp_path / name))
        assert image is not None and image.shape[0] >= 300, name
