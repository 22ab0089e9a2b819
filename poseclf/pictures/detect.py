"""Detect poses in image files: the library side of ``poseclf detect``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import ImageReadError
from ..pose.extraction import PoseExtractor
from ..pose.image_paths import collect_images, output_paths
from ..pose.images import read_image
from ..pose.landmarks import LANDMARK_NAMES, Pose
from .draw import Overlay, SkeletonAnnotator, plot_pose_3d

DRAWING_ENDING = "_pose.png"  # <stem>_pose.png: the image with the skeleton, in draw_dir
PLOT_ENDING = "_3d.png"  # <stem>_3d.png: the 3D plot of the world landmarks, in plot3d_dir


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

    Folders are searched for images (recursively, sorted). With ``draw_dir`` the image is
    written there with the skeleton drawn (``<stem>_pose.png``); with ``plot3d_dir`` a 3D plot
    of the world landmarks (``<stem>_3d.png``). Images that share a stem get distinct names
    (see :func:`poseclf.pose.image_paths.output_paths`), images inside the output folders are not
    read, and :class:`~poseclf.errors.InputError` is raised before any image is read when an
    output would replace one of the images.
    """
    outputs = [d for d in (draw_dir, plot3d_dir) if d is not None]
    images = collect_images(paths, skip=outputs)
    nothing = [None] * len(images)
    drawings = (output_paths(images, draw_dir, DRAWING_ENDING, option="--draw")
                if draw_dir is not None else nothing)
    plots = (output_paths(images, plot3d_dir, PLOT_ENDING, option="--plot3d")
             if plot3d_dir is not None else nothing)
    for path, drawing, plot in zip(images, drawings, plots, strict=True):
        try:
            image = read_image(path)
        except ImageReadError as err:
            yield ImageDetection(path, error=str(err))
            continue
        poses = extractor.detect_all(image)
        detection = ImageDetection(path, poses, (image.shape[1], image.shape[0]))
        if drawing is not None:
            save_png(drawing, draw_poses(image, poses))
        if plot is not None and poses:
            save_pose_3d(poses[0], plot, title=printable(path.name))
        yield detection


def printable(text: str | os.PathLike) -> str:
    """A path (or a message naming one) as text that can be printed or drawn: the bytes of a
    file name that are not UTF-8 as \\xNN, as ``ls`` shows them (not a UnicodeEncodeError)."""
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def save_png(path: str | os.PathLike, frame_bgr: np.ndarray) -> Path:
    """Write a BGR frame to ``path`` as PNG, complete or not at all (temporary file + rename)."""
    path = Path(path)
    ok, encoded = cv2.imencode(".png", frame_bgr)
    if not ok:
        raise ValueError(f"{path}: OpenCV cannot encode this frame as PNG")
    _write_whole(path, lambda tmp: tmp.write_bytes(encoded.tobytes()))
    return path


def _write_whole(path: Path, write) -> None:
    """``write(tmp)`` to a hidden temporary file beside ``path``, then rename it to ``path``.

    (files.replace_atomically also clears stale temporaries, scanning the folder on every call:
    too slow for thousands of drawings in one folder.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def draw_poses(image_rgb: np.ndarray, poses: list[Pose]) -> np.ndarray:
    """A BGR copy of ``image_rgb`` with every pose's skeleton drawn."""
    frame = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    annotator = SkeletonAnnotator()
    for pose in poses:
        annotator.annotate(frame, Overlay(pose=pose))
    return frame


def save_pose_3d(pose: Pose, path: str | os.PathLike, title: str | None = None) -> Path:
    """Write the 3D plot of ``pose`` to ``path`` (PNG)."""
    path = Path(path)
    fig = plot_pose_3d(pose, title=title)
    _write_whole(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    return path
