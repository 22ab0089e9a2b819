"""Pose embedding: BlazePose landmark stacks to fixed-length, scale- and position-free features.

The steps follow the MediaPipe pose-classification method (``FullBodyPoseEmbedder`` of its
colab), with aspect-correct coordinates added:

1. pixels: ``(x * width, y * height, z * width)`` (MediaPipe's z is on the scale of x);
2. centre on the hip midpoint;
3. divide by the pose size ``max(2.5 * torso, farthest landmark from the centre)`` measured in
   x, y (the guard keeps a stretched-out body from getting huge features);
4. difference vectors between landmark pairs (the 23 of MediaPipe, or all body pairs), z scaled
   down (BlazePose depth is its least reliable axis), optionally joint angles.

Input is one ``X``, either a ``(n, 33, 4)`` stack (square images assumed) or a ``(n, 134)`` matrix
from :func:`pose_matrix` (132 flattened landmarks, then image width and height). With
``world="only"`` or ``"concat"`` the features come (also) from the 3D world landmarks of pose rows
``(n, 233)`` (:mod:`poseclf.classify.world_embedding`: yaw-normalised, so the hips face the camera).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from ..pose.landmarks import LANDMARK_DIMS, LANDMARK_NAMES, MIRROR_PERMUTATION, N_LANDMARKS
from .defaults import WORLD_MODES
from .world_embedding import world_features

TORSO_SIZE_MULTIPLIER = 2.5  # MediaPipe pose classification: size = max(2.5 x torso, farthest)
Z_WEIGHT = 0.2  # MediaPipe pose classification's axes_weights = (1.0, 1.0, 0.2)
ANGLE_WEIGHT = 0.5  # angle features are angle / pi in [0, 1]; weight relative to distances
DIRECTION_WEIGHT = 0.5  # unit limb vectors (components in [-1, 1]); weight relative to distances
SIZE_EPS = 1e-6  # px: below this the pose has no size (all landmarks equal); avoids 0 / 0
N_FLAT = N_LANDMARKS * LANDMARK_DIMS  # 132 flattened landmark values
N_MATRIX = N_FLAT + 2  # + image width and height (pixels)
N_ROWS = N_MATRIX + N_LANDMARKS * 3  # pose rows: + world landmarks (pose_rows.pose_rows)
PAIR_SETS = ("mediapipe", "all")

_I = {name: i for i, name in enumerate(LANDMARK_NAMES)}
_HIPS = (_I["left_hip"], _I["right_hip"])
_SHOULDERS = (_I["left_shoulder"], _I["right_shoulder"])
HIP_CENTER = N_LANDMARKS  # virtual landmark index: hip midpoint
SHOULDER_CENTER = N_LANDMARKS + 1  # virtual landmark index: shoulder midpoint
#: The ends of the hip and shoulder lines: both midpoints in one operation.
_LEFT_ENDS = np.array([_HIPS[0], _SHOULDERS[0]])
_RIGHT_ENDS = np.array([_HIPS[1], _SHOULDERS[1]])


def _pairs(*names: tuple[str, str]) -> tuple[tuple[int, int], ...]:
    return tuple((_I[a], _I[b]) for a, b in names)


#: The 23 landmark pairs of MediaPipe's pose-classification embedding (``to - from``).
#: MediaPipe lists hip->wrist twice (as "four joints" and "five joints"); kept for parity.
MEDIAPIPE_PAIRS: tuple[tuple[int, int], ...] = ((HIP_CENTER, SHOULDER_CENTER),) + _pairs(
    ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
    ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"), ("right_hip", "right_knee"),
    ("left_knee", "left_ankle"), ("right_knee", "right_ankle"),
    ("left_shoulder", "left_wrist"), ("right_shoulder", "right_wrist"),
    ("left_hip", "left_ankle"), ("right_hip", "right_ankle"),
    ("left_hip", "left_wrist"), ("right_hip", "right_wrist"),
    ("left_shoulder", "left_ankle"), ("right_shoulder", "right_ankle"),
    ("left_hip", "left_wrist"), ("right_hip", "right_wrist"),
    ("left_elbow", "right_elbow"), ("left_knee", "right_knee"),
    ("left_wrist", "right_wrist"), ("left_ankle", "right_ankle"),
)  # fmt: skip

#: Body landmarks used by ``pairs="all"`` (face and hand points are noisy and redundant).
BODY_LANDMARKS: tuple[int, ...] = tuple(_I[n] for n in (
    "nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
))  # fmt: skip
ALL_PAIRS: tuple[tuple[int, int], ...] = tuple(combinations(BODY_LANDMARKS, 2))

#: Joint angles (a, vertex, b): elbows, shoulders, hips, knees, left then right.
ANGLE_TRIPLES: tuple[tuple[int, int, int], ...] = tuple(
    (_I[a], _I[v], _I[b]) for a, v, b in (
        ("left_shoulder", "left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow", "right_wrist"),
        ("left_elbow", "left_shoulder", "left_hip"),
        ("right_elbow", "right_shoulder", "right_hip"),
        ("left_shoulder", "left_hip", "left_knee"),
        ("right_shoulder", "right_hip", "right_knee"),
        ("left_hip", "left_knee", "left_ankle"),
        ("right_hip", "right_knee", "right_ankle"),
    )
)  # fmt: skip

#: Body segments whose unit direction ``directions=True`` adds: torso axis, shoulder and hip
#: lines, upper arms, forearms, thighs, shins, feet, neck. Directions do not depend on limb
#: lengths or body proportions (which vary between people, cameras and image stretching).
DIRECTION_PAIRS: tuple[tuple[int, int], ...] = ((HIP_CENTER, SHOULDER_CENTER),) + _pairs(
    ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
    ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
    ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"), ("right_hip", "right_knee"),
    ("left_knee", "left_ankle"), ("right_knee", "right_ankle"),
    ("left_heel", "left_foot_index"), ("right_heel", "right_foot_index"),
) + ((SHOULDER_CENTER, _I["nose"]),)  # fmt: skip

#: Index arrays of the pair and triple sets (built once: converting per call cost ~5 us).
_PAIR_INDEX = {"mediapipe": np.asarray(MEDIAPIPE_PAIRS), "all": np.asarray(ALL_PAIRS)}
_ANGLE_INDEX = np.asarray(ANGLE_TRIPLES)
_DIRECTION_INDEX = np.asarray(DIRECTION_PAIRS)

#: Mirror permutation extended to the two virtual centre points (which map to themselves).
_MIRROR = np.asarray(MIRROR_PERMUTATION + (HIP_CENTER, SHOULDER_CENTER))


def pose_matrix(landmarks: np.ndarray, image_sizes: np.ndarray | None = None) -> np.ndarray:
    """One ``(n, 134)`` float32 matrix: 132 flattened landmarks, then image width and height.

    Parameters
    ----------
    landmarks : array of shape (n, 33, 4) or (33, 4)
        BlazePose image landmarks (x, y normalised to the image, z, visibility).
    image_sizes : array of shape (n, 2) or (2,), default=None
        Image (width, height) in pixels; ``None`` means square images (1, 1).
    """
    lm = np.asarray(landmarks, dtype=np.float32)
    if lm.ndim == 2:
        lm = lm[None]
    if lm.ndim != 3 or lm.shape[1:] != (N_LANDMARKS, LANDMARK_DIMS):
        raise ValueError(
            f"landmarks must have shape (n, {N_LANDMARKS}, {LANDMARK_DIMS}), got {lm.shape}"
        )
    if image_sizes is None:
        sizes = np.ones((len(lm), 2), np.float32)
    else:
        sizes = np.asarray(image_sizes, dtype=np.float32).reshape(-1, 2)
        if len(sizes) != len(lm):
            raise ValueError(f"{len(lm)} landmark sets but {len(sizes)} image sizes")
    return np.concatenate([lm.reshape(len(lm), N_FLAT), sizes], axis=1)


def mirror_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks of the horizontally flipped images: left and right swapped, ``x -> 1 - x``."""
    lm = np.asarray(landmarks)[..., list(MIRROR_PERMUTATION), :].copy()
    lm[..., 0] = 1.0 - lm[..., 0]
    return lm


