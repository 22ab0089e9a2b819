"""Open-set rejection on synthetic skeletons: novelty scores, calibrated threshold, visibility."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from poseclf.classify.embedding import (
    DIRECTION_PAIRS,
    mirror_landmarks,
    mirror_world_landmarks,
    pose_matrix,
    world_directions,
)
from poseclf.classify.model import PoseModel
from poseclf.classify.novelty import (
    PARTIAL_LABEL,
    UNKNOWN_LABEL,
    NoveltyScorer,
    confidence_floor,
)
from poseclf.classify.pose_classifier import PoseClassifier
from poseclf.classify.visibility import KEY_JOINTS, VisibilityCheck, fit_visibility
from poseclf.errors import ModelFileError
from poseclf.pose.landmarks import Pose
from poseclf.video.run import _classify

SIZE = (640, 480)


def body(left_wrist_y: float, right_wrist_y: float) -> np.ndarray:
    """A standing skeleton (33, 4), fully visible, wrists at the given heights."""
    lm = np.zeros((33, 4), np.float32)
    lm[:, 3] = 1.0
    lm[:, 0], lm[:, 1] = 0.5, 0.2
    x = {11: 0.56, 12: 0.44, 13: 0.6, 14: 0.4, 15: 0.62, 16: 0.38, 23: 0.54, 24: 0.46,
         25: 0.54, 26: 0.46, 27: 0.54, 28: 0.46}
    y = {11: 0.3, 12: 0.3, 13: 0.42, 14: 0.42, 15: left_wrist_y, 16: right_wrist_y,
         23: 0.55, 24: 0.55, 25: 0.72, 26: 0.72, 27: 0.88, 28: 0.88}
    for i in x:
        lm[i, 0], lm[i, 1] = x[i], y[i]
    return lm


def noisy(pose: np.ndarray, n: int, rng) -> np.ndarray:
    out = np.repeat(pose[None], n, 0)
    out[..., :2] += rng.normal(0, 0.008, out[..., :2].shape)
    return out


def training_poses() -> tuple[np.ndarray, np.ndarray]:
    """Two classes: left wrist raised (asymmetric) and both wrists down, 20 poses each."""
    rng = np.random.default_rng(0)
    lm = np.concatenate([noisy(body(0.15, 0.55), 20, rng), noisy(body(0.55, 0.55), 20, rng)])
    return lm, np.repeat(["left_up", "down"], 20)


@pytest.fixture(scope="module")
def model():
    lm, labels = training_poses()
    return PoseModel.train(lm, np.tile(SIZE, (40, 1)), labels, "knn", cv=0)


def test_far_embeddings_are_novel_and_training_ones_are_not():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 6))
    scorer = NoveltyScorer(n_neighbors=3).fit(X, np.repeat(["a", "b"], 40))
    assert np.mean(scorer.is_novel(X)) < 0.05
    assert scorer.is_novel(X[:5] + 50).all()
    assert scorer.novelty(X[:1] + 50)[0] > scorer.novelty(X[:1] + 5)[0] > scorer.novelty(X[:1])[0]


@pytest.mark.parametrize("percentile", [50.0, 90.0, 100.0])
def test_threshold_is_the_percentile_of_held_out_scores(percentile):
    X = np.random.default_rng(2).normal(size=(100, 5))
    scorer = NoveltyScorer(percentile=percentile).fit(X, np.repeat(["a", "b"], 50))
    cal = scorer.calibration_
    assert cal["folds"] == 5 and cal["n"] == 100
    assert cal["accepted"] == pytest.approx(percentile / 100, abs=0.02)
    assert scorer.threshold_ <= cal["percentiles"]["100"]


def test_a_held_out_pose_is_not_calibrated_against_its_own_mirror_image():
    # every pose unique, its "mirror" identical: a leak would give held-out scores of 0
    X = np.random.default_rng(3).normal(size=(40, 4))
    scorer = NoveltyScorer(n_neighbors=1).fit(X, np.repeat(["a", "b"], 20), X_mirror=X)
    assert scorer.calibration_["percentiles"]["50"] > 0.1
    assert len(scorer.reference()) == 80  # the mirror images rebuilt from a column map
    assert len(scorer.reference_) == 40 and scorer.mirror_columns_ is not None


def test_mirror_images_are_rebuilt_from_a_column_map_only_when_it_reproduces_them():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 4))
    y = np.repeat(["a", "b"], 20)
    swapped = X[:, [1, 0, 2, 3]] * [1, 1, -1, 1]  # left/right exchanged, one x flipped
    scorer = NoveltyScorer().fit(X, y, X_mirror=swapped)
    assert list(scorer.mirror_columns_) == [1, 0, 2, 3]
    assert list(scorer.mirror_signs_) == [1, 1, -1, 1]
    assert len(scorer.reference_) == 40
    explicit = scorer._scaled(np.concatenate([X, swapped]))
    np.testing.assert_allclose(scorer.reference(), explicit, atol=1e-6)
    other = NoveltyScorer().fit(X, y, X_mirror=rng.normal(size=(40, 4)))  # no such map
    assert other.mirror_columns_ is None and len(other.reference_) == 80


@pytest.mark.parametrize("params, message", [
    ({"n_neighbors": 0}, "n_neighbors"), ({"percentile": 0}, "percentile"),
    ({"percentile": 101}, "percentile"), ({"cv": 1}, "cv must be"),
    ({"min_confidence": 1.0}, "min_confidence"), ({"min_confidence": -0.1}, "min_confidence"),
])
def test_bad_scorer_settings_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        NoveltyScorer(**params).fit(np.zeros((10, 2)), np.repeat(["a", "b"], 5))


def test_unsure_poses_of_three_classes_or_more_are_held_below_their_novelty():
    X = np.random.default_rng(6).normal(size=(60, 4))
    y = np.repeat(["a", "b", "c"], 20)
    scorer = NoveltyScorer(min_confidence=0.7).fit(X, y)
    assert scorer.min_confidence_ == 0.7
    threshold, novelty = np.full(3, 2.0), np.array([1.0, 1.0, 3.0])
    proba = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.8, 0.1, 0.1]])
    lowered = scorer.unsure_thresholds(threshold, novelty, proba)
    assert lowered.tolist() == [2.0, 0.5, 2.0]  # only the unsure pose, below its novelty
    assert (novelty > lowered).tolist() == [False, True, True]
    # two classes: a low probability is a pose between them, not another kind
    two = NoveltyScorer(min_confidence=0.7).fit(X[:40], y[:40])
    assert two.min_confidence_ == 0.0
    assert two.unsure_thresholds(threshold, novelty, proba) is threshold
    assert NoveltyScorer().fit(X, y).min_confidence_ == 0.0


def test_only_the_mlp_has_a_confidence_floor():
    lm = np.random.default_rng(7).random((30, 33, 4))
    labels = np.repeat(["a", "b", "c"], 10)
    for classifier, floor in (("mlp", 0.7), ("knn", 0.0), ("svm", 0.0)):
        assert confidence_floor(classifier) == floor
        model = PoseModel.train(lm, np.tile(SIZE, (30, 1)), labels, classifier, cv=0)
        assert model.novelty_.min_confidence_ == floor
        result = model.predict_with_scores(lm, np.tile(SIZE, (30, 1)))
        unsure = result.proba.max(axis=1) < floor
        assert (result.threshold[unsure] < result.novelty[unsure]).all()


def test_scorer_refuses_other_feature_counts_and_tiny_classes():
    scorer = NoveltyScorer().fit(np.eye(10), np.repeat(["a", "b"], 5))
    with pytest.raises(ValueError, match="fitted on 10 features"):
        scorer.novelty(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="at least 2 samples per class"):
        NoveltyScorer().fit(np.eye(3), ["a", "b", "b"])


def test_model_rejects_a_pose_unlike_its_classes_and_accepts_its_own(model):
    rng = np.random.default_rng(5)
    own = noisy(body(0.15, 0.55), 40, rng)  # new poses of a trained class
    other = noisy(body(0.05, 0.05), 5, rng)  # both arms straight up: not trained
    assert np.mean(model.predict(own, np.tile(SIZE, (40, 1))) == "left_up") >= 0.9
    sizes = np.tile(SIZE, (5, 1))
    assert (model.predict(other, sizes) == UNKNOWN_LABEL).all()
    assert UNKNOWN_LABEL not in model.predict(other, sizes, reject=False)
    result = model.predict_with_scores(other, sizes)
    assert result.proba.shape == (5, 2) and not result.partial.any()
    assert (result.novelty > model.rejection_threshold).all()


def test_mirrored_pose_is_not_novel(model):
    rng = np.random.default_rng(6)
    lm = noisy(body(0.15, 0.55), 40, rng)
    mirrored = mirror_landmarks(lm)  # right wrist up: never in the training set as such
    sizes = np.tile(SIZE, (40, 1))
    assert np.mean(model.predict(mirrored, sizes) == "left_up") >= 0.9
    # as close to the training poses as the unmirrored ones (not in the training set: far)
    assert np.median(model.novelty(mirrored, sizes)) < 1.1 * np.median(model.novelty(lm, sizes))


def test_legs_out_of_the_picture_give_partial(model):
    lm = body(0.15, 0.55)[None].copy()
    lm[0, 25:29, 1] = 1.3  # knees and ankles below the image: a photo cut at the waist
    assert model.predict(lm, np.asarray([SIZE]))[0] == PARTIAL_LABEL
    assert model.predict(lm, np.asarray([SIZE]), reject=False)[0] == "left_up"


def test_low_visibility_but_placed_joints_are_not_partial(model):
    """A side view: BlazePose places the far (and some near) limbs in the picture with a low
    visibility; the trained rule counts a joint as missing only when it is out of the picture."""
    lm = body(0.15, 0.55)[None].copy()
    lm[0, 11:33, 3] = 0.05  # arms and legs placed inside the picture, visibility low
    assert model.visibility_.rule == "placed"
    assert model.predict(lm, np.asarray([SIZE]))[0] == "left_up"


def test_old_visibility_rule_of_files_from_before_still_applies():
    """Model files keep only the settings: files from before the learned rule have no ``rule``
    key and keep the visibility test they were made with."""
    old = VisibilityCheck(**{"min_visibility": 0.3, "max_hidden_joints": 1, "frame_margin": 0.0})
    lm = body(0.15, 0.55)[None].copy()
    lm[0, 25:29, 3] = 0.05
    assert old.rule == "visible" and old.is_partial(lm).tolist() == [True]


def test_visibility_rule_counts_only_the_joints_the_classes_need():
    """Training photos of people whose ankles are out of the picture (at a desk): the ankles do
    not count, so a new such photo is not partial, while the wrists still do."""
    rng = np.random.default_rng(11)
    lm = noisy(body(0.15, 0.55), 40, rng)
    lm[:, 27:33, 1] = 1.2  # ankles and feet below the picture in every training pose
    check = fit_visibility(lm, ["a", "b"] * 20)
    assert "ankles" not in check.required and "wrists" in check.required
    query = lm[:1].copy()
    assert check.is_partial(query).tolist() == [False]
    query[0, [15, 16], 0] = -0.5  # and both wrists out of the picture
    query[0, [25, 26], 1] = 1.2  # and the knees
    assert check.is_partial(query).tolist() == [True]


def test_saved_model_keeps_threshold_and_rejections(tmp_path, model):
    rng = np.random.default_rng(7)
    lm = np.concatenate([noisy(body(0.15, 0.55), 4, rng), noisy(body(0.05, 0.05), 4, rng)])
    sizes = np.tile(SIZE, (8, 1))
    loaded = PoseModel.load(model.save(tmp_path / "m.skops"))
    assert loaded.rejection_threshold == model.rejection_threshold
    np.testing.assert_array_equal(loaded.predict(lm, sizes), model.predict(lm, sizes))
    assert loaded.metadata["rejection"]["percentile"] == 99.0


def test_a_model_file_with_a_confidence_floor_that_is_no_probability_is_refused(tmp_path):
    lm, labels = training_poses()
    model = PoseModel.train(lm, np.tile(SIZE, (40, 1)), labels, "mlp", cv=0)
    model.novelty_.min_confidence_ = 2.0
    with pytest.raises(ModelFileError, match="confidence floor 2.0 that is not a probability"):
        PoseModel.load(model.save(tmp_path / "floor.skops"))


def test_model_file_without_novelty_loads_with_rejection_off(tmp_path, model, caplog):
    old = PoseModel(PoseClassifier.from_parts(model.pipeline),
                    {k: v for k, v in model.metadata.items() if k != "rejection"})
    path = old.save(tmp_path / "old.skops")
    with caplog.at_level(logging.WARNING):
        loaded = PoseModel.load(path)
    assert "no novelty data" in caplog.text and "retrain" in caplog.text
    assert not loaded.can_reject and loaded.rejection_threshold is None
    far = noisy(body(0.05, 0.05), 2, np.random.default_rng(8))
    assert UNKNOWN_LABEL not in loaded.predict(far, np.tile(SIZE, (2, 1)))
    assert np.isnan(loaded.novelty(far, np.tile(SIZE, (2, 1)))).all()


def test_evaluate_reports_coverage_and_accuracy_on_accepted(model):
    rng = np.random.default_rng(9)
    lm = np.concatenate([noisy(body(0.15, 0.55), 6, rng), noisy(body(0.05, 0.05), 2, rng)])
    lm[:6] = body(0.15, 0.55)  # the noise-free class pose: well inside the training poses
    labels = ["left_up"] * 8
    report = model.evaluate(lm, np.tile(SIZE, (8, 1)), labels)
    assert report["coverage"] == pytest.approx(6 / 8)
    assert report["accuracy_accepted"] == 1.0
    assert report["n_unknown"] == 2 and report["n_partial"] == 0
    off = model.evaluate(lm, np.tile(SIZE, (8, 1)), labels, reject=False)
    assert off["coverage"] == 1.0 and not off["reject"]
    assert off["accuracy"] == report["accuracy"]


def test_video_treats_rejected_frames_like_no_person(model):
    far = Pose(body(0.05, 0.05), None, SIZE)
    assert _classify(model, far) == (None, UNKNOWN_LABEL)
    proba, absent = _classify(model, far, reject=False)
    assert proba is not None and proba.shape == (2,)


def test_side_view_is_not_partial_but_a_cut_at_the_waist_is():
    check = VisibilityCheck()
    side = body(0.55, 0.55)[None].copy()
    side[0, [12, 14, 16, 24, 26, 28], 3] = 0.1  # the far (right) side occluded
    assert not check.is_partial(side)[0]
    cut = body(0.55, 0.55)[None].copy()
    cut[0, 25:29, 1] = 1.2  # knees and ankles below the image, still "visible"
    assert check.is_partial(cut)[0]
    assert check.hidden_joints(cut)[0] == ["knees", "ankles"]
    assert not VisibilityCheck(max_hidden_joints=2).is_partial(cut)[0]


@pytest.mark.parametrize("params, message", [
    ({"min_visibility": 1.5}, "min_visibility"), ({"max_hidden_joints": 7}, "max_hidden_joints"),
    ({"frame_margin": -0.1}, "frame_margin"),
])
def test_bad_visibility_settings_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        VisibilityCheck(**params)


def test_key_joints_are_the_six_body_joints():
    assert list(KEY_JOINTS) == ["shoulders", "elbows", "wrists", "hips", "knees", "ankles"]


# -- world landmarks in the novelty features -------------------------------------------------
def world_of(lm: np.ndarray, depth: float = 0.0) -> np.ndarray:
    """World landmarks (metres, hip-centred, y down) of image landmarks; ``depth`` tilts the
    body away from the camera (z grows towards the head), as in a push-up filmed from the
    front."""
    w = np.asarray(lm, dtype=np.float64)[..., :3].copy()
    hip = (w[..., 23:24, :] + w[..., 24:25, :]) / 2
    w -= hip
    w[..., 2] = -w[..., 1] * depth
    return w


@pytest.fixture(scope="module")
def world_model():
    """The ``model`` poses, trained with world landmarks."""
    lm, labels = training_poses()
    return PoseModel.train(lm, np.tile(SIZE, (40, 1)), labels, "knn", cv=0,
                           world_landmarks=world_of(lm))


def test_world_directions_mirror_like_the_body():
    lm = body(0.15, 0.55)
    world = world_of(lm[None], depth=0.3)
    dirs = world_directions(world)
    mirrored = world_directions(mirror_world_landmarks(world))
    assert dirs.shape == (1, 3 * len(DIRECTION_PAIRS))
    norms = np.linalg.norm(dirs.reshape(-1, 3), axis=1)
    np.testing.assert_allclose(norms[:11], 1.0, atol=1e-9)  # the synthetic body has no feet
    # the torso axis (first pair) keeps y and z and flips x under mirroring
    np.testing.assert_allclose(mirrored[0, :3], dirs[0, :3] * [-1, 1, 1], atol=1e-9)
    assert np.isnan(world_directions(np.full((1, 33, 3), np.nan))).all()


def test_novelty_features_start_with_the_classifier_embedding(world_model):
    features = world_model.novelty_features_
    lm = body(0.15, 0.55)[None]
    X = pose_matrix(lm, np.asarray([SIZE]))
    embedded = world_model.embed(lm, np.asarray([SIZE]))
    image = features.image_features(X)
    np.testing.assert_allclose(image[:, :embedded.shape[1]], embedded)
    assert image.shape[1] == features.n_image_features_ > embedded.shape[1]


def test_world_landmarks_tell_a_pose_tilted_in_depth_from_the_upright_one(world_model):
    lm = noisy(body(0.15, 0.55), 4, np.random.default_rng(3))
    sizes = np.tile(SIZE, (4, 1))
    upright = world_model.predict_with_scores(lm, sizes, world_landmarks=world_of(lm))
    tilted = world_model.predict_with_scores(lm, sizes, world_landmarks=world_of(lm, depth=2.0))
    image_only = world_model.predict_with_scores(lm, sizes)
    assert (upright.labels == "left_up").all()
    assert (tilted.labels == UNKNOWN_LABEL).all()  # same picture, body pointing at the camera
    assert (image_only.labels == "left_up").all()  # without world landmarks it cannot tell
    info = world_model.metadata["rejection"]
    assert info["features"] == "image+world"
    np.testing.assert_array_equal(upright.threshold, info["threshold"])
    np.testing.assert_array_equal(image_only.threshold, info["threshold_image"])


def test_pose_world_landmarks_are_used_by_predict_pose(world_model):
    lm = body(0.15, 0.55)
    assert world_model.predict_pose(Pose(lm, world_of(lm), SIZE))[0] == "left_up"
    assert world_model.predict_pose(Pose(lm, world_of(lm, 2.0), SIZE))[0] == UNKNOWN_LABEL
    assert world_model.predict_pose(Pose(lm, None, SIZE))[0] == "left_up"


def test_training_without_complete_world_landmarks_uses_the_image(caplog):
    rng = np.random.default_rng(4)
    lm = np.concatenate([noisy(body(0.15, 0.55), 10, rng), noisy(body(0.55, 0.55), 10, rng)])
    world = world_of(lm)
    world[3] = np.nan
    with caplog.at_level(logging.WARNING):
        model = PoseModel.train(lm, np.tile(SIZE, (20, 1)), np.repeat(["a", "b"], 10), "knn",
                                cv=0, world_landmarks=world)
    assert "1 of 20 training poses have no world landmarks" in caplog.text
    assert not model.uses_world_landmarks
    assert model.metadata["rejection"]["features"] == "image"
    with pytest.raises(ValueError, match="world_landmarks must have shape"):
        model.predict(lm, np.tile(SIZE, (20, 1)), world_landmarks=world[:3])


def test_file_from_before_novelty_features_scores_on_the_classifier_embedding(tmp_path, model):
    """A model saved before NoveltyEmbedder (novelty on the classifier's embedding) still loads
    and scores as it was calibrated."""
    embedder = model.pipeline.named_steps["embed"]
    lm, labels = training_poses()
    sizes = np.tile(SIZE, (40, 1))
    scorer = NoveltyScorer().fit(embedder.transform(pose_matrix(lm, sizes)), labels,
                                 embedder.transform(pose_matrix(mirror_landmarks(lm), sizes)))
    rng = np.random.default_rng(0)
    old = PoseModel(PoseClassifier.from_parts(model.pipeline, scorer, model.visibility_),
                    model.metadata)
    loaded = PoseModel.load(old.save(tmp_path / "old.skops"))
    assert loaded.novelty_features_ is None and loaded.can_reject
    probe = noisy(body(0.05, 0.05), 3, rng)
    np.testing.assert_allclose(loaded.novelty(probe, sizes[:3]),
                               scorer.novelty(embedder.transform(pose_matrix(probe, sizes[:3]))))


@pytest.mark.parametrize("n", [1, 7])
def test_novelty_and_thresholds_together_equal_each_alone(n):
    """The one-pass call of a video frame gives bit for bit what the two calls give."""
    rng = np.random.default_rng(11)
    X = np.concatenate([rng.normal(size=(30, 6)), rng.normal(size=(30, 6)) + 3.0])
    y = np.repeat(["a", "b"], 30)
    scorer = NoveltyScorer().fit(X, y, negatives=rng.normal(size=(20, 6)) + [6, 0, 0, 0, 0, 0])
    assert scorer.class_thresholds_ is not None
    Q = rng.normal(size=(n, 6)) * 2.0 + 1.5
    classes = np.resize(["a", "b"], n)
    novelty, thresholds = scorer.novelty_and_thresholds(Q, classes)
    np.testing.assert_array_equal(novelty, scorer.novelty(Q))
    np.testing.assert_array_equal(thresholds, scorer.thresholds(Q, classes, scorer.novelty(Q)))
    np.testing.assert_array_equal(thresholds, scorer.thresholds(Q, classes))
