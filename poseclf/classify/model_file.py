"""Checks of a model file, made before anything in it is loaded, and of what it loads into.

:meth:`poseclf.classify.model.PoseModel.load` refuses a file with one
:class:`~poseclf.errors.ModelFileError` that names it and says what to do, in this order:

1. the path (:func:`poseclf.shipped.resolve_model`): a regular, readable file; a folder, a FIFO
   or a device is refused before it is opened;
2. its first bytes (:func:`sniff`): empty, a damaged or truncated zip, a pickle, something else;
3. the skops zip, from its directory, ``schema.json`` and the headers of its ``.npy`` members
   only (:func:`inspect_skops`): nothing is decompressed beyond a header, so a small file that
   declares a huge array costs nothing to refuse;
4. the loaded payload (:func:`check_metadata`, :func:`check_pipeline`) and one prediction on a
   made-up pose (:func:`check_predicts`): a file that loads can classify.

Size limits (step 3; ``trusted=True`` skips them, as it skips the type check: you vouch for the
file). Bytes are what skops reads into memory: ``schema.json`` plus every array member, counted
once per object that refers to it.

- :data:`MAX_MODEL_BYTES` (512 MiB) in all. poseclf's widest embedding (all landmark pairs,
  angles, directions, world directions: 500 values) costs ~16 KB per training pose (each pose
  and its mirror image are kept by the novelty data and by k-NN or SVM), the default one
  ~3.5 KB: 512 MiB is ~30,000 poses at the widest and ~150,000 at the default. The shipped
  models are 0.6 to 1.7 MB.
- In proportion to the metadata's ``n_samples`` (``n``) and number of classes (``k``): an
  array holds at most ``ARRAY_FLOOR_VALUES + 2 n max(MAX_FEATURES, k)`` values (rows: a pose and
  its mirror image; columns: features, or classes for SVM coefficients; the floor covers the
  parts whose size does not grow with the data: MLP layers, random states), and all of them take
  at most ``TOTAL_FLOOR_BYTES + BYTES_PER_SAMPLE n`` (measured: at most 21 KB a pose for every
  classifier and embedding, 4x headroom).
- :data:`MAX_SCHEMA_BYTES` (16 MiB; the shipped ones are 160-300 kB) for ``schema.json``, parsed
  in memory, and :data:`MAX_MEMBERS` (10,000; the shipped models have 27 to 64) zip members.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import struct
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelFileError

MODEL_FORMAT = "poseclf-model"  # the ``format`` marker of every saved poseclf model
MODEL_FORMAT_VERSION = 1  # bump when the saved layout changes meaning
MODEL_SUFFIX = ".skops"
MAX_MODEL_BYTES = 512 << 20  # what skops may read into memory, in all
MAX_SCHEMA_BYTES = 16 << 20  # schema.json, parsed in memory
MAX_MEMBERS = 10_000  # zip members (the zip directory is read in memory)
MAX_FEATURES = 1024  # columns of an array (widest embedding: 500 values)
ARRAY_FLOOR_VALUES = 1 << 22  # values of an array whatever the training-set size
TOTAL_FLOOR_BYTES = 32 << 20  # bytes of all arrays whatever the training-set size
BYTES_PER_SAMPLE = 64 << 10  # more bytes of all arrays per training pose
NPY_MAX_HEADER = 10_000  # numpy's own limit on a .npy header

#: What to do with a file that is damaged or was not written by poseclf.
REMAKE = "re-train the model with `poseclf train` or copy the file again"
#: Who may load pickles and unknown types (``poseclf video`` has no ``--trust``).
TRUST_HINT = ("load it with trusted=True (the --trust option of `poseclf predict` and "
              "`poseclf evaluate`) only if you trust its author")

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
#: First bytes of a pickle (protocol 2+) and of joblib's compressed pickles (zlib, gzip, bz2,
#: xz, lzma, lz4).
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"\x78\x01", b"\x78\x5e",
                 b"\x78\x9c", b"\x78\xda", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x5d\x00\x00",
                 b"\x04\x22\x4d\x18")
_EOCD = struct.Struct("<4s4H2LH")  # zip end-of-central-directory record


def mib(n: float) -> str:
    """``n`` bytes, readable: ``"1.5 GiB"``, ``"37.5 MiB"``."""
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MiB"


# -- 2. first bytes ---------------------------------------------------------------------------
def sniff(path: Path, trusted: bool) -> str:
    """``"zip"`` or ``"pickle"`` (only with ``trusted``); raises for anything else."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            size = os.fstat(f.fileno()).st_size
            tail_start = max(0, size - (_EOCD.size + 0xFFFF))
            f.seek(tail_start)
            tail = f.read()
    except OSError as err:
        raise ModelFileError(f"{path}: cannot read it ({err.strerror or err}); check the file "
                             "and its permissions") from None
    if not head:
        raise ModelFileError(f"{path}: the file is empty (0 bytes), not a model; {REMAKE}")
    directory = _zip_directory(tail)
    if directory is not None:
        entries, cd_size = directory
        if not trusted and entries is None:
            raise ModelFileError(f"{path}: refused: a ZIP64 archive (over 65,535 members or "
                                 f"4 GiB), a poseclf model has a few dozen members; {REMAKE}")
        if not trusted and (entries > MAX_MEMBERS or cd_size > MAX_MEMBERS * 1024):
            raise ModelFileError(
                f"{path}: refused: the zip lists {entries} members ({mib(cd_size)} of "
                f"directory), a poseclf model has a few dozen; {REMAKE}")
        return "zip"
    if head.startswith(_ZIP_MAGIC):
        raise ModelFileError(
            f"{path}: damaged or truncated skops model file (the zip archive has no end, "
            f"{size} bytes); {REMAKE}")
    if trusted:
        return "pickle"
    if head.startswith(_PICKLE_MAGIC):
        raise ModelFileError(
            f"{path}: not a skops model file; it looks like a joblib/pickle file, which can run "
            f"code when loaded: {TRUST_HINT}, then save it again as {MODEL_SUFFIX}")
    raise ModelFileError(f"{path}: not a skops model file (neither a zip archive nor a "
                         "pickle); give a model saved by `poseclf train`")


