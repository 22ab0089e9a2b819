"""poseclf: classify human poses from BlazePose keypoints.

The public names below are imported on first use (PEP 562 module ``__getattr__``), so that
``import poseclf`` and ``poseclf --help`` do not pay for scikit-learn, pandas or mediapipe:
``from poseclf import PoseModel`` works as before and imports only what ``PoseModel`` needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time, __getattr__ below
    from .classify.classifiers import CLASSIFIERS, PoseKNNClassifier, make_classifier
    from .classify.embedding import PoseEmbedder, pose_matrix
    from .classify.evaluation import cross_validate_model
    from .classify.model import PoseModel
    from .errors import (
        ImageReadError,
        ModelFileError,
        ModelNotAvailableError,
        PoseclfError,
        TableError,
    )
    from .pose.extraction import PoseExtractor
    from .pose.images import read_image
    from .pose.landmarks import (
        LANDMARK_NAMES,
        MIRROR_PERMUTATION,
        POSE_CONNECTIONS,
        Pose,
        PoseLandmark,
    )
    from .pose.table import load_table, save_table

#: Public name -> the module (relative to this package) that defines it.
_LAZY: dict[str, str] = {
    "CLASSIFIERS": ".classify.classifiers",
    "PoseKNNClassifier": ".classify.classifiers",
    "make_classifier": ".classify.classifiers",
    "PoseEmbedder": ".classify.embedding",
    "pose_matrix": ".classify.embedding",
    "cross_validate_model": ".classify.evaluation",
    "PoseModel": ".classify.model",
    "ImageReadError": ".errors",
    "ModelFileError": ".errors",
    "ModelNotAvailableError": ".errors",
    "PoseclfError": ".errors",
    "TableError": ".errors",
    "PoseExtractor": ".pose.extraction",
    "read_image": ".pose.images",
    "LANDMARK_NAMES": ".pose.landmarks",
    "MIRROR_PERMUTATION": ".pose.landmarks",
    "POSE_CONNECTIONS": ".pose.landmarks",
    "Pose": ".pose.landmarks",
    "PoseLandmark": ".pose.landmarks",
    "load_table": ".pose.table",
    "save_table": ".pose.table",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access and keep the name here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "CLASSIFIERS",
    "PoseEmbedder",
    "PoseKNNClassifier",
    "PoseModel",
    "cross_validate_model",
    "make_classifier",
    "pose_matrix",
    "LANDMARK_NAMES",
    "MIRROR_PERMUTATION",
    "POSE_CONNECTIONS",
    "ImageReadError",
    "ModelFileError",
    "ModelNotAvailableError",
    "Pose",
    "PoseExtractor",
    "PoseLandmark",
    "PoseclfError",
    "TableError",
    "__version__",
    "load_table",
    "read_image",
    "save_table",
]
