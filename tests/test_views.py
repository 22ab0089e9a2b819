"""View augmentation (classify/views.py) and 3D features (PoseEmbedder(world=...)): geometry on
synthetic skeletons, then a small training run on a real landmark table."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import REPO

from poseclf.classify.defaults import DEFAULT_WORLD_FEATURES
from poseclf.classify.embedding import PoseEmbedder, mirror_landmarks, mirror_world_landmarks
from poseclf.classify.model import PoseModel
from poseclf.classify.pose_classifier import PoseClassifier
from poseclf.classify.pose_rows import N_IMAGE_COLUMNS, pose_rows
from poseclf.classify.views import augment_views, check_view_angles, rotation, view_rotations
from poseclf.classify.world_embedding import facing_points, world_points
from poseclf.pose.poses import training_arrays, training_world_landmarks
from poseclf.pose.table import load_table

ATOL = 1e-6
SIZES = np.array([[640.0, 480.0], [480.0, 640.0], [300.0, 300.0]])
PX_PER_METRE = 300.0  # scale of the synthetic pictures


def skeletons(n: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random world skeletons (metres, hip-centred) and their exact weak-perspective pictures
    ``(x * width, y * height) = 300 * world + centre``, z on x's scale, visibility kept random."""
    rng = np.random.default_rng(seed)
    world = rng.normal(0, 0.3, (n, 33, 3))
    world -= world[:, [23, 24]].mean(axis=1, keepdims=True)
    sizes = SIZES[np.arange(n) % len(SIZES)]
    lm = np.empty((n, 33, 4), np.float64)
    lm[..., 0] = (PX_PER_METRE * world[..., 0] + sizes[:, None, 0] / 2) / sizes[:, None, 0]
    lm[..., 1] = (PX_PER_METRE * world[..., 1] + sizes[:, None, 1] / 2) / sizes[:, None, 1]
    lm[..., 2] = PX_PER_METRE * world[..., 2] / sizes[:, None, 0]
    lm[..., 3] = rng.random((n, 33))
    return lm, sizes, world