def _zip_directory(tail: bytes) -> tuple[int | None, int] | None:
    """Member count and directory size from the last end-of-central-directory record in
    ``tail`` (the last 64 kB of a file), or None when there is none (not a zip, or cut).
    The count is None for a ZIP64 archive (more than 65,535 members, or 4 GiB)."""
    at = tail.rfind(b"PK\x05\x06")
    while at >= 0:
        if len(tail) - at >= _EOCD.size:
            _, disk, _, _, entries, cd_size, cd_offset, comment = _EOCD.unpack_from(tail, at)
            if at + _EOCD.size + comment <= len(tail):
                if entries == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
                    return None, cd_size
                return entries, cd_size
        at = tail.rfind(b"PK\x05\x06", 0, at)
    return None


# -- 3. the skops zip, before loading -------------------------------------------------------
def inspect_skops(path: Path, trusted: bool) -> dict:
    """Check a skops file from its zip directory, ``schema.json`` and ``.npy`` headers; return
    the parsed schema. Never decompresses more than a header of any array."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _inspect_archive(archive, path, trusted)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, RuntimeError,
            NotImplementedError, OSError, RecursionError, KeyError) as err:
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression
        raise ModelFileError(f"{path}: damaged skops model file ({_reason(err)}); "
                             f"{REMAKE}") from None
    except Exception as err:  # noqa: BLE001 - zlib.error and others: a damaged archive
        raise ModelFileError(f"{path}: damaged skops model file ({_reason(err)}); "
                             f"{REMAKE}") from None


def _reason(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _inspect_archive(archive: zipfile.ZipFile, path: Path, trusted: bool) -> dict:
    infos = {}
    for info in archive.infolist():
        if info.filename in infos:
            raise ModelFileError(f"{path}: damaged skops model file (member {info.filename} "
                                 f"appears twice); {REMAKE}")
        infos[info.filename] = info
    schema_info = infos.get("schema.json")
    if schema_info is None:
        raise ModelFileError(f"{path}: a zip archive but not a skops model file (no "
                             "schema.json); give a model saved by `poseclf train`")
    if not trusted and schema_info.file_size > MAX_SCHEMA_BYTES:
        raise ModelFileError(
            f"{path}: refused: its schema.json takes {mib(schema_info.file_size)}, above the "
            f"{mib(MAX_SCHEMA_BYTES)} limit (a poseclf model's is well under 1 MiB); {REMAKE}")
    schema = json.loads(archive.read(schema_info))
    if not isinstance(schema, dict):
        raise ModelFileError(f"{path}: damaged skops model file (schema.json holds no "
                             f"object); {REMAKE}")
    arrays = _check_members(archive, infos, schema, path, trusted)
    if not trusted:
        scalars = {name for name, shape, _ in arrays if shape == ()}

        def scalar(name: str):  # numpy scalars of the metadata (np.str_ class names)
            if name not in scalars:
                return _OPAQUE
            with archive.open(infos[name]) as f:
                return np.load(f, allow_pickle=False).item()

        meta = check_schema_payload(schema, path, scalar)
        _check_proportions(arrays, meta, path)
    return schema


def _referenced_files(schema: dict) -> list[tuple[str, dict]]:
    """``(member, node)`` for every node that makes skops read a member, once per object id
    (skops builds each id once; nodes without an id are read each time)."""
    found: dict[object, tuple[str, dict]] = {}
    stack: list = [schema]
    anonymous = itertools.count()
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("file"), str) and "__loader__" in node:
                key = node.get("__id__") or ("anonymous", next(anonymous))
                found.setdefault(key, (node["file"], node))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return list(found.values())


def _check_members(archive: zipfile.ZipFile, infos: dict, schema: dict, path: Path,
                   trusted: bool) -> list[tuple[str, tuple, int]]:
    """Total bytes skops would read, and each array's header against its member's size.
    Returns ``(member, shape, bytes)`` of each array."""
    total = infos["schema.json"].file_size
    arrays = []
    headers: dict[str, tuple[tuple, int]] = {}
    for name, node in _referenced_files(schema):
        info = infos.get(name)
        if info is None:
            raise ModelFileError(f"{path}: damaged skops model file (member {name} is "
                                 f"missing); {REMAKE}")
        total += info.file_size
        if not trusted and total > MAX_MODEL_BYTES:
            raise ModelFileError(
                f"{path}: refused: loading it would read more than {mib(MAX_MODEL_BYTES)} "
                f"(poseclf's limit for a model file; member {name} alone holds "
                f"{mib(info.file_size)}); if you made this file yourself, {_trust_short()}; "
                f"else {REMAKE}")
        if node.get("__loader__") == "NdArrayNode" and node.get("type") == "numpy":
            if name not in headers:
                headers[name] = _npy_header(archive, info, path)
            shape, nbytes = headers[name]
            arrays.append((name, shape, nbytes))
    return arrays


def _trust_short() -> str:
    return "load it with trusted=True (`poseclf predict/evaluate --trust`)"


def _npy_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> tuple[tuple, int]:
    """Shape and data size declared by a ``.npy`` member, checked against the member's size."""
    fmt = np.lib.format
    try:
        with archive.open(info) as f:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(f, max_header_size=NPY_MAX_HEADER)
            elif version == (2, 0):
                shape, _, dtype = fmt.read_array_header_2_0(f, max_header_size=NPY_MAX_HEADER)
            else:
                raise ValueError(f"npy format version {version}")
            offset = f.tell()
    except (ValueError, EOFError, TypeError, SyntaxError) as err:
        raise ModelFileError(f"{path}: damaged skops model file (array {info.filename}: "
                             f"{_reason(err)}); {REMAKE}") from None
    if dtype.hasobject or any(not isinstance(d, int) or d < 0 for d in shape):
        raise ModelFileError(f"{path}: damaged skops model file (array {info.filename} "
                             f"declares {dtype} values of shape {shape}); {REMAKE}")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != info.file_size - offset:
        raise ModelFileError(
            f"{path}: damaged skops model file (array {info.filename} declares shape {shape}, "
            f"{nbytes} bytes, but holds {info.file_size - offset}); {REMAKE}")
    return shape, nbytes


