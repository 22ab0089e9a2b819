"""`poseclf demo` runs offline on material that ships with the install."""

import cv2

from poseclf.cli import main


def test_demo_writes_the_drawn_pose_and_the_3d_plot(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "astronaut: 33 landmarks" in out and str(tmp_path) in out
    for name in ("astronaut_pose.png", "astronaut_3d.png", "cameraman_pose.png"):
        image = cv2.imread(str(tmp_path / name))
        assert image is not None and image.shape[0] >= 300, name
