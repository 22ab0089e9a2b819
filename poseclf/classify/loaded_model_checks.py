"""What a model file loads into, checked: a fitted pipeline with the metadata's classes, fitted
novelty scorers, and one prediction on made-up poses (step 4 of
:mod:`poseclf.classify.model_file`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import MissingWorldLandmarksWarning, ModelFileError
from .model_file import REMAKE, _reason
from .model_metadata import _is_number


def check_pipeline(pipeline, meta: dict, path: Path) -> None:
    """A fitted ``embed`` + classifier pipeline whose classes are the metadata's."""
    from sklearn.pipeline import Pipeline

    from .embedding import PoseEmbedder

    if not isinstance(pipeline, Pipeline):
        raise ModelFileError(f"{path}: the model file holds no fitted pipeline; {REMAKE}")
    steps = pipeline.steps
    if (not isinstance(steps, list) or len(steps) < 2
            or not all(isinstance(s, tuple) and len(s) == 2 for s in steps)
            or steps[0][0] != "embed" or not isinstance(steps[0][1], PoseEmbedder)
            or not hasattr(steps[0][1], "n_features_out_")):
        raise ModelFileError(f"{path}: the model's pipeline does not start with a fitted "
                             f"PoseEmbedder named 'embed'; {REMAKE}")
    classes = getattr(steps[-1][1], "classes_", None)
    if not (isinstance(classes, np.ndarray) and classes.ndim == 1 and len(classes) >= 2
            and all(isinstance(c, str) for c in classes.tolist())
            and len(set(classes.tolist())) == len(classes)):
        raise ModelFileError(f"{path}: the model's classifier has no list of 2 or more "
                             f"distinct class names (got {classes!r:.60}); {REMAKE}")
    if sorted(classes.tolist()) != sorted(meta["class_counts"]):
        raise ModelFileError(
            f"{path}: the classifier's {len(classes)} classes ({', '.join(classes[:5])}) are "
            f"not the {len(meta['class_counts'])} of the metadata's class_counts; {REMAKE}")


def check_novelty_scorer(scorer, path: Path, what: str) -> None:
    """A fitted NoveltyScorer with finite numbers."""
    from .novelty import NoveltyScorer

    fitted = isinstance(scorer, NoveltyScorer) and all(
        hasattr(scorer, a) for a in ("threshold_", "reference_", "center_", "scale_"))
    if not fitted:
        raise ModelFileError(f"{path}: the model file's {what} is not a fitted NoveltyScorer; "
                             "retrain it with `poseclf train`.")
    ref = scorer.reference_
    if not (_is_number(scorer.threshold_) and scorer.threshold_ >= 0
            and _is_number(scorer.scale_) and scorer.scale_ > 0
            and isinstance(ref, np.ndarray) and ref.ndim == 2 and len(ref) >= 1
            and np.isfinite(ref).all() and np.isfinite(scorer.center_).all()):
        raise ModelFileError(
            f"{path}: the model file's {what} has a threshold, scale or reference poses that "
            f"are not finite numbers (threshold {scorer.threshold_!r}); {REMAKE}")
    negatives = getattr(scorer, "negative_reference_", None)  # files from before: none
    ratio = getattr(scorer, "negative_ratio_", float("inf"))
    if negatives is not None and not (
            isinstance(negatives, np.ndarray) and negatives.ndim == 2 and len(negatives) >= 1
            and negatives.shape[1] == ref.shape[1] and np.isfinite(negatives).all()
            and _is_number(ratio) and 0 < ratio < float("inf")):
        raise ModelFileError(
            f"{path}: the model file's {what} has negative poses or a negative ratio that are "
            f"not finite numbers of the reference's shape (ratio {ratio!r}); {REMAKE}")
    columns, signs = (getattr(scorer, "mirror_columns_", None),
                      getattr(scorer, "mirror_signs_", None))  # files from before: none
    if columns is not None and not (
            isinstance(columns, np.ndarray) and columns.shape == (ref.shape[1],)
            and columns.dtype.kind in "iu" and (columns >= 0).all()
            and (columns < ref.shape[1]).all() and isinstance(signs, np.ndarray)
            and signs.shape == columns.shape and np.isin(signs, (-1, 1)).all()):
        raise ModelFileError(f"{path}: the model file's {what} has a mirror column map that "
                             f"does not fit its reference poses; {REMAKE}")
    floor = getattr(scorer, "min_confidence_", 0.0)  # files from before: none
    if not (_is_number(floor) and 0 <= floor <= 1):
        raise ModelFileError(f"{path}: the model file's {what} has a confidence floor "
                             f"{floor!r} that is not a probability; {REMAKE}")
    thresholds = getattr(scorer, "class_thresholds_", None)
    if thresholds is not None:
        classes, labels = getattr(scorer, "classes_", None), getattr(
            scorer, "reference_labels_", None)
        coded = isinstance(labels, np.ndarray) and labels.dtype.kind in "iu"  # names before
        if not (isinstance(thresholds, np.ndarray) and isinstance(classes, np.ndarray)
                and isinstance(labels, np.ndarray) and thresholds.shape == classes.shape
                and np.isfinite(thresholds).all() and len(labels) == len(ref)
                and set(np.unique(labels).tolist()) == set(
                    range(len(classes)) if coded else classes.tolist())):
            raise ModelFileError(
                f"{path}: the model file's {what} has per-class thresholds that do not match "
                f"its classes or reference poses; {REMAKE}")