def _check_proportions(arrays: list[tuple[str, tuple, int]], meta: dict, path: Path) -> None:
    """Arrays in proportion to the training set the metadata describes."""
    n, classes = meta["n_samples"], len(meta["class_counts"])
    max_values = ARRAY_FLOOR_VALUES + 2 * n * max(MAX_FEATURES, classes)
    max_bytes = TOTAL_FLOOR_BYTES + BYTES_PER_SAMPLE * n
    total = 0
    for name, shape, nbytes in arrays:
        values = math.prod(shape)
        if values > max_values:
            raise ModelFileError(
                f"{path}: refused: array {name} declares {values:,} values {shape} "
                f"({mib(nbytes)}), out of proportion with a model trained on {n} poses of "
                f"{classes} classes (at most {max_values:,} values an array); {REMAKE}")
        total += nbytes
    if total > max_bytes:
        raise ModelFileError(
            f"{path}: refused: its arrays take {mib(total)}, out of proportion with a model "
            f"trained on {n} poses (at most {mib(max_bytes)}); {REMAKE}")


# -- the payload, from schema.json before loading and from the loaded object after ------------
class _Opaque:
    """A value of the schema that is not plain data (decided after loading)."""

    def __repr__(self) -> str:
        return "a non-plain value"


_OPAQUE = _Opaque()


