"""ONNX export (issue 22): the graph answers as poseclf does, for every shipped model and every
classifier poseclf trains, on a sample of the dev tables' rows (``bench/export.py`` checks every
row); models it cannot reproduce are refused in one line."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

ort = pytest.importorskip(
    "onnxruntime", reason="ONNX export tests need onnxruntime: pip install \"poseclf[export]\"")
pytest.importorskip("onnx", reason="ONNX export needs onnx: pip install \"poseclf[export]\"")

from onnx_compare import TRAINED, compare, dev_poses, trained_model  # noqa: E402

from poseclf.classify.model import PoseModel  # noqa: E402
from poseclf.classify.onnx_export import (  # noqa: E402
    PARTIAL_CODE,
    UNKNOWN_CODE,
    export_onnx,
    model_to_onnx,
    needs_world_landmarks,
)
from poseclf.errors import InputError, MissingWorldLandmarksWarning  # noqa: E402
from poseclf.pose.poses import Poses  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_blas_thread")  # trains models: see conftest

PROBA_TOLERANCE = 1e-5  # the target; float32 outputs round at ~6e-8
YAW_ROUNDING = 1e-15  # 3D features: x / |(x, z)| for cos(atan2(z, x)) differ by 1-2 ulps
SAMPLE_EVERY = 12  # every 12th detected dev pose: ~230 of 2,814, a few seconds per model
SHIPPED = ("pushups", "sitstand", "sitstandlie", "yoga")


@pytest.fixture(scope="module")
def sample() -> Poses:
    """A sample of the dev poses, with cases for every rule: some without world landmarks
    (NaN), some with knees and ankles moved below the picture (``partial``)."""
    poses = dev_poses().poses[::SAMPLE_EVERY]
    landmarks, world = poses.landmarks.copy(), poses.world_landmarks.copy()
    world[::7] = np.nan
    landmarks[3::11, 25:29, 1] = 1.3  # knees and ankles below the picture
    return Poses(landmarks, world, poses.image_sizes)


def _session(model: PoseModel):
    return ort.InferenceSession(model_to_onnx(model).SerializeToString(),
                                providers=["CPUExecutionProvider"])


def _check_same(model: PoseModel, poses: Poses) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingWorldLandmarksWarning)  # the NaN world rows
        result = compare(_session(model), model, poses)
    assert result.max_abs_diff <= PROBA_TOLERANCE
    rows = result.differing
    assert not len(rows), (f"{len(rows)} labels differ, e.g. row {rows[0]}: poseclf "
                           f"{result.expected[rows[0]]}, onnx {result.got[rows[0]]}")
    assert "partial" in set(result.expected)  # the sample exercises the partial rule


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_answers_as_poseclf(name, sample):
    model = PoseModel.load(name)
    _check_same(model, sample)


@pytest.mark.parametrize("case", TRAINED)
def test_trained_classifier_answers_as_poseclf(case, sample):
    _check_same(trained_model(case), sample)


def test_older_visibility_rule_and_linear_svm_answer_as_poseclf(sample):
    """The ``visible`` partial rule (low visibility counts as hidden) and a linear-kernel SVM."""
    from onnx_compare import PARTS
    from table_models import model_from_tables

    model = model_from_tables(PARTS, classifier="svm", embedder_params={"world": "off"},
                              classifier_params={"kernel": "linear"},
                              visibility_params={"rule": "visible", "min_visibility": 0.5})
    assert model.visibility_.rule == "visible"
    _check_same(model, sample)


def test_model_file_from_an_older_poseclf_answers_as_poseclf(sample):
    """tests/old_model_files: saved before the world-features option and the 'placed' rule."""
    from onnx_compare import REPO

    model = PoseModel.load(REPO / "tests" / "old_model_files" / "knn_flat_modules.skops")
    assert "world" not in model.metadata["embedder_params"]
    _check_same(model, sample)


def test_shipped_sample_meets_unknown_and_nan_world_rows(sample):
    """The sample is not too easy: the yoga model calls some of it unknown, and the NaN world
    rows take the image-only path."""
    model = PoseModel.load("yoga")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingWorldLandmarksWarning)
        labels = model.predict(sample.landmarks, sample.image_sizes,
                               world_landmarks=sample.world_landmarks)
    assert "unknown" in set(labels)
    assert not sample.has_world.all()


def test_graph_inputs_outputs_and_metadata():
    model = PoseModel.load("pushups")
    proto = model_to_onnx(model)
    assert [i.name for i in proto.graph.input] == ["landmarks", "image_size", "world_landmarks"]
    assert [o.name for o in proto.graph.output] == ["probabilities", "novelty", "threshold",
                                                   "decision"]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["classes"]) == model.classes_
    assert json.loads(meta["decision_codes"]) == {str(UNKNOWN_CODE): "unknown",
                                                  str(PARTIAL_CODE): "partial"}


def test_model_without_world_landmarks_has_no_world_input():
    model = trained_model("knn-no-world")
    assert not needs_world_landmarks(model)
    assert [i.name for i in model_to_onnx(model).graph.input] == ["landmarks", "image_size"]


def test_joint_angles_are_refused_with_the_reason():
    model = PoseModel.train(*_small_training_set(), "knn", cv=0,
                            embedder_params={"world": "off", "angles": True})
    with pytest.raises(InputError, match=r"joint angles.*float32.*retrain it without angles"):
        model_to_onnx(model)


def test_export_writes_a_file_onnxruntime_loads(tmp_path):
    model = PoseModel.load("sitstand")
    path = export_onnx(model, tmp_path / "sub" / "sitstand.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert json.loads(session.get_modelmeta().custom_metadata_map["classes"]) == model.classes_
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["sitstand.onnx"]


def _small_training_set():
    rng = np.random.default_rng(0)
    landmarks = rng.random((40, 33, 4)).astype(np.float32)
    return landmarks, None, np.repeat(["a", "b"], 20)


@pytest.mark.parametrize("world", ["off", "only", "concat"])
def test_embedding_nodes_give_numpys_values(world, sample):
    """The picture embeddings and the world directions in the graph are NumPy's bit for bit (the
    same operations in the same order), so the k-NN's float32 search sees the same numbers; the
    3D features within 1e-15, as the yaw's cosine and sine come from the normalised hip line,
    not from cos(atan2(...)), which ONNX lacks (NaN world rows included)."""
    from poseclf.classify.embedding import PoseEmbedder, pose_matrix
    from poseclf.classify.novelty import NoveltyEmbedder
    from poseclf.classify.onnx_features import (
        classifier_embedding,
        image_features,
        world_directions,
    )
    from poseclf.classify.onnx_graph import GraphBuilder
    from poseclf.classify.pose_rows import pose_rows

    embedder = PoseEmbedder(world=world).fit(np.zeros((1, 33, 4)))
    novelty = NoveltyEmbedder(embedder.get_params()).fit()
    g = GraphBuilder("embedding")
    landmarks = g.op("Cast", g.input("landmarks", np.float32, ["n", 33, 4]), to=11)
    sizes = g.op("Cast", g.input("image_size", np.float32, ["n", 2]), to=11)
    world_in = g.op("Cast", g.input("world_landmarks", np.float32, ["n", 33, 3]), to=11)
    for value, name in ((classifier_embedding(g, embedder, landmarks, sizes, world_in), "e"),
                        (image_features(g, novelty.image_embedder_, landmarks, sizes), "i"),
                        (world_directions(g, world_in, novelty.world_weight), "w")):
        g.output(value, name, np.float64, ["n", None])
    session = ort.InferenceSession(g.model().SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    got = session.run(None, {"landmarks": sample.landmarks, "image_size": sample.image_sizes,
                             "world_landmarks": sample.world_landmarks})
    rows = pose_rows(sample.landmarks, sample.image_sizes, sample.world_landmarks)
    matrix = pose_matrix(sample.landmarks, sample.image_sizes)
    expected = [embedder.transform(rows if world != "off" else matrix),
                novelty.image_features(matrix), novelty.world_features(sample.world_landmarks)]
    if world == "off":
        np.testing.assert_array_equal(got[0], expected[0])
    else:
        np.testing.assert_allclose(got[0], expected[0], rtol=0, atol=YAW_ROUNDING)
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[2], expected[2])


@pytest.mark.parametrize("n", [1, 5, 8, 42, 69, 138, 207, 408])
def test_knn_mean_distances_are_numpys_bit_for_bit(n):
    """The k-NN's second stage ranks by float32 means: onnxruntime's ReduceMean sums in another
    order (an ulp off for most rows), the graph sums in NumPy's (pairwise) order instead."""
    from poseclf.classify.onnx_classifiers import numpy_mean
    from poseclf.classify.onnx_graph import GraphBuilder

    g = GraphBuilder("mean")
    x = g.input("x", np.float32, ["a", "b", n])
    g.output(numpy_mean(g, x, n), "y", np.float32, ["a", "b"])
    session = ort.InferenceSession(g.model().SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    values = np.abs(np.random.default_rng(n).normal(size=(16, 30, n))).astype(np.float32)
    np.testing.assert_array_equal(session.run(None, {"x": values})[0], values.mean(axis=2))
