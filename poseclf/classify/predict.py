"""Classify the pose in image files with a trained model (library side of ``poseclf predict``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ImageReadError
from ..pictures.detect import save_png
from ..pictures.draw import (
    LabelAnnotator,
    Overlay,
    PeopleAnnotator,
    SkeletonAnnotator,
    annotate_all,
)
from ..pose.blazepose import warn_if_mismatched
from ..pose.extraction import PoseExtractor
from ..pose.image_paths import collect_images, output_paths
from ..pose.images import read_image
from ..pose.landmarks import NO_PERSON, Pose
from .model import PoseModel
from .novelty import REJECTION_LABELS

DRAWING_ENDING = "_pred.png"  # <stem>_pred.png: the drawing of an image in draw_dir


@dataclass
class ImagePrediction:
    """The answer for one image file: a label and class probabilities, or why there is none."""

    path: Path
    label: str | None  # a class, NO_PERSON, "unknown", "partial", or None (unreadable file)
    probabilities: dict[str, float] | None = None
    pose: Pose | None = None
    error: str | None = None
    novelty: float | None = None  # novelty score of the pose (see poseclf.classify.novelty)
    person: int | None = None  # 1, 2, ... in BlazePose's order when several people are asked for

    @property
    def rejected(self) -> bool:
        """True when the model answered "unknown" or "partial"."""
        return self.label in REJECTION_LABELS

    @property
    def ok(self) -> bool:
        """True when the file could be read (whether or not a person was found)."""
        return self.error is None

    @property
    def confidence(self) -> float | None:
        """Probability of the predicted class, or None."""
        return None if not self.probabilities else max(self.probabilities.values())

    def to_dict(self) -> dict:
        """JSON-ready dict: file, label, probabilities, novelty, rejected, error (and
        ``person`` when several people were asked for)."""
        novelty = None if self.novelty is None or np.isnan(self.novelty) else self.novelty
        out = {"file": str(self.path), "label": self.label,
               "probabilities": self.probabilities, "novelty": novelty,
               "rejected": self.rejected, "error": self.error}
        if self.person is not None:
            out["person"] = self.person
        return out


def predict_images(
    model: PoseModel,
    paths: Iterable[str | os.PathLike],
    extractor: PoseExtractor,
    *,
    draw_dir: str | os.PathLike | None = None,
    reject: bool = True,
    people: bool = False,
) -> Iterator[ImagePrediction]:
    """One prediction per image (directories are expanded); unreadable files give an error.

    With ``reject`` a pose unlike the training poses is labelled ``"unknown"`` and one whose key
    joints are hidden ``"partial"`` (the probabilities are given either way).

    With ``draw_dir``, each readable image is written there as ``<stem>_pred.png`` with the
    skeleton and the label drawn; images that share a stem get distinct names (see
    :func:`poseclf.pose.image_paths.output_paths`), images inside ``draw_dir`` are not
    predicted, and :class:`~poseclf.errors.InputError` is raised before any image is read when a
    drawing would replace one of the images.

    ``people``: one prediction per person the extractor finds (its ``num_poses`` at most; each
    with ``person`` 1, 2, ... in BlazePose's order), or one ``no_person`` answer; the drawing
    shows every person in their own colour.
    """
    images = collect_images(paths, skip=[draw_dir] if draw_dir is not None else ())
    warn_if_mismatched(model.blazepose, extractor.blazepose)
    drawings = (output_paths(images, draw_dir, DRAWING_ENDING, option="--draw")
                if draw_dir is not None else [None] * len(images))
    for path, drawing in zip(images, drawings, strict=True):
        try:
            image = read_image(path)
        except ImageReadError as err:
            yield ImagePrediction(path, None, error=str(err))
            continue
        if not people:
            result = _predict_pose(model, path, extractor(image), reject)
            if drawing is not None:
                save_png(drawing, draw_prediction(image, result, model.classes_))
            yield result
            continue
        results = [_predict_pose(model, path, pose, reject, person)
                   for person, pose in enumerate(extractor.detect_all(image), start=1)]
        if drawing is not None:
            save_png(drawing, draw_people(image, results))
        yield from results or [ImagePrediction(path, NO_PERSON)]


def _predict_pose(model: PoseModel, path: Path, pose: Pose | None, reject: bool,
                  person: int | None = None) -> ImagePrediction:
    if pose is None:
        return ImagePrediction(path, NO_PERSON, person=person)
    scored = model.score_pose(pose, reject=reject)
    probabilities = {c: float(p) for c, p in zip(model.classes_, scored.proba[0], strict=True)}
    return ImagePrediction(path, str(scored.labels[0]), probabilities, pose,
                           novelty=float(scored.novelty[0]), person=person)


def draw_people(image_rgb: np.ndarray, results: list[ImagePrediction]) -> np.ndarray:
    """A BGR copy of the image with every person's skeleton and tag (id, label, confidence)
    in the person's colour."""
    from types import SimpleNamespace

    frame = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    return PeopleAnnotator().annotate(frame, SimpleNamespace(people=results, rate=None))


def draw_prediction(image_rgb: np.ndarray, result: ImagePrediction,
                    classes: list[str]) -> np.ndarray:
    """A BGR copy of the image with the skeleton, the label and the class bars drawn.

    A rejected pose shows its best probability but no bars.
    """
    bars = None
    if result.probabilities and not result.rejected:
        bars = [result.probabilities[c] for c in classes]
    overlay = Overlay(pose=result.pose, label=result.label or "?",
                      confidence=result.confidence, bars=bars, classes=classes)
    frame = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    return annotate_all(frame, overlay, (SkeletonAnnotator(), LabelAnnotator()))