def mirror_world_landmarks(world: np.ndarray) -> np.ndarray:
    """World landmarks of the horizontally flipped image: left and right swapped, ``x -> -x``."""
    out = np.asarray(world)[..., list(MIRROR_PERMUTATION), :].copy()
    out[..., 0] = -out[..., 0]
    return out


def vector_lengths(d: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(d, axis=-1, keepdims=True)`` of real vectors: the same arithmetic
    (the square root of the sum of squares) without its ~10 us of checks."""
    return np.sqrt((d * d).sum(axis=-1, keepdims=True))


def world_directions(world: np.ndarray) -> np.ndarray:
    """Unit 3D directions of the :data:`DIRECTION_PAIRS` body segments from BlazePose world
    landmarks ``(n, 33, 3)`` (metres, hip-centred): ``(n, 3 * len(DIRECTION_PAIRS))``.

    Unlike image landmarks, whose depth is BlazePose's least reliable axis, the world
    landmarks are a metric 3D estimate: a push-up filmed from the front has a torso that points
    up in the picture but away from the camera in 3D. Rows with missing (NaN) landmarks give NaN.
    """
    w = np.asarray(world, dtype=np.float64)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3 or w.shape[1:] != (N_LANDMARKS, 3):
        raise ValueError(f"world landmarks must have shape (n, {N_LANDMARKS}, 3), got {w.shape}")
    pts = np.empty((len(w), N_LANDMARKS + 2, 3))
    pts[:, :N_LANDMARKS] = w
    pts[:, HIP_CENTER:] = (w[:, _LEFT_ENDS] + w[:, _RIGHT_ENDS]) / 2  # hip, shoulder midpoints
    seg = _DIRECTION_INDEX
    d = pts[:, seg[:, 1]] - pts[:, seg[:, 0]]
    length = np.maximum(vector_lengths(d), SIZE_EPS)
    return (d / length).reshape(len(w), -1)


def float_matrix(X) -> np.ndarray:
    """``X`` as a finite 2-D float array: :func:`~sklearn.utils.validation.check_array`
    (float64) with a fast path for what prediction nearly always gets, a finite float ndarray.

    ``check_array`` costs ~50 us a call, more than embedding one pose.
    """
    if (isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind == "f"
            and X.shape[0] >= 1 and X.shape[1] >= 1 and np.isfinite(X).all()):
        return X
    return check_array(X, dtype=np.float64, ensure_min_samples=1)


def _split_input(X) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 33, 4)`` landmarks and ``(n, 2)`` sizes from any accepted form of ``X``."""
    arr = np.asarray(X) if not hasattr(X, "to_numpy") else X.to_numpy()
    if arr.ndim == 3:
        if arr.shape[1:] != (N_LANDMARKS, LANDMARK_DIMS):
            raise ValueError(
                f"X must have shape (n, {N_LANDMARKS}, {LANDMARK_DIMS}) or (n, {N_MATRIX}), "
                f"got {arr.shape}"
            )
        arr = pose_matrix(arr)
    arr = float_matrix(arr).astype(np.float64, copy=False)
    if arr.shape[1] != N_MATRIX:
        raise ValueError(
            f"X must have shape (n, {N_LANDMARKS}, {LANDMARK_DIMS}) or (n, {N_MATRIX}) "
            f"(pose_matrix: 132 landmark values + width, height), got {arr.shape}"
        )
    sizes = arr[:, N_FLAT:]
    if (sizes <= 0).any():
        raise ValueError("image sizes (last two columns of X) must be positive pixels")
    return arr[:, :N_FLAT].reshape(-1, N_LANDMARKS, LANDMARK_DIMS), sizes


def normalized_points(X, torso_size_multiplier: float = TORSO_SIZE_MULTIPLIER) -> np.ndarray:
    """Aspect-correct, hip-centred, size-normalised points ``(n, 35, 3)``.

    Rows 33 and 34 are the virtual hip and shoulder midpoints.
    """
    lm, sizes = _split_input(X)
    # written with plain element-wise operations in one buffer (the same arithmetic as mean and
    # norm over 2 values): about 3x faster for a single pose than stack/concatenate/linalg.norm
    pts = np.empty((len(lm), N_LANDMARKS + 2, 3))
    np.multiply(lm[:, :, :3], sizes[:, None, [0, 1, 0]], out=pts[:, :N_LANDMARKS])
    pts[:, HIP_CENTER:] = (pts[:, _LEFT_ENDS] + pts[:, _RIGHT_ENDS]) / 2  # the midpoints
    pts -= pts[:, HIP_CENTER][:, None]
    # MediaPipe measures the size in x, y only (z is the least reliable axis).
    radius = np.sqrt(pts[:, :, 0] * pts[:, :, 0] + pts[:, :, 1] * pts[:, :, 1])
    size = np.maximum(np.maximum(radius[:, SHOULDER_CENTER] * torso_size_multiplier,
                                 radius.max(axis=1)), SIZE_EPS)
    pts /= size[:, None, None]
    return pts


class PoseEmbedder(TransformerMixin, BaseEstimator):
    """Landmarks to a normalised pose embedding (MediaPipe pose-classification method).

    Parameters
    ----------
    pairs : {"mediapipe", "all"}, default="mediapipe"
        ``"mediapipe"``: the 23 difference vectors of MediaPipe's pose classifier;
        ``"all"``: every pair of the 17 body landmarks (136 vectors).
    angles : bool, default=False
        Append 8 joint angles (elbows, shoulders, hips, knees) as ``angle / pi * angle_weight``.
    z_weight : float, default=0.2
        Factor on z features (MediaPipe's axes weight); 0 drops depth's influence entirely.
    torso_size_multiplier : float, default=2.5
        Pose size is ``max(torso * multiplier, farthest landmark from the hip centre)``.
    angle_weight : float, default=0.5
        Scale of the angle features relative to the distance features.
    directions : bool, default=False
        Append the unit direction vectors of 14 body segments (:data:`DIRECTION_PAIRS`), times
        ``direction_weight``: independent of limb lengths and body proportions.
    direction_weight : float, default=0.5
        Scale of the direction features relative to the distance features.
    world : {"off", "only", "concat"}, default="off"
        ``"off"``: picture landmarks only; ``"only"``: the pairs (and angles) from the
        yaw-normalised 3D world landmarks instead
        (:func:`~poseclf.classify.world_embedding.world_features`); ``"concat"``: the picture
        embedding, then those. With world features the input is pose rows ``(n, 233)``
        (:func:`~poseclf.classify.pose_rows.pose_rows`); a row without world landmarks (NaN, or
        a ``(n, 134)`` input) uses its picture landmarks as its 3D points.

    Attributes
    ----------
    n_features_in_ : int
        134 (:func:`pose_matrix` columns), 233 (pose rows) with world features.
    n_features_out_ : int
        Length of the embedding.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((2, 33, 4))
    >>> PoseEmbedder().fit_transform(X).shape
    (2, 69)
    """

    def __init__(
        self,
        pairs: str = "mediapipe",
        *,
        angles: bool = False,
        z_weight: float = Z_WEIGHT,
        torso_size_multiplier: float = TORSO_SIZE_MULTIPLIER,
        angle_weight: float = ANGLE_WEIGHT,
        directions: bool = False,
        direction_weight: float = DIRECTION_WEIGHT,
        world: str = "off",
    ):
        self.pairs = pairs
        self.angles = angles
        self.z_weight = z_weight
        self.torso_size_multiplier = torso_size_multiplier
        self.angle_weight = angle_weight
        self.directions = directions
        self.direction_weight = direction_weight
        self.world = world

    def __setstate__(self, state):
        state.setdefault("world", "off")  # model files saved before the option existed
        super().__setstate__(state)

    def _pair_list(self) -> tuple[tuple[int, int], ...]:
        return MEDIAPIPE_PAIRS if self.pairs == "mediapipe" else ALL_PAIRS

    def fit(self, X, y=None):
        """Check the parameters and the shape of ``X``; nothing is learned."""
        if self.pairs not in PAIR_SETS:
            raise ValueError(f"pairs must be one of {PAIR_SETS}, got {self.pairs!r}")
        if not self.torso_size_multiplier > 0:
            raise ValueError(
                f"torso_size_multiplier must be > 0, got {self.torso_size_multiplier!r}"
            )
        if not self.z_weight >= 0 or not self.angle_weight >= 0 or not self.direction_weight >= 0:
            raise ValueError("z_weight, angle_weight and direction_weight must be >= 0")
        if self.world not in WORLD_MODES:
            raise ValueError(f"world must be one of {WORLD_MODES}, got {self.world!r}")
        _split_input(self._image_input(X))
        self.n_features_in_ = N_MATRIX if self.world == "off" else N_ROWS
        image = (
            3 * len(self._pair_list())
            + (len(ANGLE_TRIPLES) if self.angles else 0)
            + (3 * len(DIRECTION_PAIRS) if self._directions else 0)
        )
        world = 3 * len(self._pair_list()) + (len(ANGLE_TRIPLES) if self.angles else 0)
        self.n_features_out_ = {"off": image, "only": world, "concat": image + world}[self.world]
        return self

    def _image_input(self, X):
        """The picture part of ``X`` (pose rows keep their world columns out of it)."""
        if self.world != "off" and getattr(X, "ndim", 0) == 2 and X.shape[1] == N_ROWS:
            return X[:, :N_MATRIX]
        return X

    @property
    def _directions(self) -> bool:
        return getattr(self, "directions", False)  # model files saved before the option existed

    def transform(self, X) -> np.ndarray:
        """Embedding of each pose, float64 ``(n, n_features_out_)``."""
        return self.embed(X)

    def embed(self, X) -> np.ndarray:
        """:meth:`transform` without scikit-learn's ``set_output`` wrapper (which costs ~15 us
        a call, as much as the arithmetic of one pose): always a NumPy array."""
        if not hasattr(self, "n_features_out_"):  # cheaper than check_is_fitted per frame
            check_is_fitted(self)
        if self.world == "off":
            return self._image_features(X)
        image = self._image_input(X)
        lm, sizes = _split_input(image)  # checks the picture part (the world part may be NaN)
        rows = (np.asarray(X, dtype=np.float64) if image is not X
                else np.concatenate([lm.reshape(len(lm), -1), sizes], axis=1))
        world = world_features(rows, _PAIR_INDEX[self.pairs], _ANGLE_INDEX if self.angles
                               else None, self.torso_size_multiplier, self.angle_weight)
        if self.world == "only":
            return world
        return np.concatenate([self._image_features(image), world], axis=1)

    def _image_features(self, X) -> np.ndarray:
        """The picture embedding."""
        pts = normalized_points(X, self.torso_size_multiplier)
        pts[:, :, 2] *= self.z_weight
        pairs = _PAIR_INDEX["mediapipe" if self.pairs == "mediapipe" else "all"]
        diffs = pts[:, pairs[:, 1]] - pts[:, pairs[:, 0]]
        parts = [diffs.reshape(len(pts), -1)]
        if self.angles:
            tri = _ANGLE_INDEX
            u = pts[:, tri[:, 0]] - pts[:, tri[:, 1]]
            v = pts[:, tri[:, 2]] - pts[:, tri[:, 1]]
            # atan2(|u x v|, u . v) is finite for zero-length limbs (gives 0)
            angle = np.arctan2(np.linalg.norm(np.cross(u, v), axis=2), (u * v).sum(axis=2))
            parts.append(angle / np.pi * self.angle_weight)
        if self._directions:
            seg = _DIRECTION_INDEX
            d = pts[:, seg[:, 1]] - pts[:, seg[:, 0]]
            length = np.maximum(vector_lengths(d), SIZE_EPS)
            parts.append((d / length * self.direction_weight).reshape(len(pts), -1))
        return np.concatenate(parts, axis=1)

    def mirror_map(self) -> tuple[np.ndarray, np.ndarray]:
        """``(index, sign)`` with ``embed(mirror(X)) == embed(X)[:, index] * sign``.

        Lets a classifier mirror a query in embedding space (left-right swap of the body).
        """
        check_is_fitted(self)
        pairs = self._pair_list()
        index, sign = _pair_mirror_map(pairs, 0)
        offset = 3 * len(pairs)
        if self.angles:
            for a, v, b in ANGLE_TRIPLES:
                mirrored = (int(_MIRROR[a]), int(_MIRROR[v]), int(_MIRROR[b]))
                index.append(offset + ANGLE_TRIPLES.index(mirrored))
                sign.append(1.0)
            offset += len(ANGLE_TRIPLES)
        if self._directions:
            d_index, d_sign = _pair_mirror_map(DIRECTION_PAIRS, offset)
            index += d_index
            sign += d_sign
        # the world part mirrors like the picture's pairs and angles (mirroring then turning to
        # face the camera equals turning then mirroring), without directions
        n_world = 3 * len(pairs) + (len(ANGLE_TRIPLES) if self.angles else 0)
        if self.world == "only":
            index, sign = index[:n_world], sign[:n_world]
        elif self.world == "concat":
            offset = len(index)
            index += [offset + i for i in index[:n_world]]
            sign += sign[:n_world]
        return np.asarray(index, dtype=np.intp), np.asarray(sign)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names such as ``left_elbow-left_shoulder_x`` and ``angle_left_elbow``."""
        check_is_fitted(self)
        names = list(LANDMARK_NAMES) + ["hip_center", "shoulder_center"]
        out = [f"{names[b]}-{names[a]}_{axis}" for a, b in self._pair_list() for axis in "xyz"]
        if self.angles:
            out += [f"angle_{names[v]}" for _, v, _ in ANGLE_TRIPLES]
        if self._directions:
            out += [f"dir_{names[a]}>{names[b]}_{axis}" for a, b in DIRECTION_PAIRS
                    for axis in "xyz"]
        n_world = 3 * len(self._pair_list()) + (len(ANGLE_TRIPLES) if self.angles else 0)
        world = [f"world_{name}" for name in out[:n_world]]
        out = {"off": out, "only": world, "concat": out + world}[self.world]
        return np.asarray(out, dtype=object)


def _pair_mirror_map(pairs, offset: int) -> tuple[list[int], list[float]]:
    """Mirror map of ``3 * len(pairs)`` vector features (x, y, z per pair) starting at ``offset``.

    The mirror of pair ``(a, b)`` is ``(mirror(a), mirror(b))``, stored either in that order or
    reversed (then the vector changes sign); mirroring also negates x.
    """
    lookup = {p: k for k, p in enumerate(pairs)}
    index, sign = [], []
    axis_sign = (-1.0, 1.0, 1.0)
    for a, b in pairs:
        ma, mb = int(_MIRROR[a]), int(_MIRROR[b])
        k, s = (lookup[(ma, mb)], 1.0) if (ma, mb) in lookup else (lookup[(mb, ma)], -1.0)
        index.extend(offset + 3 * k + i for i in range(3))
        sign.extend(s * a_s for a_s in axis_sign)
    return index, sign
