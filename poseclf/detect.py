"""Detect poses in image files: the library side of ``poseclf detect``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .draw import SkeletonAnnotator, plot_pose_3d, write_image
from .errors import ImageReadError
from .extraction import PoseExtractor
from .images import read_image
from .landmarks import LANDMARK_NAMES, Pose


@dataclass
class ImageDetection:
    """What was found in one image file: its poses, or the error that stopped reading it."""

    path: Path
    poses: list[Pose] = field(default_factory=list)
    image_size: tuple[int, int] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the file could be read (whether or not a person was found)."""
        return self.error is None

    @property
    def mean_visibility(self) -> float | None:
        """Mean landmark visibility of the first person, or None."""
        return float(self.poses[0].visibility.mean()) if self.poses else None

    def to_dict(self) -> dict:
        """JSON-ready dict: file, size, and per person the named landmarks."""
        return {
            "file": str(self.path),
            "width": self.image_size[0] if self.image_size else None,
            "height": self.image_size[1] if self.image_size else None,
            "error": self.error,
            "people": [_pose_dict(p) for p in self.poses],
        }


def _pose_dict(pose: Pose) -> dict:
    world = pose.world_landmarks
    landmarks = []
    for i, name in enumerate(LANDMARK_NAMES):
        x, y, z, v = (round(float(a), 6) for a in pose.landmarks[i])
        item = {"name": name, "x": x, "y": y, "z": z, "visibility": v}
        if world is not None:
            item["world"] = [round(float(a), 6) for a in world[i]]
        landmarks.append(item)
    return {"mean_visibility": round(float(pose.visibility.mean()), 4), "landmarks": landmarks}


def detect_files(
    paths: Iterable[str | os.PathLike],
    extractor: PoseExtractor,
    *,
    draw_dir: str | os.PathLike | None = None,
    plot3d_dir: str | os.PathLike | None = None,
) -> Iterator[ImageDetection]:
    """Detect poses in each file, one result per file; unreadable files give an error result.

    With ``draw_dir`` the image is written there with the skeleton drawn
    (``<stem>_pose.png``); with ``plot3d_dir`` a 3D plot of the world landmarks
    (``<stem>_3d.png``).
    """
    for raw in paths:
        path = Path(raw)
        try:
            image = read_image(path)
        except ImageReadError as err:
            yield ImageDetection(path, error=str(err))
            continue
        poses = extractor.detect_all(image)
        detection = ImageDetection(path, poses, (image.shape[1], image.shape[0]))
        if draw_dir is not None:
            write_image(Path(draw_dir) / f"{path.stem}_pose.png", draw_poses(image, poses))
        if plot3d_dir is not None and poses:
            save_pose_3d(poses[0], Path(plot3d_dir) / f"{path.stem}_3d.png", title=path.name)
        yield detection


def draw_poses(image_rgb: np.ndarray, poses: list[Pose]) -> np.ndarray:
    """A BGR copy of ``image_rgb`` with every pose's skeleton drawn."""
    frame = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    annotator = SkeletonAnnotator()
    for pose in poses:
        annotator.annotate(frame, pose)
    return frame


def save_pose_3d(pose: Pose, path: str | os.PathLike, title: str | None = None) -> Path:
    """Write the 3D plot of ``pose`` to ``path`` (PNG) and close the figure."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = plot_pose_3d(pose, title=title)
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path
