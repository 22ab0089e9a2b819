"""Open-set rejection on real photos: a push-up model meets yoga photos and cropped people."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data_or_skip

from poseclf.classify.model import PoseModel
from poseclf.classify.novelty import PARTIAL_LABEL, UNKNOWN_LABEL
from poseclf.pose.images import read_image
from poseclf.tables.exclusions import load_exclusions

N_TRAIN = 10  # photos per push-up class in the fixture model
N_HELD_OUT = 4  # per class
N_MOUNTAIN = 5
EXCLUSIONS = Path(__file__).resolve().parents[1] / "datasets" / "exclusions.csv"


def _poses(extractor, paths):
    """Landmarks, image sizes and world landmarks of the photos where a pose is found."""
    lm, sizes, world = [], [], []
    for path in paths:
        pose = extractor(read_image(path))
        if pose is not None:
            lm.append(pose.landmarks)
            sizes.append(pose.image_size)
            world.append(pose.world_landmarks)
    return np.asarray(lm), np.asarray(sizes), np.asarray(world)


@pytest.fixture(scope="module")
def pushups(image_extractor):
    """(model, held-out poses, sizes, world landmarks, labels): k-NN on ~20 push-up photos (the
    reviewed bad detections of datasets/exclusions.csv left out), 4 per class held out."""
    root = shared_data_or_skip("pushups_visolus")
    excluded = set(load_exclusions([EXCLUSIONS])["path"])
    keys = ("lm", "sizes", "world")
    train, test = {k: [] for k in (*keys, "labels")}, {k: [] for k in (*keys, "labels")}
    for label in ("pushups_up", "pushups_down"):
        files = [f for f in sorted((root / label).iterdir()) if f"{label}/{f.name}" not in excluded]
        picked = files[::4][:N_TRAIN]  # spread over the (time-sorted) files
        rest = [f for f in files if f not in picked][1::7][:N_HELD_OUT]
        for bucket, paths in ((train, picked), (test, rest)):
            arrays = _poses(image_extractor, paths)
            for key, array in zip(keys, arrays, strict=True):
                bucket[key].append(array)
            bucket["labels"] += [label] * len(arrays[0])
    train_lm, train_sizes, train_world = (np.concatenate(train[k]) for k in keys)
    model = PoseModel.train(train_lm, train_sizes, train["labels"], "knn", cv=0,
                            world_landmarks=train_world)
    return (model, *(np.concatenate(test[k]) for k in keys), test["labels"])


@pytest.fixture(scope="module")
def mountain(image_extractor):
    folder = shared_data_or_skip("yoga_marchenkova", "mountain")
    return _poses(image_extractor, sorted(folder.iterdir())[:N_MOUNTAIN])


def _predict(model, lm, sizes, world, **kwargs):
    return model.predict(lm, sizes, world_landmarks=world, **kwargs)


def test_pushup_model_accepts_held_out_photos_of_its_classes(pushups):
    model, lm, sizes, world, _ = pushups
    pred = _predict(model, lm, sizes, world)
    assert np.mean(np.isin(pred, model.classes_)) >= 0.75, pred


def test_pushup_model_rejects_most_standing_yoga_photos(pushups, mountain):
    model = pushups[0]
    pred = _predict(model, *mountain)
    assert np.mean(pred == UNKNOWN_LABEL) >= 0.6, pred


def test_standing_photos_are_farther_from_pushups_than_held_out_pushups(pushups, mountain):
    model, lm, sizes, world, _ = pushups
    assert model.uses_world_landmarks
    for with_world in (True, False):  # also on the image-only fallback
        def novelty(lm, sizes, world, with_world=with_world):
            return model.novelty(lm, sizes, world_landmarks=world if with_world else None)
        assert np.median(novelty(*mountain)) > np.median(novelty(lm, sizes, world))


def test_photo_cropped_to_the_upper_body_is_partial(pushups, image_extractor):
    path = shared_data_or_skip("yoga_marchenkova", "mountain") / "File1.jpg"
    image = read_image(path)
    full = image_extractor(image)
    assert full is not None
    hips_y = float(full.landmarks[[23, 24], 1].mean())
    cropped = np.ascontiguousarray(image[: int(hips_y * image.shape[0])])
    pose = image_extractor(cropped)
    assert pose is not None
    model = pushups[0]
    assert model.predict_pose(pose)[0] == PARTIAL_LABEL
    assert model.predict_pose(full)[0] != PARTIAL_LABEL
    assert model.predict_pose(pose, reject=False)[0] in model.classes_


def test_reloaded_model_rejects_exactly_the_same_poses(tmp_path, pushups, mountain):
    model, lm, sizes, world, _ = pushups
    poses = [np.concatenate([a, b]) for a, b in zip((lm, sizes, world), mountain, strict=True)]
    poses[2][0] = np.nan  # one pose without world landmarks: the image-only threshold
    loaded = PoseModel.load(model.save(tmp_path / "pushups.skops"))
    before = model.predict_with_scores(poses[0], poses[1], world_landmarks=poses[2])
    after = loaded.predict_with_scores(poses[0], poses[1], world_landmarks=poses[2])
    assert loaded.uses_world_landmarks
    assert before.threshold[0] != before.threshold[1]
    for field in before._fields:
        np.testing.assert_array_equal(getattr(after, field), getattr(before, field))
