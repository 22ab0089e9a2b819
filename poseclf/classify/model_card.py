"""Model cards: a Markdown page beside a model file with what it knows and how well.

The generated part (classes, training data, cross-validated scores, confusion matrix) comes from
the model's metadata, so it cannot drift from the model. People add the rest (data licences,
known limits) as a notes file that is appended verbatim.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..files import replace_atomically
from ..pictures.plots import save_confusion_matrix
from .model import PoseModel

CARD_ACCURACY_PREFIX = "Cross-validated accuracy:"  # tests read the figure after this prefix


def confusion_path(card_path: str | os.PathLike) -> Path:
    """The confusion-matrix picture written beside a model card: ``<card>_confusion.png``."""
    card_path = Path(card_path)
    return card_path.with_name(f"{card_path.stem}_confusion.png")


def write_model_card(
    model: PoseModel,
    card_path: str | os.PathLike,
    *,
    title: str | None = None,
    tables: Sequence[str] = (),
    notes: str = "",
) -> Path:
    """Write ``card_path`` (Markdown) and ``<card>_confusion.png`` from ``model.metadata``.

    The model must have been trained with cross-validation (``cv`` > 1).
    """
    meta = model.metadata
    scores = meta.get("cv_scores")
    if not scores:
        raise ValueError("the model has no cross-validated scores; train it with cv > 1")
    card_path = Path(card_path)
    picture = confusion_path(card_path)
    save_confusion_matrix(
        {"labels": scores["labels"], "confusion": scores["confusion"]}, picture,
        title=f"{title or card_path.stem}: {scores['folds']}-fold out-of-fold predictions",
    )
    counts = meta["class_counts"]
    lines = [
        f"# {title or card_path.stem}",
        "",
        f"- Classifier: `{meta['classifier']}`; poseclf {meta['poseclf_version']}, "
        f"landmark schema {meta['schema_version']}, trained {meta['trained_at']}",
        f"- Training poses: {meta['n_samples']} (detected photos/frames"
        + (f"; evenly spaced per class from {meta['n_given']}" if "n_given" in meta else "")
        + "), "
        f"{'with' if meta.get('mirror_augmentation') else 'without'} left-right mirror "
        "augmentation",
        f"- BlazePose landmarks: {meta.get('blazepose', 'full').replace('+', ' + ').title()} "
        "(a model labels landmarks of the same BlazePose model best; another one warns)",
    ]
    views = meta.get("view_augmentation")
    if views:
        lines.append(f"- View augmentation from world landmarks: yaw +-{views.get('yaw')} "
                     f"degrees, pitch +-{views.get('pitch')} degrees")
    world = (meta.get("embedder_params") or {}).get("world", "off")
    if world != "off":
        lines.append(f"- 3D features from world landmarks: `{world}`")
    if tables:
        lines.append("- Training tables: " + ", ".join(f"`{t}`" for t in tables))
    excluded = meta.get("excluded")
    if excluded:
        lines.append(f"- Left out after review: {excluded['rows']} row(s) named in "
                     + ", ".join(f"`{p}`" for p in excluded["lists"]))
    lines += [
        f"- {CARD_ACCURACY_PREFIX} {scores['accuracy']:.3f} "
        f"(stratified {scores['folds']}-fold, macro-F1 {scores['macro_f1']:.3f})",
        "",
        "| class | training poses | cross-validated recall |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {name} | {counts.get(name, 0)} | {scores['recall'].get(name, float('nan')):.3f} |"
        for name in model.classes_
    ]
    rejection = meta.get("rejection")
    if rejection:
        lines += ["", f"Open-set rejection: {describe_rejection(rejection)}."]
    lines += ["", f"![confusion matrix]({picture.name})", ""]
    if notes:
        lines += [notes.strip(), ""]
    text = "\n".join(lines)
    replace_atomically(card_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return card_path


def card_accuracy(card_path: str | os.PathLike) -> float:
    """The cross-validated accuracy figure written in a model card."""
    for line in Path(card_path).read_text(encoding="utf-8").splitlines():
        if CARD_ACCURACY_PREFIX in line:
            return float(line.split(CARD_ACCURACY_PREFIX, 1)[1].split()[0])
    raise ValueError(f"{card_path}: no line with {CARD_ACCURACY_PREFIX!r}")


def describe_rejection(info: dict) -> str:
    """One sentence on a model's ``unknown`` and ``partial`` rules, from its metadata's
    ``rejection`` entry (what ``poseclf train`` prints and model cards say)."""
    world = (f" ({info['threshold_image']:.3f} for a pose without world landmarks)"
             if info.get("features") == "image+world" else "")
    text = (f"a pose is `unknown` when its novelty score is above {info['threshold']:.3f}"
            f"{world}: at least the {info['percentile']:g}th percentile of held-out in-class "
            f"scores")
    negatives = info.get("negatives") or {}
    if info.get("negative_ratio"):
        sources = ", ".join(f"{k} {v}" for k, v in (info.get("negatives_sources") or {}).items())
        text += (f" and never below the median novelty of the negatives; also when it is "
                 f"nearer to the negatives than {info['negative_ratio']:.2f} times its "
                 f"distance to the training poses, or farther from its predicted class than "
                 f"that class's own poses are (negatives: {negatives['kept']} of "
                 f"{negatives['given']} poses kept" + (f", from {sources}" if sources else "")
                 + "; the others looked like the model's own classes)")
    elif negatives.get("given"):
        text += f" (all {negatives['given']} negatives looked like the model's classes)"
    else:
        text += " (no negatives)"
    if info.get("min_confidence"):
        text += (f"; also when the classifier gives no class {info['min_confidence']:.0%} "
                 "probability (a pose between several classes)")
    accepted = info.get("calibration_accepted_with_negatives", info["calibration_accepted"])
    text += f"; {accepted:.1%} of held-out in-class poses accepted"
    visibility = info.get("visibility") or {}
    if visibility.get("rule") == "placed":
        joints = ", ".join(visibility.get("required") or []) or "none"
        text += (f"; `partial` when more than {visibility['max_hidden_joints']} of the joints "
                 f"the classes need ({joints}) are out of the picture")
    else:
        text += (f"; `partial` when more than {visibility.get('max_hidden_joints', '?')} key "
                 f"joints have visibility below {visibility.get('min_visibility', '?')} or are "
                 "out of the picture")
    return text
