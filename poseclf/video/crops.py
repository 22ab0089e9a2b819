"""Finding several people in a frame: the whole frame, and a crop around each person missed.

BlazePose's person detector sees the whole frame at 224x224 pixels, where the people of a wide
picture are a few dozen pixels tall, and the Tasks landmarker in video mode looks for people
again only when it tracks nobody: a person it lost (who moved fast, or was hidden) is not found
again while it tracks someone else, nor is a newcomer. Its landmarks are fine once it has a
person: the landmark model sees them at full resolution. :class:`CropFinder` keeps that
landmarker (video mode, ``num_poses``) and adds, for each person the
:class:`~poseclf.video.tracking.PersonTracker` follows whom it did not find in this frame, a
landmarker (image mode, one person) on a crop around them (their last keypoints' box, enlarged
by ``expand``, moved into the frame), where they are large; those landmarks are mapped back to
the frame (world landmarks are metric and centred on the person: they stay as they are). Every
``every`` frames, while fewer than ``people`` are found, a third landmarker (image mode,
``num_poses``) searches the whole frame for newcomers, and the two halves of a wide frame
(:func:`search_tiles`). A pose whose box lies mostly inside another's is the same person found
twice and is dropped.
"""

from __future__ import annotations

import numpy as np

from ..pose.extraction import ExtractOptions, PoseExtractor
from ..pose.landmarks import Pose
from .tracking import DUPLICATE_OVERLAP, box_iou, box_overlap, keypoints_px

DEFAULT_EXPAND = 1.5  # crop side over the longer side of the person's keypoint box
DEFAULT_EVERY = 10  # frames between two searches of the whole frame for newcomers
MIN_CROP_PX = 64  # smallest crop side (a person seen a few pixels large)
FOUND_IOU = 0.3  # a followed person whose last box overlaps a pose this much was found
# The newcomers' search also looks at the two halves of a frame this much longer than high: in
# two dev videos side by side (1280x360), or three in a 2x2 grid (1280x720), the whole frame
# gave one person on 10 frames of 10 and the halves everyone.
TILED_ASPECT = 1.5
TILE_SHARE = 0.6  # length of a half (overlapping the other) over the frame's

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels


class CropFinder:
    """Every person in a frame: the tracking landmarker's, a crop around each followed person
    it missed, and newcomers on the whole frame now and then.

    Parameters
    ----------
    extract : ExtractOptions
        BlazePose settings (the Tasks backend: the three landmarkers are Tasks ones).
    people : int
        Most people looked for in the whole frame.
    every : int, default=10
        Frames between two searches of the whole frame (and its halves, when wide) for
        newcomers, while fewer than ``people`` are found.
    expand : float, default=1.5
        Crop side over the longer side of a person's keypoint box.
    """

    def __init__(self, extract: ExtractOptions, people: int, every: int = DEFAULT_EVERY,
                 expand: float = DEFAULT_EXPAND) -> None:
        if int(every) != every or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        if not expand >= 1:
            raise ValueError(f"expand must be >= 1, got {expand!r}")
        self.every, self.expand, self.people = int(every), float(expand), people
        self._extractors: list[PoseExtractor] = []
        try:
            self._tracking = self._open(extract, static_image_mode=False, num_poses=people)
            self._crop = self._open(extract, static_image_mode=True, num_poses=1)
            self._search = self._open(extract, static_image_mode=True, num_poses=people)
        except BaseException:
            self.close()
            raise

    def _open(self, extract: ExtractOptions, **kwargs) -> PoseExtractor:
        extractor = extract.extractor(**kwargs)
        self._extractors.append(extractor)
        return extractor

    def find(self, index: int, image_rgb: np.ndarray, followed: list[Pose]) -> list[Pose]:
        """The poses of frame ``index`` (RGB), given the last poses of the people followed:
        the tracking landmarker's, then those found on the crops, then the newcomers."""
        if not self._extractors:
            raise RuntimeError("this CropFinder is closed")
        height, width = image_rgb.shape[:2]
        found = self._tracking.detect_all(image_rgb)
        missed = [p for p in followed if all(box_iou(p, f) <= FOUND_IOU for f in found)]
        for pose in missed:
            box = crop_box(pose, width, height, self.expand)
            x0, y0, x1, y1 = box
            on_crop = self._crop.detect_all(image_rgb[y0:y1, x0:x1])
            if on_crop:
                found.append(to_frame(on_crop[0], box, (width, height)))
        if index % self.every == 0 and len(found) < self.people:
            found += self._search.detect_all(image_rgb)
            for box in search_tiles(width, height):
                x0, y0, x1, y1 = box
                found += [to_frame(pose, box, (width, height))
                          for pose in self._search.detect_all(image_rgb[y0:y1, x0:x1])]
        kept: list[Pose] = []
        for pose in found:
            if all(box_overlap(pose, other) <= DUPLICATE_OVERLAP for other in kept):
                kept.append(pose)
        return kept

    def close(self) -> None:
        """Release the landmarkers."""
        while self._extractors:
            self._extractors.pop().close()

    def __enter__(self) -> CropFinder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def search_tiles(width: int, height: int) -> list[Box]:
    """The two overlapping halves (:data:`TILE_SHARE` of the length each) along the long side
    of a frame at least :data:`TILED_ASPECT` times as long as high (or high as long), where the
    people are small for the detector; none for a squarer frame."""
    long_side, short_side = max(width, height), min(width, height)
    if long_side < TILED_ASPECT * short_side:
        return []
    size = round(long_side * TILE_SHARE)
    spans = [(0, size), (long_side - size, long_side)]
    if width >= height:
        return [(x0, 0, x1, height) for x0, x1 in spans]
    return [(0, y0, width, y1) for y0, y1 in spans]


def crop_box(pose: Pose, width: int, height: int, expand: float = DEFAULT_EXPAND) -> Box:
    """The square around ``pose``'s keypoints, ``expand`` times their box's longer side (at
    least :data:`MIN_CROP_PX`), moved into the ``width`` x ``height`` frame and cut to it."""
    xy = keypoints_px(pose)
    low, high = xy.min(0), xy.max(0)
    side = max(float((high - low).max()) * expand, MIN_CROP_PX)
    centre = (low + high) / 2
    box = []
    for c, limit in zip(centre, (width, height), strict=True):
        size = min(side, limit)
        start = min(max(c - size / 2, 0.0), limit - size)
        box += [int(round(start)), int(round(start + size))]
    x0, x1, y0, y1 = box
    return x0, y0, x1, y1


def to_frame(pose: Pose, box: Box, frame_size: tuple[int, int]) -> Pose:
    """``pose`` found on the crop ``box`` as a pose of the whole ``frame_size`` (width, height)
    frame: x, y (and z, on x's scale) mapped back; visibility and world landmarks as they are."""
    x0, y0, x1, y1 = box
    width, height = frame_size
    landmarks = pose.landmarks.copy()
    landmarks[:, 0] = (x0 + landmarks[:, 0] * (x1 - x0)) / width
    landmarks[:, 1] = (y0 + landmarks[:, 1] * (y1 - y0)) / height
    landmarks[:, 2] *= (x1 - x0) / width
    return Pose(landmarks, pose.world_landmarks, frame_size)

