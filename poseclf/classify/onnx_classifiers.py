"""poseclf's classifiers as ONNX nodes: embedding ``(n, features)`` float64 in, class
probabilities ``(n, classes)`` float64 out.

The arithmetic is that of :mod:`poseclf.classify.lean_predict` (which checks itself against
scikit-learn): :class:`~poseclf.classify.classifiers.PoseKNNClassifier` (MediaPipe's two-stage
k-NN, in float32 like its NumPy search), ``StandardScaler`` then
:class:`~poseclf.classify.calibrated_svc.PlattSVC` (rbf or linear kernel), ``LogisticRegression``
and ``MLPClassifier``. skl2onnx is not used: it has no converter for poseclf's k-NN (two
stages, the mirrored query), and issue 22 reports that its k-NN converter drops
``weights="distance"``.
:class:`UnsupportedModel` names what cannot be written.

Imports: NumPy, scikit-learn's estimator classes, :mod:`poseclf.classify.onnx_graph`.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ..errors import InputError
from .calibrated_svc import PlattSVC
from .classifiers import PoseKNNClassifier
from .lean_predict import svc_decision_arrays
from .onnx_graph import DOUBLE, FLOAT, GraphBuilder

#: NumPy's pairwise summation sums up to 128 values in eight running sums (numpy's PW_BLOCKSIZE).
PAIRWISE_BLOCK = 128


class UnsupportedModel(InputError):
    """The model holds something the ONNX exporter cannot write exactly (the message says what)."""


def classifier_probabilities(g: GraphBuilder, est, X: str) -> str:
    """Nodes of ``est.predict_proba`` on float64 embeddings ``X``: the classifier part of a
    model's pipeline (a classifier, or a Pipeline of ``StandardScaler`` steps then one)."""
    if isinstance(est, Pipeline):
        steps = [s for _, s in est.steps if s is not None and s != "passthrough"]
        for step in steps[:-1]:
            X = _scaler(g, step, X)
        return classifier_probabilities(g, steps[-1], X)
    if isinstance(est, PoseKNNClassifier):
        return _knn(g, est, X)
    if isinstance(est, PlattSVC):
        return _platt_svc(g, est, X)
    if isinstance(est, LogisticRegression):
        return _logreg(g, est, X)
    if isinstance(est, MLPClassifier):
        return _mlp(g, est, X)
    raise UnsupportedModel(f"its classifier {type(est).__name__} has no ONNX form in poseclf "
                           "(k-NN, svm, logreg and mlp do); retrain it with `poseclf train`")


def _scaler(g: GraphBuilder, scaler, X: str) -> str:
    if not isinstance(scaler, StandardScaler):
        raise UnsupportedModel(f"its pipeline step {type(scaler).__name__} has no ONNX form in "
                               "poseclf (StandardScaler does); retrain it with `poseclf train`")
    if scaler.with_mean:
        X = g.op("Sub", X, g.const(scaler.mean_, np.float64))
    if scaler.with_std:
        X = g.op("Div", X, g.const(scaler.scale_, np.float64))
    return X


# -- MediaPipe's two-stage k-NN ------------------------------------------------------------------
def _knn(g: GraphBuilder, knn: PoseKNNClassifier, X: str) -> str:
    """:meth:`PoseKNNClassifier.kneighbors` and ``predict_proba``: candidates by maximum
    per-feature distance, voters by mean distance (each the smaller of the query's and its
    mirror image's), votes shared out; float32 as the NumPy search."""
    arrays = knn._search_arrays()
    train = arrays["train"]
    n_train = len(train)
    k_max = min(knn.top_n_by_max_distance, n_train)
    k_mean = min(knn.top_n_by_mean_distance, k_max)
    query = g.op("Mul", g.op("Cast", X, to=FLOAT), g.const(arrays["weights"], np.float32))
    queries = [query]
    if arrays["mirror"] is not None:
        index, factor = arrays["mirror"]
        queries.append(g.op("Mul", g.take(query, index, axis=1), g.const(factor, np.float32)))
    train_c = g.const(train, np.float32, stem="knn_train")
    stage1 = [g.op("ReduceMax", g.op("Abs", g.op("Sub", g.op("Unsqueeze", q, g.ints(1)),
                                                 train_c)), axes=[2], keepdims=0)
              for q in queries]
    d_max = stage1[0] if len(stage1) == 1 else g.op("Min", *stage1)
    _, nearest = g.smallest(d_max, k_max)  # equal values: the lower index, as NumPy's search
    candidates, _ = g.smallest(nearest, k_max)  # in index order, as NumPy's search keeps them
    rows = g.op("Gather", train_c, candidates, axis=0)  # (n, k_max, features)
    n_features = int(knn.n_features_in_)
    stage2 = [numpy_mean(g, g.op("Abs", g.op("Sub", g.op("Unsqueeze", q, g.ints(1)), rows)),
                         n_features) for q in queries]
    d_mean = stage2[0] if len(stage2) == 1 else g.op("Min", *stage2)
    _, best = g.smallest(d_mean, k_mean)
    voters = g.op("GatherElements", candidates, best, axis=1)
    one_hot = np.eye(len(knn.classes_))[knn.y_fit_]
    votes = g.reduce_sum(g.op("Gather", g.const(one_hot, np.float64), voters, axis=0), 1)
    return g.op("Div", votes, g.const([float(k_mean)]))


