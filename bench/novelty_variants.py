"""Other novelty scores, measured beside the model's own rule by ``bench/rejection_protocols.py
--variants`` (issue 16, item 3: "unseen kinds"), on the same folds and the same models.

Each variant answers ``unknown`` or not for a pose; the whole rule of a variant is that or the
model's ``partial`` (the visibility rule, the same for all). The variants:

* ``current``: the model's own rule (novelty in its features: image embedding, limb directions,
  world limb directions; threshold, negatives' ratio and per-class rules).
* ``world3d``: the same rule (a :class:`NoveltyScorer` with the same negatives) on 3D joint
  positions from the world landmarks, yaw-normalised: rotated about the vertical axis so that
  the hip line lies along x (the person faces the camera), centred on the hips, scaled by the
  torso length (:func:`yaw_normalised_world`).
* ``current+world3d``: the same rule on the model's features and the 3D positions side by side.
* ``class density``: the mean distance to the ``k`` nearest training poses of the predicted
  class (model features, mirror images included), above the 99th percentile of the class's
  held-out (5-fold) scores; no negatives.
* ``LOF``: scikit-learn's ``LocalOutlierFactor(novelty=True)`` on the model's scaled features
  (mirror images included), below the 1st percentile of the held-out (5-fold) scores.

Measured (``python bench/rejection_protocols.py --variants``, SVM, everyday negatives; whole
rule; LOSO: lowest pair accepted; raw: rejected sit/stand mean, yoga manoj / marchenkova;
unseen: rejected manoj / marchenkova, in-class accepted manoj / marchenkova)::

    variant                 LOSO   raw sit/stand  raw yoga     unseen       in-class
    current                 91.5   99.7           99.7 / 84.4  49.2 / 41.1  97.1 / 96.5
    world3d                 96.4   91.5           67.4 / 64.5  71.8 /  7.1  97.7 / 95.3
    current+world3d (1.0)   97.2   97.4           90.4 / 73.0  51.4 /  5.4  97.1 / 96.5
    current+world3d (0.5)   96.1   98.2           99.4 / 73.8  50.3 / 21.4  97.1 / 96.5
    current+world3d (0.3)   93.9   99.1           99.7 / 80.1  49.2 / 33.9  97.1 / 96.5
    class density            0.0    4.0           56.7 / 48.2  58.0 / 33.9  96.6 / 94.1
    LOF                      3.7   64.7           70.5 / 68.1  19.9 / 53.6  98.9 / 95.3

The 3D positions help leave-one-source-out (the push-up video -> photos pair: 91.5 -> 96-99%)
but lose the raw-folder yoga photos and the unseen classes of one source; the class density
without the negatives' floor rejects every photo of another source for a one-video model;
LOF misses most sit/stand people. None is better on all three protocols: the scorer is left as
it is.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import LocalOutlierFactor

from poseclf.classify.embedding import mirror_landmarks, mirror_world_landmarks, pose_matrix
from poseclf.classify.model import PoseModel
from poseclf.classify.nearest import mean_nearest_distance
from poseclf.classify.novelty import NoveltyScorer
from poseclf.pose.landmarks import PoseLandmark as L
from poseclf.pose.poses import Poses

VARIANTS = ("current", "world3d", "current+world3d", "class density", "LOF")
#: Joints whose yaw-normalised 3D positions make the ``world3d`` features.
JOINTS = (L.NOSE, L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_ELBOW, L.RIGHT_ELBOW, L.LEFT_WRIST,
          L.RIGHT_WRIST, L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE,
          L.RIGHT_ANKLE)
WORLD3D_WEIGHT = 1.0  # of the 3D positions beside the model's features (both scaled to RMS 1)
DENSITY_NEIGHBORS = 5
LOF_NEIGHBORS = 20
PERCENTILE = 99.0


def yaw_normalised_world(world: np.ndarray) -> np.ndarray:
    """``(n, 3 * len(JOINTS))``: world landmarks (metres, y down) rotated about the vertical
    axis so that the right-to-left hip line points along +x, centred on the mid-hip, divided by
    the torso length (mid-hip to mid-shoulder)."""
    w = np.asarray(world, dtype=np.float64)
    hips = (w[:, L.LEFT_HIP] + w[:, L.RIGHT_HIP]) / 2
    w = w - hips[:, None]
    line = w[:, L.LEFT_HIP] - w[:, L.RIGHT_HIP]
    angle = np.arctan2(line[:, 2], line[:, 0])  # rotate by -angle about y: line -> +x
    c, s = np.cos(angle), np.sin(angle)
    x, z = w[..., 0], w[..., 2]
    rotated = np.stack([c[:, None] * x + s[:, None] * z, w[..., 1],
                        -s[:, None] * x + c[:, None] * z], axis=-1)
    shoulders = (rotated[:, L.LEFT_SHOULDER] + rotated[:, L.RIGHT_SHOULDER]) / 2
    torso = np.maximum(np.linalg.norm(shoulders, axis=1), 1e-6)
    return (rotated[:, list(JOINTS)] / torso[:, None, None]).reshape(len(w), -1)


def features(model: PoseModel, poses: Poses) -> dict[str, np.ndarray]:
    """The model's novelty features and the 3D positions of poses and of their mirror images."""
    embedder = model.estimator.novelty_features_
    out = {}
    for suffix, lm, world in (("", poses.landmarks, poses.world_landmarks),
                              ("_mirror", mirror_landmarks(poses.landmarks),
                               mirror_world_landmarks(poses.world_landmarks))):
        image = embedder.image_features(pose_matrix(lm, poses.image_sizes))
        out["current" + suffix] = np.concatenate([image, embedder.world_features(world)], axis=1)
        out["world3d" + suffix] = yaw_normalised_world(world)
    return out


