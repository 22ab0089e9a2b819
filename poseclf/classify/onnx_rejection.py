"""The ``unknown`` and ``partial`` rules as ONNX nodes.

:func:`novelty_and_threshold` is :meth:`~poseclf.classify.novelty.NoveltyScorer.novelty` and
:meth:`~poseclf.classify.novelty.NoveltyScorer.thresholds` (mean distance to the nearest
reference poses, mirror images included; the negatives' ratio rule; the per-class rule), in
float64 as :func:`~poseclf.classify.nearest.mean_nearest_distance`. The reference poses are
stored once, in float32 as in the model file, without their mirror images: the distances to
those come from the stored poses and the mirrored query (the scorer's column map), so the file
stays about as small as the ``.skops`` and each call reads half as much.
:func:`partial` is :meth:`~poseclf.classify.visibility.VisibilityCheck.is_partial`, in float32
as the NumPy rule.

Imports: NumPy, :mod:`poseclf.classify.onnx_graph`, the rejection modules' constants.
"""

from __future__ import annotations

import numpy as np

from .novelty import CLASS_NEIGHBORS, NoveltyScorer
from .onnx_classifiers import UnsupportedModel
from .onnx_graph import DOUBLE, FLOAT, GraphBuilder
from .visibility import _KEY_JOINT_INDEX, VisibilityCheck


def _reference(g: GraphBuilder, scorer: NoveltyScorer, stored: np.ndarray, stem: str) -> str:
    """The float64 reference poses, mirror images rebuilt after the stored ones as
    :func:`~poseclf.classify.nearest.with_mirrors` does (constant-folded by the runtime)."""
    poses = g.const(stored, np.float32, stem=stem)
    columns = getattr(scorer, "mirror_columns_", None)
    if columns is not None:
        mirrors = g.op("Mul", g.take(poses, columns, axis=1),
                       g.const(scorer.mirror_signs_, np.float32))
        poses = g.op("Concat", poses, mirrors, axis=0)
    return g.op("Cast", poses, to=DOUBLE)


def _mirror_sources(scorer: NoveltyScorer) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """How to turn a query ``q`` so that ``q.(mirror of r) = (turned q).r`` for every stored
    ``r`` (None without a column map): ``turned[k]`` is the sum over the ``j`` with
    ``columns[j] == k`` of ``signs[j] * q[j]``, as (index, sign) pairs, a sign of 0 where a
    column has fewer sources. Columns repeat (MediaPipe's pairs list hip -> wrist twice), so a
    column may have two sources, or none."""
    columns = getattr(scorer, "mirror_columns_", None)
    if columns is None:
        return None
    sources: list[list[tuple[int, float]]] = [[] for _ in columns]
    for j, (k, sign) in enumerate(zip(np.asarray(columns), scorer.mirror_signs_, strict=True)):
        sources[int(k)].append((j, float(sign)))
    depth = max(len(found) for found in sources)
    terms = []
    for level in range(depth):
        index = np.asarray([found[level][0] if level < len(found) else 0 for found in sources])
        sign = np.asarray([found[level][1] if level < len(found) else 0.0 for found in sources])
        terms.append((index, sign))
    return terms


