"""Shared fixtures: real photos from scikit-image and from ../shared/data (skipped when absent)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
#: The development data set beside the project; POSECLF_SHARED_DATA points elsewhere.
SHARED_DATA = Path(os.environ.get("POSECLF_SHARED_DATA", REPO.parent / "shared" / "data"))
#: BlazePose Lite and Heavy files beside the project (see its README); POSECLF_SHARED_MODELS.
SHARED_MODELS = Path(os.environ.get("POSECLF_SHARED_MODELS", REPO.parent / "shared" / "models"))
# The poseclf user folder (BlazePose files, built .task) of every test and of the commands they
# run: an empty folder of this session, never the developer's own nor the venv's.
os.environ["POSECLF_HOME"] = tempfile.mkdtemp(prefix="poseclf_home_")


def shared_model_or_skip(name: str) -> Path:
    """``../shared/models/pose_landmark_<name>.tflite``, or skip with the reason."""
    path = SHARED_MODELS / f"pose_landmark_{name}.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is absent: BlazePose {name} is not bundled with mediapipe; clone "
                    "the project beside ../shared (models/) to run this test")
    return path


@pytest.fixture
def blazepose_home(tmp_path, monkeypatch) -> Path:
    """An empty poseclf user folder for one test (``$POSECLF_HOME``)."""
    home = tmp_path / "poseclf_home"
    monkeypatch.setenv("POSECLF_HOME", str(home))
    return home


def shared_data_or_skip(*parts: str) -> Path:
    """Path inside ../shared/data, or skip the test with the reason when it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: clone the project beside ../shared to run this test")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_data_or_skip()


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """Upright woman, head to knees, 512x512 RGB (a real photo shipped with scikit-image)."""
    from skimage.data import astronaut as load

    return load()


@pytest.fixture(scope="session")
def cameraman() -> np.ndarray:
    """Man standing with a camera, 512x512 gray (scikit-image)."""
    from skimage.data import camera

    return camera()


@pytest.fixture(scope="session")
def image_extractor():
    """One BlazePose Full extractor in image mode for the whole session (saves graph start-ups)."""
    from poseclf.pose.extraction import PoseExtractor

    with PoseExtractor(static_image_mode=True) as extractor:
        yield extractor


@pytest.fixture(scope="module")
def one_blas_thread():
    """BLAS and OpenMP on one thread for a whole module (``pytestmark = pytest.mark.usefixtures(
    "one_blas_thread")``), its module fixtures included.

    The test arrays are small, and on a busy 2-core machine OpenBLAS threads spin against each
    other: the L-BFGS steps of every SVM's sigmoid calibration took 4 times longer with 2 threads
    than with 1. Only for modules that compare results computed in the same run: float32
    distances (novelty) differ in the 4th decimal between 1 and 2 OpenBLAS threads, so the
    modules that compare with saved numbers (``test_same_outputs``, ``test_old_model_files``,
    ``test_shipped_models``) keep the default threads, as the numbers were made.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def ctrl_c_as_in_a_terminal() -> None:
    """``preexec_fn`` of a command a test interrupts with SIGINT: Ctrl-C's default handling.

    A suite started in the background by a non-interactive shell (``cmd &``) inherits SIGINT
    ignored, and Python then leaves it ignored in the command, which runs to its end.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
