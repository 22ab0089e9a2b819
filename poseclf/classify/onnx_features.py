"""The pose embeddings as ONNX nodes: the same arithmetic as poseclf's NumPy code, in float64.

Each function adds the nodes of one NumPy function to a
:class:`~poseclf.classify.onnx_graph.GraphBuilder` and names its counterpart; the operations
are in the same order, and where a product with a constant matrix stands for several nodes
(midpoints, pair differences, sums of three) its other terms are exact zeros, so the picture
features and the world directions are NumPy's bit for bit (tests/test_export_onnx.py). ONNX
has no ``atan2``: the yaw rotation of :func:`~poseclf.classify.world_embedding.facing_points`
takes its cosine and sine from the normalised hip (or shoulder) line, which is what
``cos(atan2(z, x))`` is, to 1-2 ulps: the 3D features agree within 1e-15.

Imports: NumPy, :mod:`poseclf.classify.onnx_graph` and the constants of the embedding modules.
"""

from __future__ import annotations

import numpy as np

from ..pose.landmarks import N_LANDMARKS
from . import embedding, world_embedding
from .embedding import DIRECTION_PAIRS, HIP_CENTER, SHOULDER_CENTER, PoseEmbedder
from .onnx_graph import BOOL, DOUBLE, GraphBuilder

_L_HIP, _R_HIP = embedding._HIPS
_L_SHOULDER, _R_SHOULDER = embedding._SHOULDERS


def pixel_points(g: GraphBuilder, landmarks: str, sizes: str) -> str:
    """``(n, 33, 3)`` pixels ``(x * width, y * height, z * width)`` of float64 landmarks
    ``(n, 33, 4)`` and sizes ``(n, 2)``."""
    scale = g.op("Unsqueeze", g.take(sizes, [0, 1, 0], axis=1), g.ints(1))
    return g.op("Mul", g.slice(landmarks, 0, 3, axis=2), scale)


def with_centres(g: GraphBuilder, points: str) -> str:
    """``(n, 35, 3)``: the 33 points, then the hip and the shoulder midpoints.

    One product with a constant ``(35, 33)`` matrix (identity, then two rows of 0.5): the
    terms other than the one or two points are exact zeros, and ``0.5 a + 0.5 b`` rounds as
    ``(a + b) / 2`` does, so the values are NumPy's exactly, in one node instead of nine.
    """
    select = np.zeros((N_LANDMARKS + 2, N_LANDMARKS))
    select[:N_LANDMARKS] = np.eye(N_LANDMARKS)
    select[HIP_CENTER, [_L_HIP, _R_HIP]] = 0.5
    select[SHOULDER_CENTER, [_L_SHOULDER, _R_SHOULDER]] = 0.5
    return g.op("MatMul", g.const(select), points)


def _axis(g: GraphBuilder, points: str, k: int) -> str:
    """``points[..., k]`` as ``(n, m)``."""
    return g.take(points, k, axis=2)


def _sum_xyz(g: GraphBuilder, x: str, keepdims: bool = False) -> str:
    """``(x + y) + z`` over the last axis, in NumPy's order: a product with a column of ones
    adds its terms one after the other (onnxruntime's ReduceSum may pair them otherwise)."""
    total = g.op("MatMul", x, g.const(np.ones((3, 1))))
    return total if keepdims else g.op("Squeeze", total, g.ints(-1))


def _square(g: GraphBuilder, x: str) -> str:
    return g.op("Mul", x, x)


def normalized_points(g: GraphBuilder, landmarks: str, sizes: str, multiplier: float) -> str:
    """:func:`~poseclf.classify.embedding.normalized_points`: ``(n, 35, 3)`` hip-centred,
    divided by ``max(multiplier * torso, farthest landmark)`` measured in x, y."""
    pts = with_centres(g, pixel_points(g, landmarks, sizes))
    pts = g.op("Sub", pts, g.take(pts, [HIP_CENTER], axis=1))
    radius = g.op("Sqrt", g.op("Add", _square(g, _axis(g, pts, 0)), _square(g, _axis(g, pts, 1))))
    torso = g.op("Mul", g.take(radius, [SHOULDER_CENTER], axis=1), g.const([multiplier]))
    size = g.op("Max", g.op("Max", torso, g.op("ReduceMax", radius, axes=[1], keepdims=1)),
                g.const([embedding.SIZE_EPS]))
    return g.op("Div", pts, g.op("Unsqueeze", size, g.ints(2)))


