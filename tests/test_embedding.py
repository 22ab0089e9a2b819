"""PoseEmbedder on synthetic skeletons: invariances, degenerate input, mirror equivariance."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from poseclf.classify.embedding import (
    DIRECTION_PAIRS,
    MEDIAPIPE_PAIRS,
    PoseEmbedder,
    float_matrix,
    mirror_landmarks,
    normalized_points,
    pose_matrix,
)
from poseclf.pose.landmarks import PoseLandmark

ATOL = 1e-5
OPTIONS = [{}, {"pairs": "all"}, {"angles": True}, {"directions": True},
           {"pairs": "all", "angles": True, "directions": True, "z_weight": 1}]


def skeletons(n: int = 6, seed: int = 0) -> np.ndarray:
    """Random but body-like (n, 33, 4) stacks inside the unit square."""
    rng = np.random.default_rng(seed)
    lm = np.empty((n, 33, 4), np.float32)
    lm[..., :2] = 0.5 + rng.normal(0, 0.12, (n, 33, 2))
    lm[..., 2] = rng.normal(0, 0.05, (n, 33))
    lm[..., 3] = rng.uniform(0.3, 1, (n, 33))
    return lm


SIZES = np.array([[640, 480], [480, 640], [300, 300], [1280, 720], [200, 500], [800, 600]])


@pytest.mark.parametrize("params", OPTIONS)
@pytest.mark.parametrize("shift, scale", [((0.0, 0.0), 0.5), ((0.1, -0.2), 1.0), ((-30, 5), 3.0)])
def test_embedding_ignores_translation_and_uniform_scale_in_pixels(params, shift, scale):
    lm = skeletons()
    moved = lm.copy()
    # a uniform scale and shift of the body in pixels, expressed in normalised coordinates
    moved[..., 0] = (lm[..., 0] * SIZES[:, None, 0] * scale + shift[0]) / SIZES[:, None, 0]
    moved[..., 1] = (lm[..., 1] * SIZES[:, None, 1] * scale + shift[1]) / SIZES[:, None, 1]
    moved[..., 2] = lm[..., 2] * scale
    emb = PoseEmbedder(**params).fit(pose_matrix(lm, SIZES))
    np.testing.assert_allclose(emb.transform(pose_matrix(moved, SIZES)),
                               emb.transform(pose_matrix(lm, SIZES)), atol=ATOL)


def test_embedding_uses_aspect_correct_coordinates():
    lm = skeletons(1)
    wide = PoseEmbedder().fit_transform(pose_matrix(lm, [[1000, 500]]))
    square = PoseEmbedder().fit_transform(pose_matrix(lm, [[500, 500]]))
    assert not np.allclose(wide, square, atol=1e-3)


@pytest.mark.parametrize("params", OPTIONS)
def test_mirrored_pose_maps_to_mirrored_embedding(params):
    lm = skeletons()
    emb = PoseEmbedder(**params).fit(pose_matrix(lm, SIZES))
    index, sign = emb.mirror_map()
    direct = emb.transform(pose_matrix(lm, SIZES))
    mirrored = emb.transform(pose_matrix(mirror_landmarks(lm), SIZES))
    np.testing.assert_allclose(mirrored, direct[:, index] * sign, atol=ATOL)
    assert not np.allclose(mirrored, direct, atol=1e-3)


@pytest.mark.parametrize("params", OPTIONS)
@pytest.mark.parametrize("case", ["all_equal", "zero_torso", "zeros"])
def test_degenerate_input_gives_finite_embedding(params, case):
    lm = skeletons(2)
    if case == "all_equal":
        lm[..., :3] = 0.5
    elif case == "zero_torso":
        lm[:, [PoseLandmark.LEFT_SHOULDER, PoseLandmark.RIGHT_SHOULDER,
               PoseLandmark.LEFT_HIP, PoseLandmark.RIGHT_HIP], :3] = 0.5
    else:
        lm[:] = 0
    out = PoseEmbedder(**params).fit_transform(lm)
    assert np.isfinite(out).all()


def test_pose_size_guard_uses_farthest_landmark_when_limbs_exceed_torso():
    lm = skeletons(1)
    lm[0, :, :3] = 0.5
    lm[0, [PoseLandmark.LEFT_SHOULDER, PoseLandmark.RIGHT_SHOULDER], 1] = 0.4  # torso 0.1
    lm[0, PoseLandmark.LEFT_WRIST, 0] = 0.5 + 0.6  # 6 torsos away (> 2.5)
    pts = normalized_points(lm)
    assert np.linalg.norm(pts[0, :, :2], axis=1).max() == pytest.approx(1.0)


def test_z_weight_scales_depth_features_only():
    lm = skeletons(3)
    full = PoseEmbedder(z_weight=1.0).fit_transform(lm).reshape(3, -1, 3)
    low = PoseEmbedder().fit_transform(lm).reshape(3, -1, 3)
    np.testing.assert_allclose(low[..., :2], full[..., :2])
    np.testing.assert_allclose(low[..., 2], 0.2 * full[..., 2], atol=1e-12)


@pytest.mark.parametrize("params, n_out", [
    ({}, 3 * 23), ({"pairs": "all"}, 3 * 136), ({"angles": True}, 3 * 23 + 8),
    ({"directions": True}, 3 * 23 + 3 * 14), ({"angles": True, "directions": True}, 3 * 23 + 50),
])
def test_feature_count_and_names(params, n_out):
    emb = PoseEmbedder(**params).fit(skeletons(2))
    assert emb.transform(skeletons(2)).shape == (2, n_out) == (2, emb.n_features_out_)
    assert len(emb.get_feature_names_out()) == n_out
    assert len(MEDIAPIPE_PAIRS) == 23


def test_stack_and_matrix_forms_agree_for_square_images():
    lm = skeletons(3)
    emb = PoseEmbedder().fit(lm)
    np.testing.assert_array_equal(emb.transform(lm), emb.transform(pose_matrix(lm)))


@pytest.mark.parametrize("shape", [(2, 33, 3), (2, 17, 4), (2, 131), (2, 132)])
def test_wrong_landmark_shape_is_rejected_with_its_shape(shape):
    with pytest.raises(ValueError, match=r"33, 4"):
        PoseEmbedder().fit(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize("params, message", [
    ({"pairs": "some"}, "pairs must be one of"),
    ({"torso_size_multiplier": 0}, "torso_size_multiplier must be > 0"),
    ({"z_weight": -1}, "z_weight"),
])
def test_invalid_parameters_are_rejected_at_fit(params, message):
    emb = PoseEmbedder(**params)  # storing never fails
    with pytest.raises(ValueError, match=message):
        emb.fit(skeletons(1))


def test_nan_landmarks_and_nonpositive_sizes_are_rejected():
    lm = skeletons(1)
    with pytest.raises(ValueError, match="image sizes"):
        PoseEmbedder().fit(pose_matrix(lm, [[0, 10]]))
    lm[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PoseEmbedder().fit(lm)


def test_embedder_follows_sklearn_conventions():
    emb = PoseEmbedder(pairs="all", angles=True)
    assert clone(emb).get_params() == emb.get_params()
    with pytest.raises(Exception, match="not fitted"):
        emb.transform(skeletons(1))
    assert emb.fit(skeletons(1)) is emb and emb.n_features_in_ == 134


def test_direction_features_ignore_limb_length():
    lm = skeletons(1)
    longer = lm.copy()
    elbow, wrist = PoseLandmark.LEFT_ELBOW, PoseLandmark.LEFT_WRIST
    # the same forearm direction, 1.5x as long
    longer[0, wrist, :3] = lm[0, elbow, :3] + 1.5 * (lm[0, wrist, :3] - lm[0, elbow, :3])
    emb = PoseEmbedder(directions=True).fit(lm)
    names = emb.get_feature_names_out()
    forearm = np.char.startswith(names.astype(str), "dir_left_elbow>left_wrist")
    assert forearm.sum() == 3 and len(DIRECTION_PAIRS) == 14
    a, b = emb.transform(lm), emb.transform(longer)
    np.testing.assert_allclose(a[:, forearm], b[:, forearm], atol=ATOL)
    np.testing.assert_allclose(np.linalg.norm(a[:, forearm]), 0.5, rtol=1e-6)  # unit x weight
    assert not np.allclose(a, b, atol=1e-3)  # the distance features do see the longer arm


@pytest.mark.parametrize("X", [np.ones((2, 3)), np.ones((2, 3), np.float32)])
def test_float_matrix_passes_finite_float_arrays_through_uncopied(X):
    assert float_matrix(X) is X


@pytest.mark.parametrize("X, message", [
    (np.array([[1.0, np.inf]]), "infinity"),
    (np.ones(3), "2D array"),
    (np.ones((0, 3)), "0 sample"),
])
def test_float_matrix_falls_back_to_sklearn_checks(X, message):
    with pytest.raises(ValueError, match=message):
        float_matrix(X)


def test_float_matrix_converts_lists_and_integers_to_float64():
    out = float_matrix([[1, 2]])
    assert out.dtype == np.float64 and out.tolist() == [[1.0, 2.0]]
