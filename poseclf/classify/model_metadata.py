"""The format marker, format version and metadata of a model payload, checked before they are
used: read from ``schema.json`` before loading, and from the loaded payload after.

:func:`check_metadata` refuses metadata that poseclf could not show or use (types, ranges,
consistency, the poseclf major version and the landmark schema).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from .model_file import MODEL_FORMAT, MODEL_FORMAT_VERSION, READABLE_FORMAT_VERSIONS, REMAKE


def check_format(marker, version, path: Path) -> None:
    """The ``format`` marker and ``format_version`` of a payload."""
    from .._version import __version__
    if marker != MODEL_FORMAT:
        raise ModelFileError(f"{path}: not a poseclf model file (no '{MODEL_FORMAT}' marker); "
                             "give a model saved by `poseclf train`")
    if type(version) is int and version > MODEL_FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format {version} was written by a newer poseclf; this poseclf "
            f"{__version__} reads format {MODEL_FORMAT_VERSION}: upgrade poseclf "
            "(pip install -U poseclf) or re-train the model with this one (`poseclf train`)")
    if type(version) is not int or version not in READABLE_FORMAT_VERSIONS:
        readable = ", ".join(map(str, READABLE_FORMAT_VERSIONS))
        raise ModelFileError(
            f"{path}: model file format {version!r} is not supported by poseclf {__version__} "
            f"(reads {readable}); retrain it with `poseclf train`.")


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value) -> bool:
    return _is_int(value) or (isinstance(value, (float, np.floating)) and math.isfinite(value))


class _Bad(Exception):
    """One wrong metadata value (the message says which)."""


def _need(ok: bool, what: str, value) -> None:
    if not ok:
        shown = "missing" if value is _MISSING else f"{value!r}"[:60]
        raise _Bad(f"{what}, got {shown}")


_MISSING = object()


def check_metadata(meta, path: Path) -> None:
    """Refuse metadata that poseclf could not show or use (types, ranges, consistency)."""
    from .._version import __version__
    from ..pose.table import SCHEMA_VERSION

    if not isinstance(meta, dict):
        what = "none in the file" if meta is None else f"a {type(meta).__name__}, not a dict"
        raise ModelFileError(f"{path}: damaged model metadata ({what}); {REMAKE}")
    saved = meta.get("poseclf_version", _MISSING)
    if not isinstance(saved, str) or not _digits(saved[:1]):
        raise ModelFileError(f"{path}: damaged model metadata (poseclf_version "
                             f"{'missing' if saved is _MISSING else repr(saved)[:40]}); {REMAKE}")
    head = saved.split(".")[0]
    mine, theirs = int(__version__.split(".")[0]), int(head) if _digits(head) else -1
    if theirs != mine:
        fix = ("upgrade poseclf (pip install -U poseclf) or retrain it with this one "
               "(`poseclf train`)" if theirs > mine else "retrain it with `poseclf train`")
        raise ModelFileError(f"{path}: model was saved by poseclf {saved}, incompatible with "
                             f"{__version__} (different major version); {fix}.")
    schema = meta.get("schema_version", _MISSING)
    if not _is_int(schema) or schema != SCHEMA_VERSION:
        shown = "missing" if schema is _MISSING else repr(schema)
        raise ModelFileError(
            f"{path}: model was trained on landmark schema {shown}, this poseclf reads schema "
            f"{SCHEMA_VERSION}; re-extract the table and retrain with `poseclf train`.")
    try:
        _check_metadata_values(meta)
    except _Bad as err:
        raise ModelFileError(f"{path}: damaged model metadata ({err}); {REMAKE}") from None


def _check_metadata_values(meta: dict) -> None:
    get = meta.get
    _need(isinstance(get("classifier", _MISSING), str) and get("classifier"),
          "classifier must be a name", get("classifier", _MISSING))
    n = get("n_samples", _MISSING)
    _need(_is_int(n) and n >= 2, "n_samples must be a whole number >= 2", n)
    counts = get("class_counts", _MISSING)
    _need(isinstance(counts, dict) and len(counts) >= 2,
          "class_counts must map 2 or more class names to counts", counts)
    for name, count in counts.items():
        _need(isinstance(name, str) and name and _is_int(count) and count >= 1,
              "class_counts must map class names to counts >= 1", {name: count})
    _need(sum(counts.values()) == n, f"class_counts must add up to n_samples ({n})",
          sum(counts.values()))
    if "n_given" in meta:
        _need(_is_int(meta["n_given"]) and meta["n_given"] > n,
              f"n_given must be a whole number above n_samples ({n})", meta["n_given"])
    for key, kind in (("trained_at", str), ("mirror_augmentation", bool),
                      ("embedder_params", dict), ("classifier_params", dict),
                      ("view_augmentation", dict)):
        if key in meta:
            _need(isinstance(meta[key], kind), f"{key} must be a {kind.__name__}", meta[key])
    if "blazepose" in meta:
        _need(isinstance(meta["blazepose"], str) and meta["blazepose"]
              and set(meta["blazepose"].split("+")) <= {"lite", "full", "heavy"},
              "blazepose must be lite, full or heavy (joined by '+')", meta["blazepose"])
    if get("cv_scores") is not None:
        _check_scores(meta["cv_scores"])
    if get("rejection") is not None:
        _check_rejection_metadata(meta["rejection"])
    if get("excluded") is not None:
        excluded = meta["excluded"]
        _need(isinstance(excluded, dict) and _is_int(excluded.get("rows"))
              and isinstance(excluded.get("lists"), list)
              and all(isinstance(p, str) for p in excluded["lists"]),
              "excluded must hold rows and lists", excluded)


def _share(value) -> bool:
    return _is_number(value) and 0 <= value <= 1


def _check_scores(scores) -> None:
    _need(isinstance(scores, dict), "cv_scores must be a dict", scores)
    for key in ("accuracy", "macro_f1"):
        _need(_share(scores.get(key, _MISSING)), f"cv_scores {key} must be in [0, 1]",
              scores.get(key, _MISSING))
    _need(_is_int(scores.get("folds")) and scores["folds"] >= 2,
          "cv_scores folds must be a whole number >= 2", scores.get("folds", _MISSING))
    recall = scores.get("recall", _MISSING)
    _need(isinstance(recall, dict) and all(isinstance(k, str) and _share(v)
                                           for k, v in recall.items()),
          "cv_scores recall must map classes to values in [0, 1]", recall)
    labels, confusion = scores.get("labels", _MISSING), scores.get("confusion", _MISSING)
    _need(isinstance(labels, list) and all(isinstance(s, str) for s in labels),
          "cv_scores labels must be a list of class names", labels)
    _need(isinstance(confusion, list) and len(confusion) == len(labels)
          and all(isinstance(row, list) and len(row) == len(labels)
                  and all(_is_int(v) and v >= 0 for v in row) for row in confusion),
          "cv_scores confusion must be a square table of counts, one row per label", confusion)


def _check_rejection_metadata(info) -> None:
    _need(isinstance(info, dict), "rejection must be a dict", info)
    _need(info.get("features", "image") in ("image", "image+world"),
          "rejection features must be 'image' or 'image+world'", info.get("features"))
    for key in ("threshold", "threshold_image"):
        _need(_is_number(info.get(key, _MISSING)) and info[key] >= 0,
              f"rejection {key} must be a finite number >= 0", info.get(key, _MISSING))
    _need(_is_number(info.get("percentile", _MISSING)) and 0 < info["percentile"] <= 100,
          "rejection percentile must be in (0, 100]", info.get("percentile", _MISSING))
    _need(_is_int(info.get("calibration_folds")) and info["calibration_folds"] >= 2,
          "rejection calibration_folds must be a whole number >= 2",
          info.get("calibration_folds", _MISSING))
    _need(_share(info.get("calibration_accepted", _MISSING)),
          "rejection calibration_accepted must be in [0, 1]",
          info.get("calibration_accepted", _MISSING))
    _need(_share(info.get("min_confidence", 0.0)),
          "rejection min_confidence must be in [0, 1]", info.get("min_confidence", _MISSING))
    visibility = info.get("visibility", _MISSING)
    _need(isinstance(visibility, dict)
          and _share(visibility.get("min_visibility", _MISSING))
          and _is_int(visibility.get("max_hidden_joints"))
          and 0 <= visibility["max_hidden_joints"] <= 6,
          "rejection visibility must hold min_visibility in [0, 1] and max_hidden_joints "
          "in 0..6", visibility)
