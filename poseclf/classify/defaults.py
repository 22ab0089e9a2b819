"""The classifier names and rejection defaults that ``poseclf --help`` shows.

This module imports nothing, so that the command line builds its help without loading
scikit-learn (about 1.4 s). The modules that use these values import them from here:
:mod:`~poseclf.classify.classifiers` (:data:`CLASSIFIERS`), :mod:`~poseclf.classify.novelty`
(:data:`DEFAULT_PERCENTILE`) and :mod:`~poseclf.classify.visibility` (the ``partial`` rule).
"""

from __future__ import annotations

#: Names accepted by :func:`~poseclf.classify.classifiers.make_classifier` (and
#: ``--classifier``), in the order the help lists them; ``tests/test_startup.py`` checks that
#: each has a builder.
CLASSIFIERS: tuple[str, ...] = ("knn", "svm", "logreg", "mlp")
#: What ``poseclf train`` and :meth:`~poseclf.classify.model.PoseModel.train` fit unless told
#: otherwise: a small neural network (one hidden layer of 64, L2 penalty 1) on yaw-normalised 3D
#: features (``--world-features only``). Chosen on bench/accuracy.py's leave-one-source-out
#: figures (photos of one source scored on another's): mean 98.1%, lowest pair 93.1% (sit/stand
#: stock photos from the other sit/stand source), against the k-NN on the same features, the
#: default before, 96.0% and 87.3%; push-up photos -> video frames 100% (k-NN 93.5%).
DEFAULT_CLASSIFIER = "mlp"
DEFAULT_WORLD_FEATURES = "only"

#: Poses a model trains on at most (``poseclf train --max-poses``; see
#: :mod:`poseclf.classify.subsample`); bench/scale.py measures it.
DEFAULT_MAX_POSES = 5000
#: The bound where a classifier needs another: the k-NN (and the novelty score) search every
#: reference per pose, so it keeps 2,000 (bench/scale.py, a 10k-pose table scored on other
#: sources' photos: the same accuracy as every pose, 92.5%, and 1.5 ms per pose instead of 2.3).
MAX_POSES_BY_CLASSIFIER: dict[str, int] = {"knn": 2000}


def default_max_poses(classifier: str) -> int:
    """The training-set bound ``poseclf train`` uses for ``classifier`` unless told."""
    return MAX_POSES_BY_CLASSIFIER.get(classifier, DEFAULT_MAX_POSES)

DEFAULT_PERCENTILE = 99.0  # of held-out in-class novelty scores: ~1% of known poses rejected

#: BlazePose visibility below which a landmark counts as not seen. 0.3 (not MediaPipe's drawing
#: threshold 0.5): see the notes of :mod:`poseclf.classify.visibility`.
PARTIAL_MIN_VISIBILITY = 0.3
#: Joints (of the 6 in :data:`~poseclf.classify.visibility.KEY_JOINTS`) that may be hidden
#: before a pose is partial: one (e.g. feet cut off) is tolerated, two (knees and ankles: a
#: photo cut at the waist) are not.
PARTIAL_MAX_HIDDEN_JOINTS = 1
#: The rules of :class:`~poseclf.classify.visibility.VisibilityCheck`: ``visible`` (low
#: visibility counts as missing) or ``placed`` (only a landmark placed out of the picture).
VISIBILITY_RULES: tuple[str, ...] = ("visible", "placed")

#: ``PoseEmbedder(world=...)`` (``--world-features``): picture features, 3D (world landmark)
#: features, or both (:mod:`~poseclf.classify.world_embedding`).
WORLD_MODES: tuple[str, ...] = ("off", "only", "concat")
#: Largest synthetic view angle, degrees (``--views``, ``--view-pitch``; see
#: :mod:`~poseclf.classify.views`): beyond it the back of the pose would face the camera.
MAX_VIEW_ANGLE = 90.0
