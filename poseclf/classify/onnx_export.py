"""A trained model as one ONNX graph: landmarks in; probabilities, novelty and decision out.

An app then needs BlazePose and an ONNX runtime only: the graph holds the embedding, the
classifier and the ``unknown``/``partial`` rules, and reproduces
:meth:`PoseModel.predict_with_scores <poseclf.classify.model.PoseModel.predict_with_scores>`
(``bench/export.py`` measures how closely on every dev table).

Inputs (``n`` poses; float32, as BlazePose gives them):

- ``landmarks`` ``(n, 33, 4)``: x, y normalised to the image, z, visibility;
- ``image_size`` ``(n, 2)``: width and height in pixels;
- ``world_landmarks`` ``(n, 33, 3)``: metres, hip-centred; only for a model that uses them
  (3D features, or novelty trained with them). A row of NaN is a pose without them, scored as
  poseclf scores one (picture landmarks as 3D points, image-only novelty).

Outputs: ``probabilities`` ``(n, classes)`` float32, in the order of the ``classes`` metadata;
``novelty`` and ``threshold`` ``(n,)`` float32 (``unknown`` when novelty > threshold); and
``decision`` ``(n,)`` int64: the class index, :data:`UNKNOWN_CODE` or :data:`PARTIAL_CODE`.
The metadata (``InferenceSession.get_modelmeta().custom_metadata_map``) holds ``classes``
(JSON), ``decision_codes`` and the source model's description.

Imports: ``onnx`` (the ``export`` extra: ``pip install "poseclf[export]"``) through the
``onnx_*`` modules, loaded when an export starts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._version import __version__
from ..errors import InputError
from ..files import replace_atomically
from .novelty import PARTIAL_LABEL, UNKNOWN_LABEL

if TYPE_CHECKING:
    import onnx

    from .model import PoseModel

UNKNOWN_CODE = -1  # ``decision`` of a pose unlike the training poses ("unknown")
PARTIAL_CODE = -2  # ``decision`` of a pose with too few key joints in the picture ("partial")
ONNX_SUFFIX = ".onnx"


def needs_world_landmarks(model: PoseModel) -> bool:
    """Whether the exported graph takes a ``world_landmarks`` input."""
    embedder = model.pipeline.named_steps["embed"]
    return embedder.world != "off" or model.novelty_image_ is not None


def model_to_onnx(model: PoseModel, name: str = "poseclf",
                  source: str | os.PathLike = "the model") -> onnx.ModelProto:
    """The ONNX graph of ``model`` (see the module docstring for its inputs and outputs).

    Raises
    ------
    InputError
        ``onnx`` is not installed, or the model holds something the graph cannot reproduce
        (:class:`~poseclf.classify.onnx_classifiers.UnsupportedModel`: the message names
        ``source`` and says what).
    """
    _require_onnx()
    from .onnx_classifiers import UnsupportedModel

    try:
        return _graph(model, name)
    except UnsupportedModel as err:
        raise UnsupportedModel(f"{source}: cannot be exported to ONNX: {err}") from None


def _graph(model: PoseModel, name: str) -> onnx.ModelProto:
    from .onnx_classifiers import UnsupportedModel, classifier_probabilities
    from .onnx_features import all_finite, classifier_embedding, image_features, world_directions
    from .onnx_graph import BOOL, DOUBLE, FLOAT, GraphBuilder
    from .onnx_rejection import novelty_and_threshold, partial

    _check_exportable(model, UnsupportedModel)
    estimator = model.estimator
    embedder = model.pipeline.named_steps["embed"]
    novelty_features = estimator.novelty_features_
    g = GraphBuilder(name)
    landmarks32 = g.input("landmarks", np.float32, ["n", 33, 4])
    sizes32 = g.input("image_size", np.float32, ["n", 2])
    world = None
    if needs_world_landmarks(model):
        world = g.op("Cast", g.input("world_landmarks", np.float32, ["n", 33, 3]), to=DOUBLE)
    landmarks = g.op("Cast", landmarks32, to=DOUBLE)
    sizes = g.op("Cast", sizes32, to=DOUBLE)

    image = image_features(g, novelty_features.image_embedder_, landmarks, sizes)
    if embedder.world == "off":  # the classifier's embedding is the novelty's first columns
        embedded = g.slice(image, 0, int(embedder.n_features_out_), axis=1)
    else:
        embedded = classifier_embedding(g, embedder, landmarks, sizes, world)
    steps = model.pipeline.steps  # the classifier part: everything after "embed"
    classifier = steps[1][1] if len(steps) == 2 else model.pipeline[1:]
    proba = classifier_probabilities(g, classifier, embedded)
    predicted = g.op("ArgMax", proba, axis=1, keepdims=0)

    novelty_, image_only = estimator.novelty_, estimator.novelty_image_
    classes = model.classes_
    if image_only is None:
        novelty, threshold = novelty_and_threshold(g, novelty_, image, predicted, classes)
    else:
        world_part = world_directions(g, world, novelty_features.world_weight)
        has_world = all_finite(g, world_part, [1])
        both = g.op("Concat", image, world_part, axis=1)
        nov_both, thr_both = novelty_and_threshold(g, novelty_, both, predicted, classes)
        # the image-only scorer runs only when some pose has no world landmarks (an If: its
        # nodes cost ~0.1 ms a call, more than the arithmetic of one pose)
        every = g.op("Cast", g.op("ReduceMin", g.op("Cast", has_world, to=DOUBLE), axes=[0],
                                  keepdims=0), to=BOOL)
        alone = g.branch()
        nov_image, thr_image = novelty_and_threshold(alone, image_only, image, predicted,
                                                     classes)
        mixed = [alone.op("Where", has_world, nov_both, nov_image),
                 alone.op("Where", has_world, thr_both, thr_image)]
        novelty, threshold = g.if_(every, (g.branch(), [nov_both, thr_both]), (alone, mixed),
                                   [np.float64, np.float64])

    floor = getattr(novelty_, "min_confidence_", 0.0)
    if floor:  # NoveltyScorer.unsure_thresholds
        unsure = g.op("Less", g.op("ReduceMax", proba, axes=[1], keepdims=0),
                      g.const([float(floor)], np.float64))
        threshold = g.op("Where", unsure,
                         g.op("Min", threshold, g.op("Mul", g.const([0.5]), novelty)), threshold)
    is_partial = partial(g, estimator.visibility_, landmarks32)
    unknown = g.op("Greater", novelty, threshold)
    decision = g.op("Where", is_partial, g.const([PARTIAL_CODE], np.int64),
                    g.op("Where", unknown, g.const([UNKNOWN_CODE], np.int64), predicted))

    n_classes = len(model.classes_)
    g.output(g.op("Cast", proba, to=FLOAT), "probabilities", np.float32, ["n", n_classes])
    g.output(g.op("Cast", novelty, to=FLOAT), "novelty", np.float32, ["n"])
    g.output(g.op("Cast", threshold, to=FLOAT), "threshold", np.float32, ["n"])
    g.output(decision, "decision", np.int64, ["n"])
    return g.model(doc=_doc(model), metadata=_metadata(model))


def export_onnx(model: PoseModel, path: str | os.PathLike,
                source: str | os.PathLike = "the model") -> Path:
    """Write :func:`model_to_onnx` to ``path`` atomically (a failed export leaves any previous
    file as it was); returns the path. ``source`` names the model in refusals."""
    proto = model_to_onnx(model, name=Path(path).stem, source=source)
    data = proto.SerializeToString()
    return replace_atomically(path, lambda tmp: tmp.write_bytes(data))


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise InputError("ONNX export needs the onnx package: pip install \"poseclf[export]\" "
                         "(onnx and onnxruntime pinned to fit mediapipe's protobuf)") from None


def _check_exportable(model: PoseModel, unsupported: type[InputError]) -> None:
    """Refuse, in one line, what the graph would not reproduce exactly."""
    estimator = model.estimator
    embedder = model.pipeline.named_steps["embed"]
    if estimator.novelty_ is None or estimator.novelty_features_ is None:
        raise unsupported("it was saved before poseclf's current novelty features, so the "
                          "graph could not say `unknown` as poseclf does; retrain it with "
                          "`poseclf train` and export that")
    if embedder.angles:
        raise unsupported("it uses joint angles (angles=True): ONNX Runtime computes atan "
                          "in float32 only, which would not reproduce poseclf's float64 "
                          "angles; retrain it without angles to export it")


def _doc(model: PoseModel) -> str:
    world = "world_landmarks (n, 33, 3) float32, " if needs_world_landmarks(model) else ""
    return (f"poseclf {__version__} pose classifier ({model.metadata.get('classifier')}, "
            f"classes {', '.join(model.classes_)}). Inputs: landmarks (n, 33, 4) float32 "
            f"(BlazePose x, y normalised, z, visibility), image_size (n, 2) float32 (width, "
            f"height in pixels), {world}. Outputs: probabilities (n, classes), novelty, "
            f"threshold, decision (class index, {UNKNOWN_CODE} {UNKNOWN_LABEL}, "
            f"{PARTIAL_CODE} {PARTIAL_LABEL}).").replace(", .", ".")


def _metadata(model: PoseModel) -> dict[str, str]:
    meta = model.metadata
    return {
        "classes": json.dumps(list(model.classes_)),
        "decision_codes": json.dumps({str(UNKNOWN_CODE): UNKNOWN_LABEL,
                                      str(PARTIAL_CODE): PARTIAL_LABEL}),
        "poseclf_version": __version__,
        "classifier": str(meta.get("classifier")),
        "embedder_params": json.dumps(meta.get("embedder_params")),
        "blazepose": str(meta.get("blazepose", "full")),
        "trained_at": str(meta.get("trained_at")),
    }