_SCALARS = ("str_", "float64", "float32", "int64", "int32", "bool_")


def _plain(node, scalar=lambda name: _OPAQUE):
    """The plain value of a skops node made of dicts, lists, tuples and JSON values, and numpy
    scalars (``scalar(member)`` reads them)."""
    if not isinstance(node, dict):
        return _OPAQUE
    loader, content = node.get("__loader__"), node.get("content")
    try:
        if node.get("__module__") == "numpy" and node.get("__class__") in _SCALARS \
                and loader == "NdArrayNode" and isinstance(node.get("file"), str):
            return scalar(node["file"])
        if node.get("__module__") != "builtins":
            return _OPAQUE
        if loader == "JsonNode" and isinstance(content, str):
            return json.loads(content)
        if loader == "DictNode" and isinstance(content, dict):
            return {key: _plain(value, scalar) for key, value in content.items()}
        if loader in ("ListNode", "TupleNode") and isinstance(content, list):
            return [_plain(value, scalar) for value in content]
    except (ValueError, RecursionError):
        pass
    return _OPAQUE


def check_schema_payload(schema: dict, path: Path, scalar=lambda name: _OPAQUE) -> dict:
    """The marker, format version and metadata of a skops file, read from its schema.json
    (nothing loaded); returns the metadata."""
    if schema.get("__loader__") != "DictNode" or schema.get("__module__") != "builtins":
        held = f"{schema.get('__module__')}.{schema.get('__class__')}"
        raise ModelFileError(
            f"{path}: not a poseclf model file: the skops file holds a {held} (no "
            f"'{_format()}' marker); give a model saved by `poseclf train`")
    content = schema.get("content")
    if not isinstance(content, dict):
        raise ModelFileError(f"{path}: damaged skops model file (its top-level dict has no "
                             f"content); {REMAKE}")
    check_format(_plain(content.get("format")), _plain(content.get("format_version")), path)
    meta = _plain(content["metadata"], scalar) if "metadata" in content else None
    check_metadata(meta, path)
    return meta


