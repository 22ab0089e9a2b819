"""The ``partial`` rule: is enough of a pose in the picture to classify it?

A pose is ``partial`` when too many of the body joints the embedding depends on (shoulders,
elbows, wrists, hips, knees, ankles) are missing on both sides. :func:`fit_visibility` learns the
rule from the training poses (what ``poseclf train`` does): a landmark is missing when BlazePose
places it out of the picture (low visibility alone does not count: the far arm of a side view is
placed well but given a low visibility), only the joints that every class has in the picture
count, and the number tolerated is calibrated by cross-validation. :class:`VisibilityCheck`
also keeps the older rule (``rule="visible"``) of model files made before it.

Imports: NumPy, scikit-learn's fold splitter, :mod:`poseclf.pose.landmarks` and the calibration
constants of :mod:`poseclf.classify.novelty`; its defaults are in
:mod:`poseclf.classify.defaults` (the command line shows them).
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedKFold

from ..pose.landmarks import PoseLandmark
from .defaults import PARTIAL_MAX_HIDDEN_JOINTS, PARTIAL_MIN_VISIBILITY, VISIBILITY_RULES
from .novelty import CALIBRATION_RANDOM_STATE, DEFAULT_CALIBRATION_CV, DEFAULT_PERCENTILE

#: Tolerance, in image widths/heights, for a landmark just outside the image to count as inside.
PARTIAL_FRAME_MARGIN = 0.0

#: Joints whose landmarks the embedding depends on, as (left, right) landmark pairs.
KEY_JOINTS: dict[str, tuple[int, int]] = {
    "shoulders": (PoseLandmark.LEFT_SHOULDER, PoseLandmark.RIGHT_SHOULDER),
    "elbows": (PoseLandmark.LEFT_ELBOW, PoseLandmark.RIGHT_ELBOW),
    "wrists": (PoseLandmark.LEFT_WRIST, PoseLandmark.RIGHT_WRIST),
    "hips": (PoseLandmark.LEFT_HIP, PoseLandmark.RIGHT_HIP),
    "knees": (PoseLandmark.LEFT_KNEE, PoseLandmark.RIGHT_KNEE),
    "ankles": (PoseLandmark.LEFT_ANKLE, PoseLandmark.RIGHT_ANKLE),
}

_KEY_JOINT_INDEX = np.asarray(list(KEY_JOINTS.values()))  # (6, 2), built once
#: A joint counts for a model when it is inside the picture in this share of every class's
#: training poses.
REQUIRED_SHARE = 0.9


class VisibilityCheck:
    """Which poses have too few of their key joints visible to be classified (``partial``).

    Parameters
    ----------
    min_visibility : float, default=0.3
        BlazePose visibility below which a landmark is not seen (rule ``"visible"`` only).
    max_hidden_joints : int, default=1
        Hidden joints of :data:`KEY_JOINTS` (0-6) tolerated; one more makes the pose partial.
    frame_margin : float, default=0.0
        A landmark up to this far outside the image (in image widths/heights) counts as inside.
    rule : {"visible", "placed"}, default="visible"
        ``"visible"``: a landmark is seen when inside the image and visible; ``"placed"``: when
        inside the image, whatever its visibility (BlazePose places the far arm of a side view
        well but gives it a low visibility; a joint out of the picture is not placed).
        :func:`fit_visibility` (what training uses) chooses ``"placed"``; ``"visible"`` is the
        rule of model files from before it.
    required : list of str, optional
        The joints of :data:`KEY_JOINTS` that count (None: all six); learned from the
        training poses by :func:`fit_visibility`.

    Examples
    --------
    >>> import numpy as np
    >>> lm = np.full((1, 33, 4), 0.5, np.float32); lm[..., 3] = 1.0
    >>> check = VisibilityCheck()
    >>> check.is_partial(lm).tolist()
    [False]
    >>> lm[0, 25:29, 1] = 1.3  # knees and ankles below the image
    >>> check.hidden_joints(lm)[0], check.is_partial(lm).tolist()
    (['knees', 'ankles'], [True])
    """

    def __init__(self, min_visibility: float = PARTIAL_MIN_VISIBILITY,
                 max_hidden_joints: int = PARTIAL_MAX_HIDDEN_JOINTS,
                 frame_margin: float = PARTIAL_FRAME_MARGIN, *, rule: str = "visible",
                 required=None):
        if not 0.0 <= min_visibility <= 1.0:
            raise ValueError(f"min_visibility must be in [0, 1], got {min_visibility!r}")
        if int(max_hidden_joints) != max_hidden_joints or not 0 <= max_hidden_joints <= 6:
            raise ValueError(f"max_hidden_joints must be an integer in 0..6, got "
                             f"{max_hidden_joints!r}")
        if not frame_margin >= 0:
            raise ValueError(f"frame_margin must be >= 0, got {frame_margin!r}")
        if rule not in VISIBILITY_RULES:
            raise ValueError(f"rule must be one of {', '.join(VISIBILITY_RULES)}, got {rule!r}")
        names = list(KEY_JOINTS)
        if required is not None:
            required = [str(j) for j in required]
            unknown = sorted(set(required) - set(names))
            if unknown:
                raise ValueError(f"required joints must be among {', '.join(names)}, got "
                                 f"{', '.join(unknown)}")
        self.min_visibility = float(min_visibility)
        self.max_hidden_joints = int(max_hidden_joints)
        self.frame_margin = float(frame_margin)
        self.rule = rule
        self.required = required
        self._counted = np.array([required is None or n in required for n in names])

    def get_params(self) -> dict:
        """The settings as a plain dict (saved in model files)."""
        return {"min_visibility": self.min_visibility,
                "max_hidden_joints": self.max_hidden_joints,
                "frame_margin": self.frame_margin, "rule": self.rule,
                "required": None if self.required is None else list(self.required)}

    def hidden_mask(self, landmarks) -> np.ndarray:
        """``(n, 6)`` bool: counted joint (in :data:`KEY_JOINTS` order) seen on neither side."""
        lm = np.asarray(landmarks, dtype=np.float32)
        if lm.ndim == 2:
            lm = lm[None]
        if lm.ndim != 3 or lm.shape[1:] != (33, 4):
            raise ValueError(f"landmarks must have shape (n, 33, 4), got {np.shape(landmarks)}")
        pts = lm[:, _KEY_JOINT_INDEX]  # (n, 6, 2, 4)
        lo, hi = -self.frame_margin, 1.0 + self.frame_margin
        xy = pts[..., :2]
        inside = ((xy >= lo) & (xy <= hi)).all(axis=-1)
        seen = inside if self.rule == "placed" else (pts[..., 3] >= self.min_visibility) & inside
        return ~seen.any(axis=-1) & self._counted

    def hidden_joints(self, landmarks) -> list[list[str]]:
        """Names of the hidden joints of each pose."""
        names = list(KEY_JOINTS)
        return [[names[j] for j in np.flatnonzero(row)] for row in self.hidden_mask(landmarks)]

    def is_partial(self, landmarks) -> np.ndarray:
        """``(n,)`` bool: more than ``max_hidden_joints`` joints hidden."""
        return self.hidden_mask(landmarks).sum(axis=1) > self.max_hidden_joints

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"VisibilityCheck({params})"


def fit_visibility(landmarks, labels, params: dict | None = None, *,
                   cv: int = DEFAULT_CALIBRATION_CV,
                   random_state: int = CALIBRATION_RANDOM_STATE) -> VisibilityCheck:
    """The ``partial`` rule learned from training poses ``(n, 33, 4)`` and their labels.

    Rule ``"placed"`` (see :class:`VisibilityCheck`); the joints that count are those inside
    the picture in at least :data:`REQUIRED_SHARE` of the poses of every class (a model of
    people at a desk, whose legs are out of the picture, does not need the legs). The number of
    hidden joints tolerated is calibrated by stratified K-fold cross-validation like the
    novelty threshold: the joints learned on the other folds, the largest count of hidden
    joints among the held-out poses once the top (100 - ``percentile``) % are set aside, and
    never fewer than ``max_hidden_joints`` of ``params``.
    """
    params = {"rule": "placed", **(params or {})}
    labels = np.asarray(labels)
    landmarks = np.asarray(landmarks, dtype=np.float32)
    percentile = float(params.pop("percentile", DEFAULT_PERCENTILE))
    base = VisibilityCheck(**params)
    _, counts = np.unique(labels, return_counts=True)
    folds = min(int(cv), int(counts.min()))
    held = np.zeros(len(labels), dtype=int)
    if folds >= 2:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=random_state)
        for train, test in splitter.split(landmarks, labels):
            check = _with_required(base, landmarks[train], labels[train])
            held[test] = check.hidden_mask(landmarks[test]).sum(axis=1)
    tolerated = max(base.max_hidden_joints, int(np.ceil(np.percentile(held, percentile))))
    return _with_required(base, landmarks, labels, max_hidden_joints=min(tolerated, 6))


def _with_required(base: VisibilityCheck, landmarks, labels, **changes) -> VisibilityCheck:
    """``base`` with the joints inside the picture in REQUIRED_SHARE of every class's poses."""
    inside = VisibilityCheck(**{**base.get_params(), "required": None}).hidden_mask(landmarks)
    share = np.min([1.0 - inside[labels == c].mean(axis=0) for c in np.unique(labels)], axis=0)
    required = [name for name, s in zip(KEY_JOINTS, share, strict=True) if s >= REQUIRED_SHARE]
    return VisibilityCheck(**{**base.get_params(), "required": required, **changes})
