"""How well a classifier does: cross-validated reports, and the checks training makes first.

:func:`cross_validate_model` is ``bench/accuracy.py``'s and ``poseclf train``'s protocol
(stratified folds, mirror augmentation only on the training folds, scikit-learn's
``cross_val_predict``); :func:`evaluation_report` turns labels into the figures poseclf prints and
keeps; :func:`check_training_labels` and :func:`small_classes_as_input_error` turn too-small
classes into one line that says the fix.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from ..errors import InputError
from .pose_classifier import PoseClassifier
from .pose_rows import pose_rows

__all__ = ["CV_RANDOM_STATE", "MIN_POSES_PER_CLASS", "check_training_labels",
           "cross_validate_model", "evaluation_report", "small_classes_as_input_error"]

log = logging.getLogger(__name__)

CV_RANDOM_STATE = 0  # fold shuffling seed: same folds every run

def evaluation_report(y_true, y_pred, classes=None) -> dict:
    """Accuracy, macro-F1, n, per-class precision/recall/F1/support and the confusion matrix."""
    y_true = np.asarray(y_true, dtype=object).astype(str)
    y_pred = np.asarray(y_pred, dtype=object).astype(str)
    labels = sorted(set(classes or ()) | set(y_true) | set(y_pred))
    present = sorted(set(y_true))
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return {
        "n": len(y_true),
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else float("nan"),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro",
                                   zero_division=0)),
        "per_class": {
            c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                "support": int(s[i])}
            for i, c in enumerate(labels)
        },
        "labels": labels,
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def cross_validate_model(landmarks, image_sizes, labels, classifier: str = "svm", *,
                         cv: int = 5, mirror: bool = True, embedder_params: dict | None = None,
                         classifier_params: dict | None = None,
                         random_state: int = CV_RANDOM_STATE, world_landmarks=None,
                         views=None, view_pitch: float = 0.0) -> dict:
    """Stratified K-fold evaluation; mirror and view augmentation only on the training folds.

    ``cv`` is lowered to the size of the smallest class (at least 2). Returns
    :func:`evaluation_report` of the out-of-fold predictions plus ``cv`` (folds used).
    """
    landmarks = np.asarray(landmarks, dtype=np.float32)
    labels = np.asarray(labels, dtype=object).astype(str)
    _, counts = np.unique(labels, return_counts=True)
    folds = min(int(cv), int(counts.min()))
    if folds < 2:
        raise ValueError(
            f"cross-validation needs at least 2 samples per class; smallest class has "
            f"{counts.min()}"
        )
    if folds < cv:
        log.warning("cv lowered from %d to %d folds (smallest class has %d samples)",
                    cv, folds, counts.min())
    estimator = PoseClassifier(classifier, classifier_params=classifier_params,
                               embedder_params=embedder_params, mirror=mirror, rejection=False,
                               views=views, view_pitch=view_pitch)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    proba = cross_val_predict(estimator, pose_rows(landmarks, image_sizes, world_landmarks),
                              labels, cv=splitter, method="predict_proba")
    pred = np.unique(labels)[np.argmax(proba, axis=1)]
    report = evaluation_report(labels, pred)
    report["cv"] = folds
    return report


#: Fewest detected poses of a class that training accepts: cross-validation, the SVM's
#: probability calibration and the 'unknown' threshold all hold some poses out.
MIN_POSES_PER_CLASS = 4


def check_training_labels(labels) -> None:
    """Raise :class:`~poseclf.errors.InputError` (a ``ValueError``) unless there are at least
    two classes of at least :data:`MIN_POSES_PER_CLASS` poses each."""
    classes, counts = np.unique(np.asarray(labels, dtype=object).astype(str),
                                return_counts=True)
    if len(classes) < 2:
        found = f"only {classes[0]!r}" if len(classes) else "no pose"
        raise InputError(f"training needs at least 2 classes and the data has {found}: add "
                         "the photos of another class (one sub-folder per class)")
    small = [f"{c!r} ({n})" for c, n in zip(classes, counts, strict=True)
             if n < MIN_POSES_PER_CLASS]
    if small:
        raise InputError(f"every class needs at least {MIN_POSES_PER_CLASS} detected poses to "
                         f"train, cross-validate and calibrate 'unknown'; too few in "
                         f"{', '.join(small)}: add photos of those classes or leave them out")


#: Below this many poses in a class, a scikit-learn error while training means that the
#: folds of cross-validation, calibration or the grid search have too few poses of it.
SMALL_CLASS = 20


@contextlib.contextmanager
def small_classes_as_input_error(labels: np.ndarray):
    """Turn scikit-learn's fold-size errors on small classes into an error that says the fix."""
    try:
        yield
    except ValueError as err:
        if isinstance(err, InputError):
            raise
        classes, counts = np.unique(labels, return_counts=True)
        if counts.min() >= SMALL_CLASS:
            raise
        smallest = classes[np.argmin(counts)]
        raise InputError(
            f"too few poses per class for these settings (smallest class {smallest!r} has "
            f"{counts.min()}; scikit-learn: {err}): add photos, or try another --cv, "
            "no --search, or keep the mirror augmentation") from err
