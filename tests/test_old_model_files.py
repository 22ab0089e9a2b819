"""Model files saved before the stage packages still load and predict as they did.

Such files name the flat modules (``poseclf.embedding.PoseEmbedder``, ``poseclf.novelty...``);
:func:`poseclf.classify.model_io.read_model` maps those names to today's modules when it reads
(:data:`~poseclf.classify.model_io.MOVED_MODULES`), and writes today's. The shipped models in
``models/`` are such files too (``test_same_outputs`` pins their predictions); the file here is
a k-NN model, whose classifier the shipped models do not use, written by the flat-module poseclf
(``old_model_files/make_old_model_files.py`` says how).
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest

from poseclf.classify.classifiers import PoseKNNClassifier
from poseclf.classify.embedding import PoseEmbedder
from poseclf.classify.model import PoseModel
from poseclf.classify.model_file import MODEL_FORMAT_VERSION
from poseclf.classify.model_io import MOVED_MODULES
from poseclf.classify.novelty import NoveltyEmbedder, NoveltyScorer
from poseclf.errors import ModelFileError
from poseclf.pose.poses import training_arrays, training_world_landmarks
from poseclf.pose.table import load_table
from poseclf.shipped import resolve_table

#: Largest difference of a float32 novelty distance from the float64 one, seen across CPUs.
FLOAT32_DISTANCE_ERROR = 1e-3
HERE = Path(__file__).resolve().parent / "old_model_files"
OLD_FILE = HERE / "knn_flat_modules.skops"
#: Where a model's classes were before the stage packages, and where they are now.
FLAT = {"poseclf.embedding": "poseclf.classify.embedding",
        "poseclf.classifiers": "poseclf.classify.classifiers",
        "poseclf.novelty": "poseclf.classify.novelty"}


def schema_modules(path: Path) -> set[str]:
    """Every poseclf module the schema of a skops file names."""
    with zipfile.ZipFile(path) as archive:
        text = archive.read("schema.json").decode()
    found: set[str] = set()
    stack = [json.loads(text)]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if str(node.get("__module__", "")).startswith("poseclf"):
                found.add(node["__module__"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


@pytest.fixture(scope="module")
def pushups():
    """Landmarks, sizes and world landmarks of every detected pose of the push-up table."""
    table = load_table(resolve_table("pushups_visolus"))
    landmarks, sizes, _ = training_arrays(table)
    return landmarks, sizes, training_world_landmarks(table)


def assert_predicts_as_saved(model: PoseModel, pushups) -> None:
    expected = np.load(HERE / "knn_flat_modules.npz")
    landmarks, sizes, world = pushups
    scored = model.predict_with_scores(landmarks, sizes, world_landmarks=world)
    assert model.classes_ == [str(c) for c in expected["classes"]]
    np.testing.assert_array_equal(scored.labels.astype(str), expected["labels"])
    np.testing.assert_allclose(scored.proba, expected["proba"], rtol=0, atol=1e-12)
    # the expected distances were computed in float32, whose rounding depends on the CPU's BLAS
    # kernel (~2e-4); poseclf computes them in float64 now
    for name in ("novelty", "threshold"):
        np.testing.assert_allclose(getattr(scored, name), expected[name], rtol=0,
                                   atol=FLOAT32_DISTANCE_ERROR, err_msg=name)


def test_the_mapping_names_every_flat_module_once_and_only_real_modules():
    import importlib.util

    assert len(MOVED_MODULES) == 30 and len(set(MOVED_MODULES.values())) == 30
    assert FLAT.items() <= MOVED_MODULES.items()
    for old, new in MOVED_MODULES.items():
        assert old.count(".") == 1 and new.count(".") == 2, old
        assert importlib.util.find_spec(new) is not None, new


def test_a_file_of_the_flat_modules_loads_and_predicts_as_it_did(pushups):
    assert set(FLAT) <= schema_modules(OLD_FILE)  # written before the move
    model = PoseModel.load(OLD_FILE)
    assert_predicts_as_saved(model, pushups)
    steps = dict(model.pipeline.steps)
    assert type(steps["embed"]) is PoseEmbedder
    assert any(isinstance(s, PoseKNNClassifier) for s in steps.values())
    assert type(model.novelty_) is NoveltyScorer
    assert type(model.novelty_features_) is NoveltyEmbedder
    assert not set(FLAT) & set(sys.modules)  # no old name left behind


def format_version(path: Path) -> int:
    """The ``format_version`` a skops model file declares."""
    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    return int(schema["content"]["format_version"]["content"])


def test_saving_writes_todays_module_paths_and_format(tmp_path, pushups):
    path = tmp_path / "again.skops"
    assert format_version(OLD_FILE) == 1
    PoseModel.load(OLD_FILE).save(path)
    assert schema_modules(path) == set(FLAT.values())
    assert format_version(path) == MODEL_FORMAT_VERSION == 2
    assert_predicts_as_saved(PoseModel.load(path), pushups)


def _renamed(node, cls: str, to: tuple[str, str]):
    """The schema ``node`` with every class ``cls`` replaced by ``to`` (module, class)."""
    if isinstance(node, dict):
        if node.get("__class__") == cls:
            node = {**node, "__module__": to[0], "__class__": to[1]}
        return {k: _renamed(v, cls, to) for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v, cls, to) for v in node]
    return node


def test_renaming_does_not_widen_the_trust(tmp_path):
    """An old file naming a type poseclf does not trust is refused, under its new name."""
    with zipfile.ZipFile(OLD_FILE) as archive:
        members = {info: archive.read(info) for info in archive.infolist()}
    path = tmp_path / "odd.skops"
    with zipfile.ZipFile(path, "w") as out:
        for info, data in members.items():
            if info.filename == "schema.json":
                data = json.dumps(_renamed(json.loads(data), "PoseEmbedder",
                                           ("poseclf.landmarks", "Pose"))).encode()
            out.writestr(info, data)
    with pytest.raises(ModelFileError, match=r"does not trust: poseclf\.pose\.landmarks\.Pose"):
        PoseModel.load(path)


def test_a_pickled_model_of_the_flat_modules_loads_with_trust(tmp_path, pushups):
    """joblib/pickle files (``trusted=True``) name the classes of a PoseModel by module too."""
    path = tmp_path / "old.joblib"
    joblib.dump(PoseModel.load(OLD_FILE), path, protocol=2)  # protocol 2: 'c<module>\n<name>'
    data = path.read_bytes()
    flat = {**FLAT, "poseclf.model": "poseclf.classify.model",
            "poseclf.pose_classifier": "poseclf.classify.pose_classifier"}
    for old, new in flat.items():
        assert f"c{new}\n".encode() in data, new
        data = data.replace(f"c{new}\n".encode(), f"c{old}\n".encode())
    # the partial rule had no module of its own: VisibilityCheck lived in poseclf.novelty
    moved = b"cposeclf.classify.visibility\nVisibilityCheck\n"
    assert moved in data
    data = data.replace(moved, b"cposeclf.novelty\nVisibilityCheck\n")
    path.write_bytes(data)
    assert b"cposeclf.classify." not in data

    model = PoseModel.load(path, trusted=True)
    assert type(model) is PoseModel and type(model.novelty_) is NoveltyScorer
    assert_predicts_as_saved(model, pushups)
    assert not set(flat) & set(sys.modules)
