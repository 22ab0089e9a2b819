"""Open-set rejection on real photos: a push-up model meets yoga photos and cropped people."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_data_or_skip

from poseclf.images import read_image
from poseclf.model import PoseModel
from poseclf.novelty import PARTIAL_LABEL, UNKNOWN_LABEL

N_TRAIN = 10  # photos per push-up class in the fixture model
N_HELD_OUT = 4  # per class
N_MOUNTAIN = 5


def _poses(extractor, paths):
    lm, sizes = [], []
    for path in paths:
        pose = extractor(read_image(path))
        if pose is not None:
            lm.append(pose.landmarks)
            sizes.append(pose.image_size)
    return np.asarray(lm), np.asarray(sizes)


@pytest.fixture(scope="module")
def pushups(image_extractor):
    """(model, held-out poses, held-out labels): k-NN on ~20 push-up photos, 4 per class kept."""
    root = shared_data_or_skip("pushups_visolus")
    train, test = {"lm": [], "sizes": [], "labels": []}, {"lm": [], "sizes": [], "labels": []}
    for label in ("pushups_up", "pushups_down"):
        files = sorted((root / label).iterdir())
        picked = files[::4][:N_TRAIN]  # spread over the (time-sorted) files
        rest = [f for f in files if f not in picked][1::7][:N_HELD_OUT]
        for bucket, paths in ((train, picked), (test, rest)):
            lm, sizes = _poses(image_extractor, paths)
            bucket["lm"].append(lm)
            bucket["sizes"].append(sizes)
            bucket["labels"] += [label] * len(lm)
    model = PoseModel.train(np.concatenate(train["lm"]), np.concatenate(train["sizes"]),
                            train["labels"], "knn", cv=0)
    return model, np.concatenate(test["lm"]), np.concatenate(test["sizes"]), test["labels"]


@pytest.fixture(scope="module")
def mountain(image_extractor):
    folder = shared_data_or_skip("yoga_marchenkova", "mountain")
    return _poses(image_extractor, sorted(folder.iterdir())[:N_MOUNTAIN])


def test_pushup_model_accepts_held_out_photos_of_its_classes(pushups):
    model, lm, sizes, _ = pushups
    pred = model.predict(lm, sizes)
    assert np.mean(np.isin(pred, model.classes_)) >= 0.75, pred


@pytest.mark.xfail(strict=True, reason="known gap (issue 10): the threshold calibrated on push-up "
                   "photos (99th percentile of held-out scores) lies above standing poses; the "
                   "push-up photos' held-out novelty spreads as far as standing people do. See "
                   "bench/rejection.py: 45% of yoga/sit-stand photos rejected at p=99, 90% at p=90")
def test_pushup_model_rejects_most_standing_yoga_photos(pushups, mountain):
    model = pushups[0]
    pred = model.predict(*mountain)
    assert np.mean(pred == UNKNOWN_LABEL) >= 0.6, pred


def test_standing_photos_are_farther_from_pushups_than_held_out_pushups(pushups, mountain):
    model, lm, sizes, _ = pushups
    assert np.median(model.novelty(*mountain)) > np.median(model.novelty(lm, sizes))


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
    model, lm, sizes, _ = pushups
    all_lm = np.concatenate([lm, mountain[0]])
    all_sizes = np.concatenate([sizes, mountain[1]])
    loaded = PoseModel.load(model.save(tmp_path / "pushups.skops"))
    before = model.predict_with_scores(all_lm, all_sizes)
    after = loaded.predict_with_scores(all_lm, all_sizes)
    np.testing.assert_array_equal(after.labels, before.labels)
    np.testing.assert_array_equal(after.novelty, before.novelty)
    np.testing.assert_array_equal(after.partial, before.partial)
