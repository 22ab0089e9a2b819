"""Crafted model files for the loader tests: a real small model, then one part of its zip changed.

The huge array is written as a deflate stream of repeated blocks, so a 1.6 GB all-zero array
costs a 1.6 MB file, ~0.6 s (its CRC) and a 16 MiB buffer: the tests never allocate it.
"""

from __future__ import annotations

import io
import json
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "datasets" / "pushups_visolus.csv"
CHUNK = 1 << 24  # zero bytes per repeated deflate block
HUGE_VALUES = 200_000_000  # float64 values of the huge array: 1.6 GB once loaded


@cache
def small_model_bytes(classifier: str = "knn") -> bytes:
    """A model trained on the shipped push-up table (88 poses, 2 classes), as file bytes."""
    import tempfile

    from poseclf.classify.model import PoseModel
    from poseclf.pose.poses import training_arrays, training_world_landmarks
    from poseclf.pose.table import load_table

    table = load_table(TABLE)
    lm, sizes, labels = training_arrays(table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = PoseModel.train(lm, sizes, labels, classifier, cv=0,
                                world_landmarks=training_world_landmarks(table))
    with tempfile.TemporaryDirectory() as tmp:
        return model.save(Path(tmp) / "m.skops").read_bytes()


def write_small_model(path: Path, classifier: str = "knn") -> Path:
    path.write_bytes(small_model_bytes(classifier))
    return path


def npy_header(shape: tuple, descr: str = "<f8") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    return buffer.getvalue()


def biggest_array(path: Path) -> str:
    """Name of the largest ``.npy`` member (the novelty reference poses)."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return max((i for i in archive.infolist() if i.filename.endswith(".npy")),
                   key=lambda i: i.file_size).filename


class ZeroArray:
    """An all-zero ``.npy`` member of ``shape``, deflated without ever being held in memory."""

    def __init__(self, shape: tuple, descr: str = "<f8"):
        self.header = npy_header(shape, descr)
        self.size = int(np.prod(shape)) * np.dtype(descr).itemsize

    def crc(self) -> int:
        crc = zlib.crc32(self.header)
        chunk = bytes(CHUNK)
        whole, rest = divmod(self.size, CHUNK)
        for _ in range(whole):
            crc = zlib.crc32(chunk, crc)
        return zlib.crc32(chunk[:rest], crc)

    def blocks(self) -> Iterator[bytes]:
        """Raw deflate: after a full flush, a chunk of zeros always compresses to the same
        block, so one block repeated is the stream of the whole array."""
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        yield c.compress(self.header) + c.flush(zlib.Z_FULL_FLUSH)
        whole, rest = divmod(self.size, CHUNK)
        if whole:
            block = c.compress(bytes(CHUNK)) + c.flush(zlib.Z_FULL_FLUSH)
            again = c.compress(bytes(CHUNK)) + c.flush(zlib.Z_FULL_FLUSH)
            assert block == again
            for _ in range(whole):
                yield block
        yield c.compress(bytes(rest)) + c.flush()


def rewrite_skops(src: Path, dst: Path, *, members: dict[str, bytes | ZeroArray] | None = None,
                  schema: Callable[[dict], dict] | None = None) -> Path:
    """Copy the skops zip ``src`` to ``dst`` with some members replaced (``schema`` edits the
    parsed ``schema.json``). Written by hand: zipfile would compress the huge array itself."""
    import zipfile

    members = dict(members or {})
    entries = []
    with zipfile.ZipFile(src) as archive, open(dst, "wb") as out:
        for info in archive.infolist():
            name = info.filename.encode()
            new = members.pop(info.filename, None)
            if new is None:
                data = archive.read(info)
                if info.filename == "schema.json" and schema is not None:
                    data = json.dumps(schema(json.loads(data))).encode()
                new = data
            if isinstance(new, ZeroArray):
                method, crc, size = 8, new.crc(), len(new.header) + new.size
                chunks = list(new.blocks())
            else:
                method, crc, size, chunks = 0, zlib.crc32(new), len(new), [new]
            packed = sum(len(c) for c in chunks)
            offset = out.tell()
            out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc,
                                  packed, size, len(name), 0) + name)
            for c in chunks:
                out.write(c)
            entries.append((name, method, crc, packed, size, offset))
        assert not members, f"no such members: {sorted(members)}"
        start = out.tell()
        for name, method, crc, packed, size, offset in entries:
            out.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21,
                                  crc, packed, size, len(name), 0, 0, 0, 0, 0, offset) + name)
        end = out.tell()
        out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                              end - start, start, 0))
    return dst


def metadata_node(schema: dict) -> dict:
    """The ``metadata`` dict node inside a parsed ``schema.json``."""
    return schema["content"]["metadata"]


def json_node(value) -> dict:
    """A skops node holding a JSON value (how skops stores builtins)."""
    return {"__class__": type(value).__name__, "__module__": "builtins",
            "__loader__": "JsonNode", "content": json.dumps(value), "is_json": True}


def set_metadata(**values) -> Callable[[dict], dict]:
    """A ``schema`` edit of :func:`rewrite_skops` setting metadata keys to JSON values
    (a value ``...`` deletes the key)."""
    def edit(schema: dict) -> dict:
        content = metadata_node(schema)["content"]
        for key, value in values.items():
            if value is ...:
                content.pop(key, None)
            else:
                content[key] = json_node(value)
        return schema
    return edit


@cache
def huge_array_model(folder: Path) -> Path:
    """A 1.6 MB model file whose largest array became 200M zero float64 values (1.6 GB)."""
    small = write_small_model(folder / "small_for_huge.skops")
    shape = (HUGE_VALUES // 100, 100)
    return rewrite_skops(small, folder / "huge_array.skops",
                         members={biggest_array(small): ZeroArray(shape)})
