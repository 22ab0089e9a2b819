"""The real BlazePose Full model on real photos (scikit-image and ../shared/data)."""

import numpy as np
import pytest
from conftest import shared_data_or_skip
from PIL import Image

from poseclf.errors import ModelNotAvailableError
from poseclf.pose.extraction import PoseExtractor, build_full_task_file
from poseclf.pose.images import read_image
from poseclf.pose.landmarks import PoseLandmark as L

TASKS_VS_SOLUTIONS_ATOL = 0.03  # normalised image units; DESIGN.md measured ~0.01


def _hip_centre_y(pose):
    return pose.landmarks[[L.LEFT_HIP, L.RIGHT_HIP], 1].mean()


def test_astronaut_has_33_landmarks_with_upright_geometry(image_extractor, astronaut):
    pose = image_extractor(astronaut)
    assert pose is not None
    assert pose.landmarks.shape == (33, 4) and pose.world_landmarks.shape == (33, 3)
    assert pose.image_size == (512, 512)
    assert pose.landmarks[L.NOSE, 1] < pose.landmarks[L.LEFT_SHOULDER, 1] < _hip_centre_y(pose)
    assert pose.landmarks[L.NOSE, 3] > 0.9  # the face is plainly visible
    # world landmarks: metres, origin between the hips, y down
    assert abs(pose.world_landmarks[[L.LEFT_HIP, L.RIGHT_HIP]].mean(axis=0)).max() < 0.05
    assert -1.0 < pose.world_landmarks[L.NOSE, 1] < -0.3


def test_gray_photo_is_accepted(image_extractor, cameraman):
    assert cameraman.ndim == 2
    pose = image_extractor(cameraman)
    assert pose is not None and pose.landmarks[L.NOSE, 1] < _hip_centre_y(pose)


def test_nobody_in_a_blank_image_gives_none(image_extractor):
    assert image_extractor(np.full((240, 320, 3), 127, np.uint8)) is None


def test_non_square_image_size_is_width_height(image_extractor, astronaut):
    pose = image_extractor(np.ascontiguousarray(astronaut[:, 64:448]))
    assert pose.image_size == (384, 512)


@pytest.mark.parametrize("photo", ["yoga_manoj/tree", "pushups_visolus/pushups_up",
                                   "sitstand_multimediaimg/standing"])
def test_shared_photos_give_plausible_poses(image_extractor, photo):
    folder = shared_data_or_skip(*photo.split("/"))
    path = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))[0]
    pose = image_extractor(read_image(path))
    assert pose is not None, path
    assert np.isfinite(pose.landmarks).all()
    assert pose.visibility.mean() > 0.5
    if "standing" in photo or "tree" in photo:
        assert pose.landmarks[L.NOSE, 1] < _hip_centre_y(pose) < pose.landmarks[L.LEFT_ANKLE, 1]


def test_exif_rotated_photo_gives_the_upright_landmarks(tmp_path, image_extractor, astronaut):
    upright = tmp_path / "upright.jpg"
    rotated = tmp_path / "rotated.jpg"
    Image.fromarray(astronaut).save(upright, quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view": the stored pixels are turned 90 degrees CCW
    Image.fromarray(np.rot90(astronaut, 1)).save(rotated, quality=95, exif=exif)
    a = image_extractor(read_image(upright))
    b = image_extractor(read_image(rotated))
    sure = a.visibility > 0.5  # out-of-frame legs are guesses; compare what BlazePose sees
    assert sure.sum() >= 12
    np.testing.assert_allclose(b.landmarks[sure, :2], a.landmarks[sure, :2], atol=0.01)


def test_tasks_backend_agrees_with_solutions_backend(tmp_path, image_extractor, astronaut):
    task = build_full_task_file(tmp_path / "pose_landmarker_full.task")
    with PoseExtractor(backend="tasks", task_path=task, num_poses=2) as tasks:
        poses = tasks.detect_all(astronaut)
    assert len(poses) == 1
    reference = image_extractor(astronaut)
    diff = np.abs(poses[0].landmarks[:, :2] - reference.landmarks[:, :2])
    # compare the landmarks BlazePose is sure about (the astronaut's legs are out of frame)
    sure = reference.visibility > 0.5
    assert diff[sure].max() < TASKS_VS_SOLUTIONS_ATOL


def test_tasks_backend_accepts_gray_images_and_video_mode(tmp_path, cameraman):
    task = build_full_task_file(tmp_path / "full.task")
    with PoseExtractor(static_image_mode=False, backend="tasks", task_path=task) as tasks:
        poses = [tasks(cameraman) for _ in range(3)]
    assert all(p is not None for p in poses)


def test_video_mode_tracks_consecutive_frames(astronaut):
    with PoseExtractor(static_image_mode=False) as video:
        poses = [video(astronaut) for _ in range(3)]
    assert all(p is not None for p in poses)
    sure = poses[0].visibility > 0.5
    assert np.abs(poses[2].landmarks[sure, :2] - poses[0].landmarks[sure, :2]).max() < 0.05


@pytest.mark.parametrize("complexity, name", [(0, "lite"), (2, "heavy")])
def test_missing_complexity_fails_fast_with_the_fix(complexity, name, blazepose_home):
    with pytest.raises(ModelNotAvailableError, match=rf"{name}.*not installed.*"
                       r"--install-blazepose.*never downloads"):
        PoseExtractor(model_complexity=complexity)
    assert not blazepose_home.exists()  # nothing written


@pytest.mark.parametrize("kwargs, message", [
    ({"landmark_model": "nope.tflite"}, "no such file"),
    ({"backend": "tasks", "task_path": "nope.task"}, "no such .task file"),
    ({"backend": "onnx"}, "backend must be"),
    ({"num_poses": 2}, "tasks"),
    ({"min_detection_confidence": 1.5}, r"\[0, 1\]"),
    ({"model_complexity": 5}, "0, 1 or 2"),
])
def test_bad_options_are_refused_with_a_reason(kwargs, message):
    with pytest.raises((ValueError, ModelNotAvailableError), match=message):
        PoseExtractor(**kwargs)


def test_closed_extractor_refuses_work(astronaut):
    extractor = PoseExtractor()
    extractor.close()
    with pytest.raises(RuntimeError, match="closed"):
        extractor(astronaut)
