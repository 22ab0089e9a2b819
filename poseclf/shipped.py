"""Models and landmark tables that ship with poseclf, found by bare name (``--model yoga``).

They live in the repository's ``models/`` and ``datasets/`` folders, installed as the packages
``poseclf.shipped_models`` and ``poseclf.shipped_datasets``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import ModelFileError, TableError

MODEL_SUFFIX = ".skops"
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
    """A model file path: an existing file as given, else the shipped model of that name."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    for model in shipped_models():
        if model.name == str(name_or_path):
            return model.path
    names = ", ".join(m.name for m in shipped_models()) or "none"
    raise ModelFileError(
        f"{name_or_path}: no such model file, and no shipped model has that name "
        f"(shipped: {names}; `poseclf models` lists them). Train one with `poseclf train`."
    )


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
