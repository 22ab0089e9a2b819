"""A skops model file checked from its zip directory, ``schema.json`` and ``.npy`` headers,
before skops loads anything: sizes, and the format marker and metadata the schema declares.

:func:`inspect_skops` is step 3 of the checks listed in :mod:`poseclf.classify.model_file`.

Size limits (``trusted=True`` skips them, as it skips the type check: you vouch for the file).
Bytes are what skops reads into memory: ``schema.json`` plus every array member, counted once
per object that refers to it.

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
  in memory, and :data:`~poseclf.classify.model_file.MAX_MEMBERS` (10,000; the shipped models
  have 27 to 64) zip members (checked with the first bytes).
"""

from __future__ import annotations

import itertools
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from .model_file import MODEL_FORMAT, REMAKE, _reason, mib, sniff
from .model_metadata import check_format, check_metadata

MAX_MODEL_BYTES = 512 << 20  # what skops may read into memory, in all
MAX_SCHEMA_BYTES = 16 << 20  # schema.json, parsed in memory
MAX_FEATURES = 1024  # columns of an array (widest embedding: 500 values)
ARRAY_FLOOR_VALUES = 1 << 22  # values of an array whatever the training-set size
TOTAL_FLOOR_BYTES = 32 << 20  # bytes of all arrays whatever the training-set size
BYTES_PER_SAMPLE = 64 << 10  # more bytes of all arrays per training pose
NPY_MAX_HEADER = 10_000  # numpy's own limit on a .npy header


def inspect_skops(path: Path, trusted: bool) -> dict:
    """Check a skops file from its zip directory, ``schema.json`` and ``.npy`` headers; return
    the parsed schema. Never decompresses more than a header of any array."""
    return _inspect(path, trusted)[0]


def read_metadata(path: Path) -> dict:
    """The metadata of a poseclf model file, read from its ``schema.json`` after checks 2 and 3
    of :mod:`poseclf.classify.model_file` (first bytes, zip directory, sizes, format, metadata).

    Nothing is loaded, so neither skops nor scikit-learn is imported: ``poseclf models`` lists
    the shipped models this way. A file that passes may still fail the checks of the loaded
    payload (step 4), which :meth:`~poseclf.classify.model.PoseModel.load` runs.
    """
    sniff(path, trusted=False)
    return _inspect(path, trusted=False)[1]


def _inspect(path: Path, trusted: bool) -> tuple[dict, dict | None]:
    """The parsed schema and (unless ``trusted``) the checked metadata of a skops file."""
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


def _inspect_archive(archive: zipfile.ZipFile, path: Path, trusted: bool
                     ) -> tuple[dict, dict | None]:
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
    meta = None
    if not trusted:
        scalars = {name for name, shape, _ in arrays if shape == ()}

        def scalar(name: str):  # numpy scalars of the metadata (np.str_ class names)
            if name not in scalars:
                return _OPAQUE
            with archive.open(infos[name]) as f:
                return np.load(f, allow_pickle=False).item()

        meta = check_schema_payload(schema, path, scalar)
        _check_proportions(arrays, meta, path)
    return schema, meta


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


# -- the payload's marker and metadata, read from schema.json ---------------------------------
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
            f"'{MODEL_FORMAT}' marker); give a model saved by `poseclf train`")
    content = schema.get("content")
    if not isinstance(content, dict):
        raise ModelFileError(f"{path}: damaged skops model file (its top-level dict has no "
                             f"content); {REMAKE}")
    check_format(_plain(content.get("format")), _plain(content.get("format_version")), path)
    meta = _plain(content["metadata"], scalar) if "metadata" in content else None
    check_metadata(meta, path)
    return meta