def _rms_scaled(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return (a - ref.mean(axis=0)) / (np.sqrt(np.mean(ref.var(axis=0))) or 1.0)


def _combined(f: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``current`` and ``world3d`` side by side, each scaled to RMS 1 on the training poses."""
    out = {}
    for suffix in ("", "_mirror"):
        parts = [_rms_scaled(f[k + suffix], np.concatenate([ref[k], ref[k + "_mirror"]]))
                 for k in ("current", "world3d")]
        out[suffix] = np.concatenate([parts[0], WORLD3D_WEIGHT * parts[1]], axis=1)
    return {"current+world3d": out[""], "current+world3d_mirror": out["_mirror"]}


class Variants:
    """The variants fitted on a model's training poses (and negatives, for those that use
    them)."""

    def __init__(self, model: PoseModel, train: Poses, labels: np.ndarray,
                 negatives: Poses | None):
        self.model = model
        self.train = features(model, train)
        self.train.update(_combined(self.train, self.train))
        neg = None
        if negatives is not None:
            neg = features(model, negatives)
            neg.update(_combined(neg, self.train))
        self.scorers = {}
        for name in ("world3d", "current+world3d"):
            self.scorers[name] = NoveltyScorer().fit(
                self.train[name], labels, self.train[name + "_mirror"],
                None if neg is None else neg[name], None if neg is None else neg[name + "_mirror"])
        self._fit_density(labels)
        self._fit_lof(labels)

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        ref = np.concatenate([self.train["current"], self.train["current_mirror"]])
        return _rms_scaled(X, ref)

    def _fit_density(self, labels: np.ndarray) -> None:
        X, M = self._scaled(self.train["current"]), self._scaled(self.train["current_mirror"])
        held = np.zeros(len(labels))
        for fit, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, labels):
            for c in np.unique(labels[test]):
                ref = fit[labels[fit] == c]
                query = test[labels[test] == c]
                held[query] = mean_nearest_distance(X[query], np.concatenate([X[ref], M[ref]]),
                                                    DENSITY_NEIGHBORS)
        self.density_refs = {c: np.concatenate([X[labels == c], M[labels == c]])
                             for c in np.unique(labels)}
        self.density_thresholds = {c: np.percentile(held[labels == c], PERCENTILE)
                                   for c in np.unique(labels)}

    def _fit_lof(self, labels: np.ndarray) -> None:
        X, M = self._scaled(self.train["current"]), self._scaled(self.train["current_mirror"])
        held = np.zeros(len(labels))
        for fit, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, labels):
            lof = LocalOutlierFactor(LOF_NEIGHBORS, novelty=True).fit(
                np.concatenate([X[fit], M[fit]]))
            held[test] = lof.score_samples(X[test])
        self.lof = LocalOutlierFactor(LOF_NEIGHBORS, novelty=True).fit(np.concatenate([X, M]))
        self.lof_threshold = np.percentile(held, 100 - PERCENTILE)

    def unknown(self, poses: Poses, classes: np.ndarray, current: np.ndarray
                ) -> dict[str, np.ndarray]:
        """``unknown`` flags of each variant for poses whose predicted classes are ``classes``
        (``current``: the model's own flags)."""
        f = features(self.model, poses)
        f.update(_combined(f, self.train))
        out = {"current": current}
        for name, scorer in self.scorers.items():
            novelty = scorer.novelty(f[name])
            out[name] = novelty > scorer.thresholds(f[name], classes, novelty)
        X = self._scaled(f["current"])
        density = np.zeros(len(X), dtype=bool)
        for c in np.unique(classes):
            mine = classes == c
            score = mean_nearest_distance(X[mine], self.density_refs[c], DENSITY_NEIGHBORS)
            density[mine] = score > self.density_thresholds[c]
        out["class density"] = density
        out["LOF"] = self.lof.score_samples(X) < self.lof_threshold
        return out
