"""Shared fixtures: real photos from scikit-image and from ../shared/data (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
#: The development data set beside the project; POSECLF_SHARED_DATA points elsewhere.
SHARED_DATA = Path(os.environ.get("POSECLF_SHARED_DATA", REPO.parent / "shared" / "data"))


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
