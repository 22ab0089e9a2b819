"""A poseclf model file: its name and format marker, its kind by its first bytes, and the advice
of every refusal.

:meth:`poseclf.classify.model.PoseModel.load` refuses a file with one
:class:`~poseclf.errors.ModelFileError` that names it and says what to do, in this order:

1. the path (:func:`poseclf.shipped.resolve_model`): a regular, readable file; a folder, a FIFO
   or a device is refused before it is opened;
2. its first bytes (:func:`sniff`): empty, a damaged or truncated zip, a pickle, something else;
3. the skops zip, from its directory, ``schema.json`` and the headers of its ``.npy`` members
   only (:func:`poseclf.classify.skops_archive.inspect_skops`, which holds the size limits):
   nothing is decompressed beyond a header, so a small file that declares a huge array costs
   nothing to refuse;
4. the loaded payload (:mod:`poseclf.classify.model_metadata`,
   :func:`poseclf.classify.loaded_model_checks.check_pipeline`) and one prediction on a
   made-up pose (:func:`poseclf.classify.loaded_model_checks.check_predicts`): a file that
   loads can classify.

:func:`check_model_output` checks, before the work, where a model will be saved.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError, ModelFileError

MODEL_FORMAT = "poseclf-model"  # the ``format`` marker of every saved poseclf model
#: The format written; bump when the saved layout changes meaning, so an older poseclf refuses
#: the file instead of misreading it. 2: the novelty scorer keeps a mirror column map instead
#: of the mirror images, and class codes instead of class names.
MODEL_FORMAT_VERSION = 2
#: Formats this poseclf reads (format 1: files written before the column map).
READABLE_FORMAT_VERSIONS = (1, 2)
MODEL_SUFFIX = ".skops"
MAX_MEMBERS = 10_000  # zip members (the zip directory is read in memory)

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


def _reason(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


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
