"""A model's answer for one frame's pose, as the video loop feeds it to a smoother."""

from __future__ import annotations

import numpy as np

from ..pose.landmarks import NO_PERSON


def classify_pose(model, pose, reject: bool = True) -> tuple[np.ndarray | None, str]:
    """Probabilities (None when there is nothing to classify) and the absent reason.

    A model that answers a label outside its classes (a rejection such as ``"unknown"`` or
    ``"partial"``) is treated like a frame without a person. ``reject=False`` turns rejection off.
    """
    if pose is None:
        return None, NO_PERSON
    label, proba = model.predict_pose(pose, reject=reject)
    if label not in model.classes_:
        return None, str(label)
    return np.asarray(proba, dtype=float), NO_PERSON