def _minus_two_cross(g: GraphBuilder, scorer: NoveltyScorer, stored: np.ndarray, query: str,
                     stem: str) -> str:
    """``-2 q.r`` ``(n, n_ref)`` for every reference pose, mirror images included, in
    :func:`~poseclf.classify.nearest.with_mirrors`' order (-2 r is exact: folded into the
    constant).

    The product is taken as ``(-2 r) q^T``: onnxruntime packs a MatMul's right-hand matrix
    on every float64 call, which for ~2,000 references cost more than the product. With a
    mirror map, the mirror images' products come from the stored poses and the query turned by
    :func:`_mirror_sources`: half the references to read per call (the same products, summed in
    another order: within 1e-15 of NumPy's, which sums in BLAS's order anyway).
    """
    sources = _mirror_sources(scorer)
    if sources is None:
        ref = g.op("Mul", _reference(g, scorer, stored, stem), g.const([-2.0]))
        product = g.op("MatMul", ref, g.op("Transpose", query, perm=[1, 0]))
        return g.op("Transpose", product, perm=[1, 0])
    ref = g.op("Mul", g.op("Cast", g.const(stored, np.float32, stem=stem), to=DOUBLE),
               g.const([-2.0]))
    turned = [g.op("Mul", g.take(query, index, axis=1), g.const(sign)) for index, sign in sources]
    mirrored = turned[0] if len(turned) == 1 else g.op("Sum", *turned)
    both = g.op("Concat", query, mirrored, axis=0)  # (2n, features)
    product = g.op("Transpose", g.op("MatMul", ref, g.op("Transpose", both, perm=[1, 0])),
                   perm=[1, 0])  # (2n, stored)
    halves = g.op("Transpose", g.reshape(product, 2, -1, len(stored)), perm=[1, 0, 2])
    return g.reshape(halves, -1, 2 * len(stored))


def _squared_distances(g: GraphBuilder, scorer: NoveltyScorer, query: str,
                       stored: np.ndarray, ref_sq: np.ndarray, stem: str) -> str:
    """``|q|^2 + |r|^2 - 2 q.r`` ``(n, n_ref)``, as ``mean_nearest_distance`` computes it."""
    qq = g.reduce_sum(g.op("Mul", query, query), 1, keepdims=True)
    return g.op("Add", g.op("Add", qq, g.const(ref_sq, np.float64)),
                _minus_two_cross(g, scorer, stored, query, stem))


def _mean_nearest(g: GraphBuilder, sq: str, k: int, n_features: int) -> str:
    """Mean of the ``k`` smallest RMS distances of each row of squared distances."""
    nearest, _ = g.smallest(sq, k)
    rms = g.op("Sqrt", g.op("Div", g.op("Max", nearest, g.const([0.0])),
                            g.const([float(n_features)])))
    return g.op("ReduceMean", rms, axes=[1], keepdims=0)


def novelty_and_threshold(g: GraphBuilder, scorer: NoveltyScorer, features: str,
                          predicted: str, classes: list[str]) -> tuple[str, str]:
    """Novelty ``(n,)`` and threshold ``(n,)`` of float64 novelty features.

    ``predicted``: the int64 index of each pose's class in the model's ``classes`` (the
    per-class rule looks that class up in the scorer's own ``classes_``).
    """
    n_features = int(scorer.n_features_in_)
    refs = scorer._references()  # float64 mirror images included, as NumPy scores them
    scaled = g.op("Div", g.op("Sub", features, g.const(scorer.center_, np.float64)),
                  g.const([float(scorer.scale_)]))
    scaled = g.op("Cast", g.op("Cast", scaled, to=FLOAT), to=DOUBLE)  # scale_rows: float32
    sq = _squared_distances(g, scorer, scaled, scorer.reference_, refs["reference_sq"],
                            "novelty_ref")
    n_ref = len(refs["reference"])
    novelty = _mean_nearest(g, sq, min(int(scorer.n_neighbors), n_ref), n_features)
    threshold = g.op("Expand", g.const([float(scorer.threshold_)]), g.op("Shape", novelty))
    if getattr(scorer, "negative_reference_", None) is None:
        return novelty, threshold
    n_neg = len(refs["negatives"])
    neg_sq = _squared_distances(g, scorer, scaled, scorer.negative_reference_,
                                refs["negatives_sq"], "negative_ref")
    to_negatives = _mean_nearest(g, neg_sq, min(int(scorer.n_neighbors), n_neg), n_features)
    threshold = g.op("Min", threshold, g.op("Mul", g.const([float(scorer.negative_ratio_)]),
                                            to_negatives))
    if getattr(scorer, "class_thresholds_", None) is None or "classes" not in refs:
        return novelty, threshold
    class_codes = np.searchsorted(np.asarray(scorer.classes_).astype(str), classes)
    return novelty, _class_rule(g, scorer, refs, sq, novelty, threshold, predicted,
                                class_codes, n_features)


