"""Models and landmark tables that ship with poseclf, found by bare name (``--model yoga``).

They live in the repository's ``models/`` and ``datasets/`` folders, installed as the packages
``poseclf.shipped_models`` and ``poseclf.shipped_datasets``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .classify.model_file import MODEL_SUFFIX
from .errors import ModelFileError, TableError

MODELS_PACKAGE = "poseclf.shipped_models"
DATASETS_PACKAGE = "poseclf.shipped_datasets"


@dataclass(frozen=True)
class ShippedModel:
    """A model file that ships with poseclf, and its model card (Markdown) when present."""

    name: str
    path: Path
    card: Path | None


#: Where each package's files sit in a source checkout (``import poseclf`` from the repository,
#: e.g. ``python -m pytest`` at its top, finds the source tree, which has no such packages).
_SOURCE_FOLDERS = {MODELS_PACKAGE: "models", DATASETS_PACKAGE: "datasets"}


def _package_dir(package: str) -> Path:
    try:
        return Path(str(resources.files(package)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / _SOURCE_FOLDERS[package]


def shipped_models() -> list[ShippedModel]:
    """Every shipped model, sorted by name."""
    folder = _package_dir(MODELS_PACKAGE)
    found = []
    for path in sorted(folder.glob(f"*{MODEL_SUFFIX}")):
        card = path.with_suffix(".md")
        found.append(ShippedModel(path.stem, path, card if card.is_file() else None))
    return found


def resolve_model(name_or_path: str | os.PathLike) -> Path:
    """A model file path: an existing regular file as given, else the shipped model of that
    name. A folder, a pipe or a device is refused before anything opens it."""
    text = os.fspath(name_or_path)
    text = os.fsdecode(text) if isinstance(text, bytes) else text
    names = ", ".join(m.name for m in shipped_models()) or "none"
    if not text.strip():
        raise ModelFileError(f"the model name is empty; give a model file ({MODEL_SUFFIX}) or "
                             f"a shipped model name (shipped: {names})")
    if "\0" in text:
        raise ModelFileError(f"{text!r}: not a file name (it holds a NUL character); give a "
                             f"model file ({MODEL_SUFFIX}) or a shipped model name")
    path = Path(text)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:  # a name too long, a loop of links, a parent that is a file
        mode = err
    if isinstance(mode, int) and stat.S_ISREG(mode):
        if not os.access(path, os.R_OK):
            raise ModelFileError(f"{path}: permission denied; make the model file readable "
                                 "(chmod u+r)")
        return path
    for model in shipped_models():
        if model.name == text:
            return model.path
    if isinstance(mode, OSError):
        raise ModelFileError(f"{path}: cannot open it ({mode.strerror or mode}); check the "
                             "path of the model file")
    if mode is None:
        raise ModelFileError(_missing_model(path, text, names))
    if stat.S_ISDIR(mode):
        inside = sorted(p.name for p in path.glob(f"*{MODEL_SUFFIX}"))[:3]
        hint = f" (it holds {', '.join(inside)})" if inside else ""
        raise ModelFileError(f"{path}: is a folder, not a model file; give the "
                             f"{MODEL_SUFFIX} file itself{hint}")
    raise ModelFileError(f"{path}: not a regular file (a pipe, socket or device); give a model "
                         "file saved on disk")


def _missing_model(path: Path, text: str, names: str) -> str:
    """Why ``path`` is not found, and what the user may have meant."""
    shipped = [m.name for m in shipped_models()]
    bare = os.sep not in text and not (os.altsep and os.altsep in text)
    if bare and not path.suffix:
        return (f"{text}: no such model file, and no shipped model has that name (shipped: "
                f"{names}; `poseclf models` lists them). Give the path of a {MODEL_SUFFIX} file "
                "or train one with `poseclf train`.")
    hint = ""
    if not path.suffix and path.with_suffix(MODEL_SUFFIX).is_file():
        hint = f" Did you mean {path.with_suffix(MODEL_SUFFIX)}?"
    elif path.stem in shipped and not path.parent.exists():
        hint = f" The shipped model {path.stem!r} is named without a folder: --model {path.stem}."
    elif path.stem in shipped and not bare:
        hint = f" (A shipped model is named without a folder or extension: {path.stem}.)"
    return (f"{path}: no such model file; check the path, or train one with "
            f"`poseclf train`.{hint}")


def shipped_tables() -> dict[str, Path]:
    """Shipped landmark tables by name (file stem)."""
    folder = _package_dir(DATASETS_PACKAGE)
    return {p.stem: p for p in sorted(folder.glob("*.csv")) + sorted(folder.glob("*.parquet"))}


def resolve_table(name_or_path: str | os.PathLike) -> Path:
    """A table path: an existing file as given, else the shipped table of that name."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    tables = shipped_tables()
    if str(name_or_path) in tables:
        return tables[str(name_or_path)]
    raise TableError(
        f"{name_or_path}: no such table file, and no shipped table has that name "
        f"(shipped: {', '.join(tables) or 'none'})"
    )