def _format() -> str:
    return MODEL_FORMAT


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
    if type(version) is not int or version != MODEL_FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format {version!r} is not supported by poseclf {__version__} "
            f"(expects {MODEL_FORMAT_VERSION}); retrain it with `poseclf train`.")


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
    for key, kind in (("trained_at", str), ("mirror_augmentation", bool),
                      ("embedder_params", dict), ("classifier_params", dict)):
        if key in meta:
            _need(isinstance(meta[key], kind), f"{key} must be a {kind.__name__}", meta[key])
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
    visibility = info.get("visibility", _MISSING)
    _need(isinstance(visibility, dict)
          and _share(visibility.get("min_visibility", _MISSING))
          and _is_int(visibility.get("max_hidden_joints"))
          and 0 <= visibility["max_hidden_joints"] <= 6,
          "rejection visibility must hold min_visibility in [0, 1] and max_hidden_joints "
          "in 0..6", visibility)


# -- 4. after loading -------------------------------------------------------------------------
def check_pipeline(pipeline, meta: dict, path: Path) -> None:
    """A fitted ``embed`` + classifier pipeline whose classes are the metadata's."""
    from sklearn.pipeline import Pipeline

    from .embedding import PoseEmbedder

    if not isinstance(pipeline, Pipeline):
        raise ModelFileError(f"{path}: the model file holds no fitted pipeline; {REMAKE}")
    steps = pipeline.steps
    if (not isinstance(steps, list) or len(steps) < 2
            or not all(isinstance(s, tuple) and len(s) == 2 for s in steps)
            or steps[0][0] != "embed" or not isinstance(steps[0][1], PoseEmbedder)
            or not hasattr(steps[0][1], "n_features_out_")):
        raise ModelFileError(f"{path}: the model's pipeline does not start with a fitted "
                             f"PoseEmbedder named 'embed'; {REMAKE}")
    classes = getattr(steps[-1][1], "classes_", None)
    if not (isinstance(classes, np.ndarray) and classes.ndim == 1 and len(classes) >= 2
            and all(isinstance(c, str) for c in classes.tolist())
            and len(set(classes.tolist())) == len(classes)):
        raise ModelFileError(f"{path}: the model's classifier has no list of 2 or more "
                             f"distinct class names (got {classes!r:.60}); {REMAKE}")
    if sorted(classes.tolist()) != sorted(meta["class_counts"]):
        raise ModelFileError(
            f"{path}: the classifier's {len(classes)} classes ({', '.join(classes[:5])}) are "
            f"not the {len(meta['class_counts'])} of the metadata's class_counts; {REMAKE}")


def check_novelty_scorer(scorer, path: Path, what: str) -> None:
    """A fitted NoveltyScorer with finite numbers."""
    from .novelty import NoveltyScorer

    fitted = isinstance(scorer, NoveltyScorer) and all(
        hasattr(scorer, a) for a in ("threshold_", "reference_", "center_", "scale_"))
    if not fitted:
        raise ModelFileError(f"{path}: the model file's {what} is not a fitted NoveltyScorer; "
                             "retrain it with `poseclf train`.")
    ref = scorer.reference_
    if not (_is_number(scorer.threshold_) and scorer.threshold_ >= 0
            and _is_number(scorer.scale_) and scorer.scale_ > 0
            and isinstance(ref, np.ndarray) and ref.ndim == 2 and len(ref) >= 1
            and np.isfinite(ref).all() and np.isfinite(scorer.center_).all()):
        raise ModelFileError(
            f"{path}: the model file's {what} has a threshold, scale or reference poses that "
            f"are not finite numbers (threshold {scorer.threshold_!r}); {REMAKE}")
    negatives = getattr(scorer, "negative_reference_", None)  # files from before: none
    ratio = getattr(scorer, "negative_ratio_", float("inf"))
    if negatives is not None and not (
            isinstance(negatives, np.ndarray) and negatives.ndim == 2 and len(negatives) >= 1
            and negatives.shape[1] == ref.shape[1] and np.isfinite(negatives).all()
            and _is_number(ratio) and 0 < ratio < float("inf")):
        raise ModelFileError(
            f"{path}: the model file's {what} has negative poses or a negative ratio that are "
            f"not finite numbers of the reference's shape (ratio {ratio!r}); {REMAKE}")
    thresholds = getattr(scorer, "class_thresholds_", None)
    if thresholds is not None:
        classes, labels = getattr(scorer, "classes_", None), getattr(
            scorer, "reference_labels_", None)
        if not (isinstance(thresholds, np.ndarray) and isinstance(classes, np.ndarray)
                and isinstance(labels, np.ndarray) and thresholds.shape == classes.shape
                and np.isfinite(thresholds).all() and len(labels) == len(ref)
                and set(np.unique(labels)) == set(classes)):
            raise ModelFileError(
                f"{path}: the model file's {what} has per-class thresholds that do not match "
                f"its classes or reference poses; {REMAKE}")