def numpy_mean(g: GraphBuilder, x: str, n: int) -> str:
    """``x.mean(axis=-1)`` of a float32 ``(a, b, n)`` array as NumPy computes it, bit for bit:
    its pairwise sum (:func:`numpy_sum`), then one division. onnxruntime's ReduceMean adds in
    another order, which moved the k-NN's mean distances by an ulp (only 36% of the means of 69
    values were equal), enough to reorder two candidates at a near tie."""
    total = g.op("Squeeze", numpy_sum(g, x, 0, n), g.ints(-1))
    return g.op("Div", total, g.const([n], np.float32))


def numpy_sum(g: GraphBuilder, x: str, start: int, n: int) -> str:
    """NumPy's float32 sum of ``x[..., start:start + n]`` (``(a, b, 1)``): under 8 values one
    after the other; up to 128, eight running sums over blocks of 8, added pairwise, then the
    rest one by one; above, the two halves (cut at a multiple of 8) summed so and added
    (numpy's ``pairwise_sum``). Sum adds its inputs in order; each ReduceSum here adds two."""
    if n < 8:
        part = g.slice(x, start, start + n, axis=-1)
        return part if n == 1 else g.op("Sum", *g.ops("Split", [part, g.ints(*[1] * n)], n,
                                                        axis=-1))
    if n > PAIRWISE_BLOCK:
        half = n // 2 - (n // 2) % 8
        return g.op("Add", numpy_sum(g, x, start, half), numpy_sum(g, x, start + half, n - half))
    blocks = n // 8
    main = g.slice(x, start, start + 8 * blocks, axis=-1)
    running = main if blocks == 1 else g.op("Sum", *g.ops("Split", [main, g.ints(*[8] * blocks)],
                                                          blocks, axis=-1))
    pairs = g.reduce_sum(g.reshape(running, 0, 0, 4, 2), -1)  # r0+r1, r2+r3, r4+r5, r6+r7
    quads = g.reduce_sum(g.reshape(pairs, 0, 0, 2, 2), -1)
    total = g.reduce_sum(quads, -1, keepdims=True)
    rest = n - 8 * blocks
    if not rest:
        return total
    tail = g.slice(x, start + 8 * blocks, start + n, axis=-1)
    return g.op("Sum", total, *(g.ops("Split", [tail, g.ints(*[1] * rest)], rest, axis=-1)
                                if rest > 1 else [tail]))


# -- SVM with Platt sigmoids ---------------------------------------------------------------------
def _platt_svc(g: GraphBuilder, clf: PlattSVC, X: str) -> str:
    """:meth:`PlattSVC.predict_proba` (the mean over its ``SVC``\\ s when there are several)."""
    parts = []
    for svc, a, b in zip(clf.estimators_, clf.platt_a_, clf.platt_b_, strict=True):
        decision = _svc_decision(g, svc, X)
        parts.append(_platt(g, decision, np.atleast_1d(np.asarray(a, dtype=np.float64)),
                            np.atleast_1d(np.asarray(b, dtype=np.float64))))
    if len(parts) == 1:
        return parts[0]
    return g.op("Div", g.op("Sum", *parts), g.const([float(len(parts))]))


