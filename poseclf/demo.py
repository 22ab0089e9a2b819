"""``poseclf demo``: the whole flow on material that ships with the install, offline.

1. detect and draw the pose in sample photos (scikit-image ships them) and plot it in 3D;
2. classify the photos with a shipped model (sitting or standing);
3. train a small classifier on a shipped landmark table and cross-validate it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .classify.defaults import DEFAULT_CLASSIFIER, DEFAULT_WORLD_FEATURES
from .classify.evaluation import cross_validate_model
from .classify.model import PoseModel
from .classify.novelty import PARTIAL_LABEL, REJECTION_LABELS
from .pictures.detect import draw_poses, save_pose_3d
from .pictures.draw import LabelAnnotator, Overlay, write_image
from .pose.extraction import PoseExtractor
from .pose.poses import training_arrays, training_world_landmarks
from .shipped import resolve_table
from .tables.exclusions import load_training_tables

DEMO_MODEL = "sitstand"  # shipped model used on the sample photos
DEMO_TABLE = "pushups_visolus"  # shipped landmark table the demo trains on
DEMO_CLASSIFIER = DEFAULT_CLASSIFIER  # poseclf train's


@dataclass
class DemoReport:
    """What the demo did, for the caller to print."""

    out_dir: Path
    pictures: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def sample_photos() -> dict[str, np.ndarray]:
    """Real photos of people that scikit-image ships (NASA's astronaut; the cameraman), RGB."""
    from skimage import data

    return {"astronaut": data.astronaut(), "cameraman": cv2.cvtColor(data.camera(),
                                                                     cv2.COLOR_GRAY2RGB)}


def run_demo(out_dir: str | os.PathLike = "poseclf-demo") -> DemoReport:
    """Run the three demo steps and write their pictures to ``out_dir``."""
    out = Path(out_dir)
    report = DemoReport(out)
    model = PoseModel.load(DEMO_MODEL)
    report.lines.append(f"1. Pose detection, and the shipped '{DEMO_MODEL}' model "
                        f"({', '.join(model.classes_)}) on sample photos:")
    with PoseExtractor() as extract:
        for name, rgb in sample_photos().items():
            pose = extract(rgb)
            if pose is None:
                report.lines.append(f"   {name}: nobody found")
                continue
            label, proba = model.predict_pose(pose)
            rejected = label in REJECTION_LABELS
            best = model.classes_[int(np.argmax(proba))]
            frame = draw_poses(rgb, [pose])
            LabelAnnotator().annotate(frame, Overlay(
                label=str(label), confidence=None if rejected else float(proba.max()),
                bars=proba, classes=model.classes_))
            drawn = write_image(out / f"{name}_pose.png", frame)
            plot = save_pose_3d(pose, out / f"{name}_3d.png", title=f"{name}: world landmarks")
            report.pictures += [drawn, plot]
            answer = (f"{label} (not enough of the body is visible; forced to choose: {best})"
                      if label == PARTIAL_LABEL else
                      f"{label} (none of its classes; forced to choose: {best})"
                      if rejected else f"{label} ({proba.max():.0%})")
            report.lines.append(
                f"   {name}: 33 landmarks (mean visibility {pose.visibility.mean():.2f}), "
                f"'{DEMO_MODEL}' says {answer}"
            )
    report.lines += ["", *train_on_shipped_table()]
    return report


def train_on_shipped_table(table: str = DEMO_TABLE, classifier: str = DEMO_CLASSIFIER,
                           folds: int = 5) -> list[str]:
    """Cross-validate a classifier on a shipped table, with ``poseclf train``'s default
    features and without the rows the shipped exclusion list names (as the shipped models were
    trained); the report as text lines."""
    rows, dropped = load_training_tables([resolve_table(table)], [resolve_table("exclusions")])
    landmarks, sizes, labels = training_arrays(rows)
    result = cross_validate_model(landmarks, sizes, labels, classifier, cv=folds,
                                  embedder_params={"world": DEFAULT_WORLD_FEATURES},
                                  world_landmarks=training_world_landmarks(rows))
    left_out = f", {dropped} bad detections left out after review" if dropped else ""
    lines = [f"2. Training a '{classifier}' classifier on the shipped table '{table}' "
             f"({len(labels)} poses{left_out}), {result['cv']}-fold cross-validation:",
             f"   accuracy {result['accuracy']:.3f}, macro-F1 {result['macro_f1']:.3f}"]
    lines += [f"   {name:<16} precision {row['precision']:.2f}  recall {row['recall']:.2f}  "
              f"n={row['support']}" for name, row in result["per_class"].items()]
    return lines