def probe_poses() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two standing people (landmarks, image sizes, world landmarks; the second has none)."""
    xy = {  # a person facing the camera, image coordinates in [0, 1]
        0: (0.50, 0.12), 1: (0.51, 0.10), 2: (0.52, 0.10), 3: (0.53, 0.10), 4: (0.49, 0.10),
        5: (0.48, 0.10), 6: (0.47, 0.10), 7: (0.55, 0.11), 8: (0.45, 0.11), 9: (0.52, 0.14),
        10: (0.48, 0.14), 11: (0.58, 0.25), 12: (0.42, 0.25), 13: (0.61, 0.38), 14: (0.39, 0.38),
        15: (0.62, 0.50), 16: (0.38, 0.50), 17: (0.63, 0.53), 18: (0.37, 0.53),
        19: (0.62, 0.54), 20: (0.38, 0.54), 21: (0.61, 0.52), 22: (0.39, 0.52),
        23: (0.55, 0.52), 24: (0.45, 0.52), 25: (0.55, 0.70), 26: (0.45, 0.70),
        27: (0.55, 0.88), 28: (0.45, 0.88), 29: (0.55, 0.90), 30: (0.45, 0.90),
        31: (0.56, 0.92), 32: (0.44, 0.92),
    }
    lm = np.zeros((2, 33, 4), np.float32)
    for i, (x, y) in xy.items():
        lm[:, i] = (x, y, 0.0, 1.0)
    world = np.full((2, 33, 3), np.nan)
    world[0, :, 0] = lm[0, :, 0] - 0.5
    world[0, :, 1] = (lm[0, :, 1] - 0.52) * 1.7
    world[0, :, 2] = 0.0
    return lm, np.tile([480.0, 640.0], (2, 1)), world


def check_predicts(model, path: Path) -> None:
    """One prediction on made-up poses: a model that loads can classify (else it is damaged)."""
    lm, sizes, world = probe_poses()
    try:
        with warnings.catch_warnings():  # the second probe pose has no world landmarks
            warnings.simplefilter("ignore", MissingWorldLandmarksWarning)
            result = model.predict_with_scores(lm, sizes, world_landmarks=world)
        ok = (result.proba.shape == (2, len(model.classes_)) and np.isfinite(result.proba).all()
              and (not model.can_reject or np.isfinite(result.novelty).all()))
        problem = "" if ok else "its probabilities or novelty scores are not finite numbers"
    except Exception as err:  # noqa: BLE001 - any failure means inconsistent parts
        problem = f"{type(err).__name__}: {_reason(err)}"
    if problem:
        raise ModelFileError(f"{path}: the model's parts do not fit together: it cannot "
                             f"classify a pose ({problem[:200]}); {REMAKE}")