def _difference_matrix(pairs: np.ndarray) -> np.ndarray:
    """``(k, 35)``: row ``i`` is ``+1`` at ``pairs[i, 1]`` and ``-1`` at ``pairs[i, 0]``."""
    matrix = np.zeros((len(pairs), N_LANDMARKS + 2))
    matrix[np.arange(len(pairs)), pairs[:, 1]] += 1.0
    matrix[np.arange(len(pairs)), pairs[:, 0]] -= 1.0
    return matrix


def _differences(g: GraphBuilder, points: str, pairs: np.ndarray) -> str:
    """``points[:, b] - points[:, a]`` ``(n, k, 3)`` as one product with a ``+1/-1`` matrix
    (the other terms are exact zeros, so each value is the one rounded difference)."""
    return g.op("MatMul", g.const(_difference_matrix(pairs)), points)


def pair_differences(g: GraphBuilder, points: str, pairs: np.ndarray) -> str:
    """``points[:, b] - points[:, a]`` for each pair ``(a, b)``, flattened: ``(n, 3k)``."""
    return g.reshape(_differences(g, points, pairs), -1, 3 * len(pairs))


def unit_directions(g: GraphBuilder, points: str, pairs: np.ndarray, eps: float) -> str:
    """``(b - a) / max(|b - a|, eps)`` for each pair, ``(n, k, 3)``."""
    d = _differences(g, points, pairs)
    length = g.op("Max", g.op("Sqrt", _sum_xyz(g, _square(g, d), keepdims=True)),
                  g.const([eps]))
    return g.op("Div", d, length)


def image_features(g: GraphBuilder, embedder: PoseEmbedder, landmarks: str, sizes: str) -> str:
    """``PoseEmbedder._image_features``: the picture embedding ``(n, features)``."""
    pts = normalized_points(g, landmarks, sizes, embedder.torso_size_multiplier)
    pts = g.op("Mul", pts, g.const([1.0, 1.0, embedder.z_weight]))
    parts = [pair_differences(g, pts, np.asarray(embedder._pair_list()))]
    if embedder._directions:
        unit = unit_directions(g, pts, np.asarray(DIRECTION_PAIRS), embedding.SIZE_EPS)
        weighted = g.op("Mul", unit, g.const([embedder.direction_weight]))
        parts.append(g.reshape(weighted, -1, 3 * len(DIRECTION_PAIRS)))
    return parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=1)


def all_finite(g: GraphBuilder, x: str, axes: list[int]) -> str:
    """Bool ``(n,)``: every value of the row over ``axes`` is finite (``x - x == 0``)."""
    finite = g.op("Cast", g.op("Equal", g.op("Sub", x, x), g.const([0.0])), to=DOUBLE)
    return g.op("Cast", g.op("ReduceMin", finite, axes=axes, keepdims=0), to=BOOL)


def world_points(g: GraphBuilder, landmarks: str, sizes: str, world: str) -> str:
    """:func:`~poseclf.classify.world_embedding.world_points`: the world landmarks, or the
    picture pixels for a pose whose world landmarks are not all finite."""
    has = g.op("Unsqueeze", all_finite(g, world, [1, 2]), g.ints(1, 2))
    return g.op("Where", has, world, pixel_points(g, landmarks, sizes))


