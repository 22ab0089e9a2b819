"""poseclf: classify human poses from BlazePose keypoints."""

from ._version import __version__
from .classify.classifiers import CLASSIFIERS, PoseKNNClassifier, make_classifier
from .classify.embedding import PoseEmbedder, pose_matrix
from .classify.evaluation import cross_validate_model
from .classify.model import PoseModel
from .errors import ImageReadError, ModelFileError, ModelNotAvailableError, PoseclfError, TableError
from .pose.extraction import PoseExtractor
from .pose.images import read_image
from .pose.landmarks import LANDMARK_NAMES, MIRROR_PERMUTATION, POSE_CONNECTIONS, Pose, PoseLandmark
from .pose.table import load_table, save_table

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