def picture_of(world: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """x, y, z of the exact picture of ``world`` (as :func:`skeletons` draws it)."""
    out = np.empty(world.shape)
    out[..., 0] = (PX_PER_METRE * world[..., 0] + sizes[:, None, 0] / 2) / sizes[:, None, 0]
    out[..., 1] = (PX_PER_METRE * world[..., 1] + sizes[:, None, 1] / 2) / sizes[:, None, 1]
    out[..., 2] = PX_PER_METRE * world[..., 2] / sizes[:, None, 0]
    return out


def test_rotation_by_zero_is_the_identity():
    np.testing.assert_allclose(rotation(0, 0), np.eye(3), atol=ATOL)
    lm, sizes, world = skeletons()
    from poseclf.classify.views import picture_scale, rotated_view

    out, turned = rotated_view(lm, sizes, world, picture_scale(lm, sizes, world), 0.0, 0.0)
    np.testing.assert_allclose(out, lm, atol=ATOL)
    np.testing.assert_allclose(turned, world, atol=ATOL)


@pytest.mark.parametrize("yaw, pitch", [(30.0, 0.0), (-15.0, 0.0), (0.0, 10.0)])
def test_a_view_is_the_picture_of_the_turned_skeleton_at_the_pose_scale(yaw, pitch):
    lm, sizes, world = skeletons()
    made = augment_views(lm, sizes, world, (abs(yaw),) if yaw else (), pitch=pitch)
    k = view_rotations((abs(yaw),) if yaw else (), pitch).index((yaw, pitch))
    per_pose = len(made.source) // len(lm)
    hip = world[:, [23, 24]].mean(axis=1, keepdims=True)
    expected_world = (world - hip) @ rotation(yaw, pitch).T + hip
    np.testing.assert_allclose(made.world[k::per_pose], expected_world, atol=ATOL)
    np.testing.assert_allclose(made.landmarks[k::per_pose, :, :3],
                               picture_of(expected_world, sizes), atol=ATOL)
    np.testing.assert_array_equal(made.landmarks[k::per_pose, :, 3], lm[..., 3])  # visibility


def test_yaw_keeps_heights_and_turns_widths():
    lm, sizes, world = skeletons(1)
    made = augment_views(lm, sizes, world, (90,))
    # turned by 90 degrees, the shoulder line's width in the picture is its former depth
    ls, rs = 11, 12
    width = (made.world[0, ls, 0] - made.world[0, rs, 0])
    np.testing.assert_allclose(abs(width), abs(world[0, ls, 2] - world[0, rs, 2]), atol=ATOL)
    np.testing.assert_allclose(made.landmarks[:, :, 1], np.repeat(lm[:, :, 1], 2, 0), atol=ATOL)


def test_augmentation_count_and_sources():
    lm, sizes, world = skeletons(3)
    made = augment_views(lm, sizes, world, (15, 30), pitch=10)
    assert len(view_rotations((15, 30), 10)) == 6
    assert made.landmarks.shape == (18, 33, 4) and made.world.shape == (18, 33, 3)
    assert made.source.tolist() == [0] * 6 + [1] * 6 + [2] * 6
    assert len(augment_views(lm, sizes, world, ()).source) == 0


def test_rows_without_world_landmarks_get_no_views():
    lm, sizes, world = skeletons(3)
    world[1] = np.nan
    made = augment_views(lm, sizes, world, (15,))
    assert made.source.tolist() == [0, 0, 2, 2]
    assert np.isfinite(made.landmarks).all() and np.isfinite(made.world).all()


@pytest.mark.parametrize("views, pitch, message", [
    ((-15,), 0, "out of range|in \\(0, 90\\]"), ((95,), 0, "in \\(0, 90\\]"),
    (("wide",), 0, "must be numbers"), ((15,), -5, "in \\(0, 90\\]"), ((15,), 91, "90"),
])
def test_bad_view_angles_are_refused_when_fitting(views, pitch, message):
    lm, sizes, world = skeletons(8)
    est = PoseClassifier("knn", views=views, view_pitch=pitch)  # stored as given, no checks
    assert est.get_params()["views"] == views
    with pytest.raises(ValueError, match=message):
        est.fit(pose_rows(lm, sizes, world), ["a", "b"] * 4)
    with pytest.raises(ValueError, match=message):
        check_view_angles(views, pitch)


def test_yaw_normalisation_is_invariant_to_a_turned_input():
    _, _, world = skeletons(3)
    for yaw in (20.0, -75.0, 160.0):
        turned = world @ rotation(yaw, 0).T
        np.testing.assert_allclose(facing_points(turned, 2.5), facing_points(world, 2.5),
                                   atol=ATOL)


@pytest.mark.parametrize("world_mode", ["only", "concat"])
def test_world_features_ignore_yaw_and_mirror_like_the_picture(world_mode):
    lm, sizes, world = skeletons(3)
    emb = PoseEmbedder(world=world_mode, angles=True).fit(pose_rows(lm, sizes, world))
    X = pose_rows(lm, sizes, world)
    features = emb.transform(X)
    assert features.shape == (3, emb.n_features_out_) == (3, len(emb.get_feature_names_out()))
    turned = pose_rows(lm, sizes, world @ rotation(40.0, 0).T)
    world_part = slice(-(3 * 23 + 8), None)
    np.testing.assert_allclose(emb.transform(turned)[:, world_part], features[:, world_part],
                               atol=ATOL)
    mirrored = pose_rows(mirror_landmarks(lm), sizes, mirror_world_landmarks(world))
    index, sign = emb.mirror_map()
    np.testing.assert_allclose(emb.transform(mirrored), features[:, index] * sign, atol=1e-5)


def test_rows_without_world_landmarks_use_their_picture_as_3d_points():
    lm, sizes, world = skeletons(3)
    with_world = pose_rows(lm, sizes, world)
    without = pose_rows(lm, sizes)  # NaN world columns
    pts = world_points(without)
    np.testing.assert_allclose(pts[..., 0], lm[..., 0] * sizes[:, None, 0], atol=1e-4)
    emb = PoseEmbedder(world="only").fit(with_world)
    # the synthetic picture is the world skeleton scaled: the same features
    np.testing.assert_allclose(emb.transform(without), emb.transform(with_world), atol=1e-5)
    np.testing.assert_allclose(emb.transform(without[:, :N_IMAGE_COLUMNS]),
                               emb.transform(without), atol=ATOL)


def test_default_embedding_is_unchanged_by_the_world_option():
    lm, sizes, world = skeletons(3)
    X = pose_rows(lm, sizes, world)
    plain = PoseEmbedder().fit(X[:, :N_IMAGE_COLUMNS]).transform(X[:, :N_IMAGE_COLUMNS])
    both = PoseEmbedder(world="concat").fit(X).transform(X)
    np.testing.assert_array_equal(both[:, :plain.shape[1]], plain)
    with pytest.raises(ValueError, match="world must be one of"):
        PoseEmbedder(world="3d").fit(X)


# -- a real table ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pushups():
    table = load_table(REPO / "datasets" / "pushups_visolus.csv")
    lm, sizes, labels = training_arrays(table)
    return lm, sizes, labels.astype(str), training_world_landmarks(table)


@pytest.mark.parametrize("options", [
    {"views": (15, 30), "view_pitch": 10, "embedder_params": {"world": "off"}},
    {},  # the defaults: 3D features only
    {"embedder_params": {"world": "only"}},
    {"embedder_params": {"world": "concat"}, "views": (15,)},
])
def test_training_with_views_and_world_features_on_a_real_table(pushups, tmp_path, options):
    lm, sizes, labels, world = pushups
    train = np.arange(len(labels)) % 3 != 0
    model = PoseModel.train(lm[train], sizes[train], labels[train], "knn", cv=0,
                            world_landmarks=world[train], **options)
    test = ~train
    pred = model.predict(lm[test], sizes[test], world_landmarks=world[test], reject=False)
    assert np.mean(pred == labels[test]) >= 0.9
    # one pose at a time (the lean path) and without world landmarks: answers of the same kind
    one = model.predict_with_scores(lm[test][:1], sizes[test][:1],
                                    world_landmarks=world[test][:1])
    assert one.proba.shape == (1, 2) and np.isfinite(one.novelty).all()
    assert model.estimator._cache()["lean"] is not None  # the fast path was checked and kept
    np.testing.assert_allclose(one.proba, model.predict_with_scores(
        lm[test], sizes[test], world_landmarks=world[test]).proba[:1], atol=1e-9)
    assert set(model.predict(lm[test], sizes[test])) <= {*model.classes_, "unknown", "partial"}
    saved = PoseModel.load(model.save(tmp_path / "m.skops"))
    np.testing.assert_allclose(
        saved.predict_proba(lm[test], sizes[test]), model.predict_proba(lm[test], sizes[test]))
    assert saved.metadata.get("view_augmentation", {}).get("yaw") == list(
        map(float, options.get("views", ()))) or "views" not in options
    assert saved.pipeline.named_steps["embed"].world == options.get(
        "embedder_params", {}).get("world", DEFAULT_WORLD_FEATURES)


def test_views_add_training_rows_only_for_poses_with_world_landmarks(pushups):
    lm, sizes, labels, world = pushups
    world = world.copy()
    world[::2] = np.nan
    est = PoseClassifier("knn", views=(20,), mirror=False, rejection=False)
    est.fit(pose_rows(lm, sizes, world), labels)
    n_with = int(np.isfinite(world).all(axis=(1, 2)).sum())
    assert len(est.pipeline_[-1].X_fit_) == len(labels) + 2 * n_with


def test_a_3d_model_warns_once_per_call_when_poses_lack_world_landmarks(pushups):
    from poseclf.errors import MissingWorldLandmarksWarning

    lm, sizes, labels, world = pushups
    model = PoseModel.train(lm, sizes, labels, cv=0, world_landmarks=world)  # the defaults
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with_world = model.predict(lm, sizes, world_landmarks=world)
    with pytest.warns(MissingWorldLandmarksWarning, match="pass world_landmarks="):
        without = model.predict(lm, sizes)
    assert np.mean(with_world == labels) >= np.mean(without == labels)
    picture = PoseModel.train(lm, sizes, labels, cv=0, embedder_params={"world": "off"},
                              world_landmarks=world)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        picture.predict(lm, sizes)  # picture features need no world landmarks


def test_evaluate_prints_the_warning_as_one_line(tmp_path, capsys):
    from poseclf.cli import main

    table = load_table(REPO / "datasets" / "pushups_visolus.csv")
    table[[c for c in table.columns if c.endswith(("_wx", "_wy", "_wz"))]] = np.nan
    path = tmp_path / "no_world.csv"  # as tables from before poseclf kept world landmarks
    table.to_csv(path, index=False)
    assert main(["evaluate", "--model", "pushups", str(path)]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "warning:" in line]
    assert len(lines) == 1 and lines[0].startswith("poseclf evaluate: warning: this model"), err
