"""poseclf's figures leave matplotlib's global state alone: the user's backend, pyplot's figures."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from conftest import REPO

from poseclf.pictures.detect import save_pose_3d
from poseclf.pictures.draw import plot_pose_3d
from poseclf.pictures.plots import plot_confusion_matrix, save_confusion_matrix
from poseclf.pose.landmarks import Pose

REFERENCE = REPO / "tests" / "draw_overlays_reference.npz"  # real BlazePose landmarks

USER_SESSION = f"""
import sys
import matplotlib
matplotlib.use("svg")  # the user's choice, made before poseclf plots anything
import numpy as np
from poseclf.pictures.detect import save_pose_3d
from poseclf.pictures.draw import plot_pose_3d
from poseclf.pose.landmarks import Pose
from poseclf.pictures.plots import plot_confusion_matrix, save_confusion_matrix

ref = np.load({str(REFERENCE)!r})
pose = Pose(ref["landmarks"], ref["world_landmarks"], (512, 512))
report = {{"labels": ["sitting", "standing"], "confusion": [[5, 1], [0, 7]]}}
out = sys.argv[1]

def plot_everything():
    plot_pose_3d(pose, title="3d")
    plot_confusion_matrix(report["confusion"], report["labels"])
    save_pose_3d(pose, out + "/pose_3d.png")
    save_confusion_matrix(report, out + "/confusion.png")
    save_confusion_matrix(report, out + "/confusion.svg")

plot_everything()
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert "matplotlib.pyplot" not in sys.modules, "poseclf imported pyplot"
import matplotlib.pyplot as plt
mine = plt.figure()
plot_everything()
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert plt.get_fignums() == [mine.number], plt.get_fignums()
print("ok")
"""


def test_plotting_keeps_the_backend_set_before(tmp_path):
    """In this process: the backend the user chose and pyplot's open figures stay as they were."""
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # any backend other than the Agg poseclf draws with
    try:
        figures = plt.get_fignums()
        with np.load(REFERENCE) as ref:
            pose = Pose(ref["landmarks"], ref["world_landmarks"], (512, 512))
        plot_pose_3d(pose)
        save_pose_3d(pose, tmp_path / "pose_3d.png")
        report = {"labels": ["sitting", "standing"], "confusion": [[5, 1], [0, 7]]}
        plot_confusion_matrix(report["confusion"], report["labels"])
        save_confusion_matrix(report, tmp_path / "confusion.png")
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == figures
    finally:
        matplotlib.use(before)
    assert (tmp_path / "pose_3d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow  # a fresh interpreter (importing poseclf takes seconds)
def test_plotting_keeps_the_users_backend_and_pyplot_figures(tmp_path):
    """In a fresh interpreter: poseclf does not even import pyplot."""
    done = subprocess.run([sys.executable, "-c", USER_SESSION, str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
    for name in ("pose_3d.png", "confusion.png", "confusion.svg"):
        assert (tmp_path / name).stat().st_size > 1000
    assert (tmp_path / "pose_3d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