def probe_poses() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two standing people (landmarks, image sizes, world landmarks; the second has none)."""
    xy = {  # a person facing the camera, image coordinates in [0, 1]
        0: (0.50, 0.12), 1: (0.51, 0.10), 2: (0.52, 0.10), 3: (0.53, 0.10), 4: (0.49, 0.10),
        5: (0.48, 0.10), 6: (0.47, 0.10), 7: (0.55, 0.11), 8: (0.45, 0.11), 9: (0.52, 0.14),
        10: (0.48, 0.14), 11: (0.58, 0.25), 12: (0.42, 0.25), 13: (0.61, 0.38), 14: (0.39, 0.38),
        15: (0.62, 0.50), 16: (0.38, 0.50), 17: (0.63, 0.53), 18: (0.37, 0.53),
        19: (0.62, 0.54), 20: (0.38, 0.54), 21: (0.61, 0.52), 22: (0.39, 0.52),
        23: (0.55, 0.52), 24: (0.45, 0.52), 25: (0.55, 0.70), 26: (0.45, 0.70),
        27: (0.55, 0.88), 28: (0.45, 0.88), 29: (0.55, 0.90), 30: (0.45, 0.90),
        31: (0.56, 0.92), 32: (0.44, 0.92),
    }
    lm = np.zeros((2, 33, 4), np.float32)
    for i, (x, y) in xy.items():
        lm[:, i] = (x, y, 0.0, 1.0)
    world = np.full((2, 33, 3), np.nan)
    world[0, :, 0] = lm[0, :, 0] - 0.5
    world[0, :, 1] = (lm[0, :, 1] - 0.52) * 1.7
    world[0, :, 2] = 0.0
    return lm, np.tile([480.0, 640.0], (2, 1)), world


def check_predicts(model, path: Path) -> None:
    """One prediction on made-up poses: a model that loads can classify (else it is damaged)."""
    lm, sizes, world = probe_poses()
    try:
        result = model.predict_with_scores(lm, sizes, world_landmarks=world)
        ok = (result.proba.shape == (2, len(model.classes_)) and np.isfinite(result.proba).all()
              and (not model.can_reject or np.isfinite(result.novelty).all()))
        problem = "" if ok else "its probabilities or novelty scores are not finite numbers"
    except Exception as err:  # noqa: BLE001 - any failure means inconsistent parts
        problem = f"{type(err).__name__}: {_reason(err)}"
    if problem:
        raise ModelFileError(f"{path}: the model's parts do not fit together: it cannot "
                             f"classify a pose ({problem[:200]}); {REMAKE}")


# -- saving -----------------------------------------------------------------------------------
def check_model_output(path: str | os.PathLike, *, option: str | None = None,
                       inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Check where a model will be saved, before the work: a ``.skops`` name, not a folder, in
    a folder that can be written, and none of ``inputs`` (e.g. the training tables)."""
    from ..files import check_output_file

    path = Path(path)
    if not str(path).strip() or path.name in ("", ".", ".."):
        raise InputError(f"{option + ' ' if option else ''}{str(path)!r}: give a model file "
                         f"name ending in {MODEL_SUFFIX}")
    return check_output_file(path, option=option, suffixes=(MODEL_SUFFIX,), inputs=inputs)
