"""An exported ONNX model against poseclf's own answers, pose for pose.

:func:`dev_poses` reads the detected rows of every landmark table in ``datasets/`` (the falls
tables in its sub-folder included); :func:`compare` runs a model both ways on them and reports
the largest probability difference and the labels that differ. Used by
tests/test_export_onnx.py (a sample of rows) and bench/export.py (every row).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poseclf.classify.model import PoseModel
from poseclf.classify.onnx_export import needs_world_landmarks
from poseclf.errors import TableError
from poseclf.pose.poses import Poses
from poseclf.pose.table import load_table

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO / "datasets"
ONNX_BATCH = 64  # poses per onnxruntime call: the k-NN's first stage holds batch x train x features
#: Trained models (besides the shipped ones): (classifier, world features, mirror augmentation,
#: train with world landmarks, classes). Every classifier, each feature mode, the mirrored k-NN
#: query (mirror=False), image-only novelty, and the SVM's binary and one-vs-rest paths.
PARTS = (("pushups_visolus", "pushups_up", "up"), ("pushups_visolus", "pushups_down", "down"),
         ("sitstand_multimediaimg", "sitting", "sitting"),
         ("sitstand_multimediaimg", "standing", "standing"))
TRAINED = {
    "knn-only": ("knn", "only", True, True, PARTS),
    "knn-off": ("knn", "off", True, True, PARTS),
    "knn-concat": ("knn", "concat", True, True, PARTS),
    "knn-mirrored-query": ("knn", "off", False, True, PARTS),
    "knn-no-world": ("knn", "off", True, False, PARTS[:2]),
    "svm-off": ("svm", "off", True, True, PARTS),
    "svm-only": ("svm", "only", True, True, PARTS),
    "svm-binary": ("svm", "off", True, True, PARTS[:2]),
    "logreg-off": ("logreg", "off", True, True, PARTS),
    "mlp-off": ("mlp", "off", True, True, PARTS),
}


def trained_model(case: str) -> PoseModel:
    """The model of :data:`TRAINED` ``case``, trained with ``poseclf train``'s other defaults
    (no cross-validation, no negatives)."""
    from table_models import model_from_tables

    classifier, world_mode, mirror, with_world, parts = TRAINED[case]
    return model_from_tables(parts, with_world=with_world, classifier=classifier,
                             mirror=mirror, embedder_params={"world": world_mode})


@dataclass(frozen=True)
class DevPoses:
    """The detected poses of the dev tables, and the table each came from."""

    poses: Poses
    tables: np.ndarray  # (n,) str


def dev_poses() -> DevPoses:
    """Every detected pose of every landmark table under ``datasets/``."""
    parts, names = [], []
    for path in sorted(DATASETS.glob("*.csv")) + sorted(DATASETS.glob("*/*.csv")):
        try:
            poses = Poses.from_table(load_table(path))
        except TableError:  # segment lists and the exclusion list are not landmark tables
            continue
        poses = poses[poses.detected]
        parts.append(poses)
        names += [str(path.relative_to(DATASETS).with_suffix(""))] * len(poses)
    return DevPoses(Poses(np.concatenate([p.landmarks for p in parts]),
                          np.concatenate([p.world_landmarks for p in parts]),
                          np.concatenate([p.image_sizes for p in parts])),
                    np.asarray(names))


def onnx_outputs(session, model: PoseModel, poses: Poses) -> dict[str, np.ndarray]:
    """The session's outputs on ``poses``, by name, ``ONNX_BATCH`` poses per call."""
    names = [o.name for o in session.get_outputs()]
    chunks: dict[str, list] = {name: [] for name in names}
    for start in range(0, len(poses), ONNX_BATCH):
        part = poses[start:start + ONNX_BATCH]
        feed = {"landmarks": part.landmarks, "image_size": part.image_sizes}
        if needs_world_landmarks(model):
            feed["world_landmarks"] = part.world_landmarks
        for name, value in zip(names, session.run(names, feed), strict=True):
            chunks[name].append(value)
    return {name: np.concatenate(values) for name, values in chunks.items()}


@dataclass(frozen=True)
class Comparison:
    """How an exported model's answers differ from poseclf's on the same poses."""

    max_abs_diff: float  # largest |probability difference|
    max_novelty_diff: float
    expected: np.ndarray  # poseclf's labels (a class, "unknown" or "partial")
    got: np.ndarray  # the ONNX graph's, decoded the same way

    @property
    def agreement(self) -> float:
        return float(np.mean(self.expected == self.got))

    @property
    def differing(self) -> np.ndarray:
        return np.flatnonzero(self.expected != self.got)


def decode(decision: np.ndarray, classes: list[str]) -> np.ndarray:
    """Labels of the ``decision`` output: class index, -1 ``unknown``, -2 ``partial``."""
    names = np.asarray([*classes, "partial", "unknown"], dtype=object)  # -2, -1 from the end
    return names[decision]


def compare(session, model: PoseModel, poses: Poses) -> Comparison:
    """Run ``model`` through poseclf and through ``session`` on ``poses``."""
    got = onnx_outputs(session, model, poses)
    world = poses.world_landmarks if needs_world_landmarks(model) else None
    expected = model.predict_with_scores(poses.landmarks, poses.image_sizes,
                                         world_landmarks=world)
    return Comparison(float(np.abs(got["probabilities"] - expected.proba).max()),
                      float(np.nanmax(np.abs(got["novelty"] - expected.novelty))),
                      np.asarray(expected.labels, dtype=object),
                      decode(got["decision"], model.classes_))