def _svc_decision(g: GraphBuilder, svc, X: str) -> str:
    """``SVC.decision_function`` as ``(n, m)``: m = 1 for two classes, else one column per
    class (one-vs-rest votes plus scaled confidences)."""
    arrays = svc_decision_arrays(svc)
    if arrays is None:
        raise UnsupportedModel(f"its SVC (kernel {svc.kernel!r}) has no ONNX form in poseclf "
                               "(rbf and linear kernels with a numeric gamma do)")
    dot = g.op("MatMul", X, g.const(arrays.support_vectors.T, np.float64, stem="sv_t"))
    if arrays.linear:
        kernel = dot
    else:
        xx = g.reduce_sum(g.op("Mul", X, X), 1, keepdims=True)
        sq = g.op("Sub", g.op("Add", xx, g.const(arrays.sv_squares, np.float64)),
                  g.op("Mul", g.const([2.0]), dot))
        kernel = g.op("Exp", g.op("Mul", g.const([-arrays.gamma]),
                                  g.op("Max", sq, g.const([0.0]))))
    dec = g.op("Add", g.op("MatMul", kernel, g.const(arrays.coef_t, np.float64)),
               g.const(arrays.intercept, np.float64))
    if arrays.n_classes == 2:
        return g.slice(dec, 0, 1, axis=1)
    if not arrays.ovr:
        raise UnsupportedModel("its SVC uses decision_function_shape='ovo' with more than two "
                               "classes, which PlattSVC never fits; retrain it with "
                               "`poseclf train`")
    negative = g.op("Cast", g.op("Less", dec, g.const([0.0])), to=DOUBLE)
    positive = g.op("Sub", g.const([1.0]), negative)
    votes = g.op("Add", g.op("MatMul", positive, g.const(arrays.first)),
                 g.op("MatMul", negative, g.const(arrays.second)))
    confidence = g.op("MatMul", dec, g.const(arrays.first - arrays.second))
    scaled = g.op("Div", confidence, g.op("Mul", g.const([3.0]), g.op(
        "Add", g.op("Abs", confidence), g.const([1.0]))))
    return g.op("Add", votes, scaled)


def _platt(g: GraphBuilder, decision: str, a: np.ndarray, b: np.ndarray) -> str:
    """:func:`~poseclf.classify.calibrated_svc.platt_probabilities`."""
    p = g.op("Sigmoid", g.op("Neg", g.op("Add", g.op("Mul", decision, g.const(a)), g.const(b))))
    if len(a) == 1:
        return g.op("Concat", g.op("Sub", g.const([1.0]), p), p, axis=1)
    total = g.reduce_sum(p, 1, keepdims=True)
    zero = g.op("Equal", total, g.const([0.0]))
    safe = g.op("Where", zero, g.const([1.0]), total)
    return g.op("Where", zero, g.const([1.0 / len(a)]), g.op("Div", p, safe))


# -- scikit-learn baselines ----------------------------------------------------------------------
def _logreg(g: GraphBuilder, clf: LogisticRegression, X: str) -> str:
    coef_t = np.atleast_2d(clf.coef_).T
    scores = g.op("Add", g.op("MatMul", X, g.const(coef_t, np.float64)),
                  g.const(clf.intercept_, np.float64))
    if len(clf.classes_) <= 2:  # LinearClassifierMixin._predict_proba_lr
        p = g.op("Sigmoid", scores)
        return g.op("Concat", g.op("Sub", g.const([1.0]), p), p, axis=1)
    return g.op("Softmax", scores, axis=1)


_MLP_HIDDEN = {"relu": "Relu", "tanh": "Tanh", "logistic": "Sigmoid", "identity": None}


def _mlp(g: GraphBuilder, mlp: MLPClassifier, X: str) -> str:
    if mlp.activation not in _MLP_HIDDEN or mlp.out_activation_ not in ("softmax", "logistic"):
        raise UnsupportedModel(f"its MLP activation {mlp.activation!r} has no ONNX form in "
                               "poseclf")
    a = X
    layers = list(zip(mlp.coefs_, mlp.intercepts_, strict=True))
    for k, (w, b) in enumerate(layers):
        a = g.op("Add", g.op("MatMul", a, g.const(w, np.float64)), g.const(b, np.float64))
        if k < len(layers) - 1 and _MLP_HIDDEN[mlp.activation] is not None:
            a = g.op(_MLP_HIDDEN[mlp.activation], a)
    if mlp.out_activation_ == "softmax":
        return g.op("Softmax", a, axis=1)
    p = g.op("Sigmoid", a)
    return g.op("Concat", g.op("Sub", g.const([1.0]), p), p, axis=1)