def facing_points(g: GraphBuilder, points: str, multiplier: float) -> str:
    """:func:`~poseclf.classify.world_embedding.facing_points`: ``(n, 35, 3)`` hip-centred,
    turned about the vertical so that the hip line points along +x, size-normalised in 3D."""
    pts = with_centres(g, points)
    pts = g.op("Sub", pts, g.take(pts, [N_LANDMARKS], axis=1))
    # facing_yaw: the hip line, else the shoulder line, else no turn
    xy_max = g.op("ReduceMax", g.op("Abs", g.slice(pts, 0, 2, axis=2)), axes=[1, 2], keepdims=0)
    extent = g.op("Mul", g.op("Max", xy_max, g.const([world_embedding.SIZE_EPS])),
                  g.const([world_embedding.LINE_EPS]))

    lines = _differences(g, pts, np.asarray([(_R_HIP, _L_HIP), (_R_SHOULDER, _L_SHOULDER)]))
    lx2, lz2 = g.take(lines, 0, axis=2), g.take(lines, 2, axis=2)  # (n, 2): hips, shoulders
    length2 = g.op("Sqrt", g.op("Add", _square(g, lx2), _square(g, lz2)))
    hx, hz, h_len = (g.slice(v, 0, 1, axis=1) for v in (lx2, lz2, length2))
    sx, sz, s_len = (g.slice(v, 1, 2, axis=1) for v in (lx2, lz2, length2))
    extent = g.op("Unsqueeze", extent, g.ints(1))
    use_hips = g.op("Greater", h_len, extent)
    has_line = g.op("Or", use_hips, g.op("Greater", s_len, extent))
    lx = g.op("Where", use_hips, hx, sx)
    lz = g.op("Where", use_hips, hz, sz)
    length = g.op("Where", use_hips, h_len, s_len)
    # cos(atan2(z, x)) = x / |(x, z)|, sin = z / |(x, z)|; no line: no turn (cos 1, sin 0)
    c = g.op("Where", has_line, g.op("Div", lx, length), g.const([1.0]))
    s = g.op("Where", has_line, g.op("Div", lz, length), g.const([0.0]))
    # (x, y, z) * (c, 1, c) + (z, y, x) * (s, 0, -s): c x + s z, y, c z - s x; the terms with
    # 1 and 0 are exact, so each value is NumPy's (the same two products, one rounded sum)
    zeros = g.op("Mul", c, g.const([0.0]))  # (n, 1) of 0 and 1 (c is always finite)
    ones = g.op("Add", zeros, g.const([1.0]))
    direct = g.op("Unsqueeze", g.op("Concat", c, ones, c, axis=1), g.ints(1))
    crossed = g.op("Unsqueeze", g.op("Concat", s, zeros, g.op("Neg", s), axis=1), g.ints(1))
    turned = g.op("Add", g.op("Mul", pts, direct),
                  g.op("Mul", g.take(pts, [2, 1, 0], axis=2), crossed))
    radius = g.op("Sqrt", _sum_xyz(g, _square(g, turned)))
    torso = g.op("Mul", g.take(radius, [SHOULDER_CENTER], axis=1), g.const([multiplier]))
    size = g.op("Max", torso, g.op("ReduceMax", radius, axes=[1], keepdims=1))
    size = g.op("Max", size, g.const([world_embedding.SIZE_EPS]))
    return g.op("Div", turned, g.op("Unsqueeze", size, g.ints(2)))


def world_features(g: GraphBuilder, embedder: PoseEmbedder, landmarks: str, sizes: str,
                   world: str) -> str:
    """:func:`~poseclf.classify.world_embedding.world_features` of the embedder's pairs."""
    points = facing_points(g, world_points(g, landmarks, sizes, world),
                           embedder.torso_size_multiplier)
    return pair_differences(g, points, np.asarray(embedder._pair_list()))


def classifier_embedding(g: GraphBuilder, embedder: PoseEmbedder, landmarks: str, sizes: str,
                         world: str | None) -> str:
    """``PoseEmbedder.transform`` of pose rows: picture, 3D or both features."""
    if embedder.world == "off":
        return image_features(g, embedder, landmarks, sizes)
    three_d = world_features(g, embedder, landmarks, sizes, world)
    if embedder.world == "only":
        return three_d
    return g.op("Concat", image_features(g, embedder, landmarks, sizes), three_d, axis=1)


def world_directions(g: GraphBuilder, world: str, weight: float) -> str:
    """:func:`~poseclf.classify.embedding.world_directions` times ``weight``: ``(n, 42)``
    unit limb directions of the world landmarks (NaN rows stay NaN)."""
    unit = unit_directions(g, with_centres(g, world), np.asarray(DIRECTION_PAIRS),
                           embedding.SIZE_EPS)
    flat = g.reshape(unit, -1, 3 * len(DIRECTION_PAIRS))
    return g.op("Mul", flat, g.const([weight]))