def _class_rule(g: GraphBuilder, scorer: NoveltyScorer, refs: dict, sq: str, novelty: str,
                threshold: str, predicted: str, class_codes: np.ndarray,
                n_features: int) -> str:
    """:meth:`NoveltyScorer.thresholds`' per-class rule: a pose farther from its predicted
    class's poses than the class threshold is held below its own novelty."""
    ref_codes = _reference_codes(scorer, refs)
    smallest = min(int(np.sum(ref_codes == c)) for c in range(len(scorer.classes_)))
    if smallest < CLASS_NEIGHBORS:
        raise UnsupportedModel(f"a class of its novelty data has {smallest} reference poses, "
                               f"fewer than the {CLASS_NEIGHBORS} its per-class rule averages")
    code = g.op("Gather", g.const(class_codes, np.int64), predicted, axis=0)  # (n,)
    mine = g.op("Equal", g.op("Unsqueeze", code, g.ints(1)), g.const(ref_codes, np.int64))
    masked = g.op("Where", mine, sq, g.const([np.inf]))
    distance = _mean_nearest(g, masked, CLASS_NEIGHBORS, n_features)
    limit = g.op("Gather", g.const(scorer.class_thresholds_, np.float64), code, axis=0)
    far = g.op("Greater", distance, limit)
    lowered = g.op("Min", threshold, g.op("Mul", g.const([0.5]), novelty))
    return g.op("Where", far, lowered, threshold)


def _reference_codes(scorer: NoveltyScorer, refs: dict) -> np.ndarray:
    """The class code of every reference pose (mirror images included), as
    ``NoveltyScorer._references`` reads them."""
    labels = np.asarray(scorer.reference_labels_)
    if labels.dtype.kind in "US":  # files from before the class codes: names
        labels = np.searchsorted(scorer.classes_, labels)
    labels = labels.astype(np.int64)
    if len(labels) < len(refs["reference"]):  # the rebuilt mirror images: same classes
        labels = np.concatenate([labels, labels])
    return labels


def partial(g: GraphBuilder, check: VisibilityCheck, landmarks32: str) -> str:
    """Bool ``(n,)``: more than ``max_hidden_joints`` of the counted key joints hidden."""
    pts = g.take(landmarks32, _KEY_JOINT_INDEX.ravel(), axis=1)  # (n, 12, 4): 6 joints x 2 sides
    xy = g.slice(pts, 0, 2, axis=2)
    lo = np.float32(-check.frame_margin)
    hi = np.float32(1.0 + check.frame_margin)
    in_range = g.op("And", g.op("GreaterOrEqual", xy, g.const([lo], np.float32)),
                    g.op("LessOrEqual", xy, g.const([hi], np.float32)))
    inside = g.op("ReduceMin", g.op("Cast", in_range, to=FLOAT), axes=[2], keepdims=0)
    seen = inside
    if check.rule != "placed":
        visibility = g.op("Squeeze", g.slice(pts, 3, 4, axis=2), g.ints(2))
        visible = g.op("Cast", g.op("GreaterOrEqual", visibility, g.const(
            [np.float32(check.min_visibility)], np.float32)), to=FLOAT)
        seen = g.op("Mul", visible, inside)
    either_side = g.op("ReduceMax", g.reshape(seen, -1, len(_KEY_JOINT_INDEX), 2), axes=[2],
                       keepdims=0)
    hidden = g.op("Mul", g.op("Sub", g.const([1.0], np.float32), either_side),
                  g.const(check._counted.astype(np.float32), np.float32))
    count = g.reduce_sum(hidden, 1)
    return g.op("Greater", count, g.const([float(check.max_hidden_joints)], np.float32))
