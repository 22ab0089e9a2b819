"""Overlays are pixel-identical to stored reference frames (rendered before the annotators
shared one signature): video frames with and without a pose, rejected poses, counts and rates,
photo predictions, skeletons and thumbnails.

``draw_overlays_reference.npz`` holds the astronaut's BlazePose landmarks (scikit-image photo,
static mode) and one expected BGR frame per case. Regenerate it only on purpose (an OpenCV
upgrade that changes anti-aliasing): ``python tests/test_draw_overlays.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from poseclf.classify.predict import ImagePrediction, draw_prediction
from poseclf.pictures.detect import draw_poses
from poseclf.pictures.draw import CounterAnnotator, LabelAnnotator, SkeletonAnnotator, annotate_all
from poseclf.pictures.sheets import thumbnail
from poseclf.pose.landmarks import NO_PERSON, Pose
from poseclf.video.run import FrameResult
from poseclf.video.smoothing import SmoothedResult

REFERENCE = Path(__file__).with_name("draw_overlays_reference.npz")
PUSHUPS = ["pushups_down", "pushups_up"]
THREE = ["sitting", "standing", "lying"]

#: name: (frame height, width), pose?, shown label, smoothed probabilities, classes,
#: repetitions, counted class, processing rate
VIDEO_CASES = {
    "classified_count_rate": ((480, 640), True, "pushups_down", [0.83, 0.17], PUSHUPS, 3,
                              "pushups_down", 28.6),
    "tied_bars_no_count": ((360, 640), True, "sitting", [0.5, 0.25, 0.25], THREE, None, None,
                           14.2),
    "no_person": ((240, 320), False, NO_PERSON, [0.0, 0.0], PUSHUPS, 0, "pushups_up", 12.0),
    "unknown": ((300, 400), True, "unknown", [0.4, 0.6], PUSHUPS, 2, "pushups_down", None),
    "partial": ((480, 360), True, "partial", [0.1, 0.7, 0.2], THREE, None, None, 30.4),
}
#: name: (height, width), pose?, label, probabilities
PHOTO_CASES = {
    "photo_classified": ((512, 512), True, "standing", {"sitting": 0.2, "standing": 0.8}),
    "photo_unknown": ((400, 300), True, "unknown", {"sitting": 0.45, "standing": 0.55}),
    "photo_partial": ((300, 400), True, "partial", {"sitting": 0.9, "standing": 0.1}),
    "photo_no_person": ((240, 320), False, NO_PERSON, None),
}


def background(height: int, width: int) -> np.ndarray:
    """A BGR test picture in four flat colours (compresses well in the reference file)."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[: height // 2, : width // 2] = (200, 180, 90)
    frame[: height // 2, width // 2 :] = (30, 60, 120)
    frame[height // 2 :, : width // 2] = (245, 245, 245)
    frame[height // 2 :, width // 2 :] = (10, 10, 10)
    return frame


def reference_pose() -> Pose:
    with np.load(REFERENCE) as ref:
        return Pose(ref["landmarks"], ref["world_landmarks"], (512, 512))


def render_video(case: tuple, pose: Pose) -> np.ndarray:
    """The overlay of one ``poseclf video`` frame."""
    size, with_pose, label, probabilities, classes, repetitions, count_class, rate = case
    smoothed = SmoothedResult(label, max(probabilities) if label in classes else 0.0,
                              np.asarray(probabilities), label, label in classes, False)
    reason = NO_PERSON if label in classes else label
    result = FrameResult(0, background(*size), pose if with_pose else None, None, reason,
                         smoothed, repetitions, tuple(classes), count_class, rate)
    return annotate_all(result.frame, result,
                        (SkeletonAnnotator(), LabelAnnotator(), CounterAnnotator()))


def render_photo(case: tuple, pose: Pose) -> np.ndarray:
    """The drawing of one ``poseclf predict --draw`` photo."""
    size, with_pose, label, probabilities = case
    result = ImagePrediction(Path("photo.jpg"), label, probabilities,
                             pose if with_pose else None)
    return draw_prediction(background(*size)[..., ::-1].copy(), result, list(probabilities or {}))


def render_others(pose: Pose) -> dict[str, np.ndarray]:
    """Skeleton drawings of ``poseclf detect`` and of contact-sheet thumbnails."""
    return {"detect": draw_poses(background(512, 512)[..., ::-1].copy(), [pose]),
            "thumbnail": thumbnail(background(300, 200)[..., ::-1].copy(), pose)}


def render_all(pose: Pose) -> dict[str, np.ndarray]:
    frames = {name: render_video(case, pose) for name, case in VIDEO_CASES.items()}
    frames |= {name: render_photo(case, pose) for name, case in PHOTO_CASES.items()}
    return frames | render_others(pose)


@pytest.fixture(scope="module")
def rendered() -> dict[str, np.ndarray]:
    return render_all(reference_pose())


@pytest.mark.parametrize("name", [*VIDEO_CASES, *PHOTO_CASES, "detect", "thumbnail"])
def test_overlay_is_pixel_identical_to_reference(rendered, name):
    with np.load(REFERENCE) as ref:
        expected = ref[name]
    frame = rendered[name]
    assert frame.shape == expected.shape
    differ = np.argwhere((frame != expected).any(axis=-1))
    assert len(differ) == 0, f"{name}: {len(differ)} pixels differ, first at {differ[0]}"


if __name__ == "__main__":  # regenerate the reference (real BlazePose on the astronaut)
    from skimage.data import astronaut

    from poseclf.pose.extraction import PoseExtractor

    with PoseExtractor(static_image_mode=True) as extract:
        found = extract(astronaut())
    arrays = {"landmarks": found.landmarks, "world_landmarks": found.world_landmarks}
    np.savez_compressed(REFERENCE, **arrays)  # render_all reads the pose back from the file
    np.savez_compressed(REFERENCE, **arrays, **render_all(reference_pose()))
    print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size // 1024} KiB)")
