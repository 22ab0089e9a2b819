"""Landmark tables to and from the pose-samples CSV of MediaPipe's pose-classification colab and
ML Kit's Android pose-classification sample.

That format has one line per pose and no header: ``name,class_name,x1,y1,z1,...,x33,y33,z33``,
101 fields split on commas (the Android sample does not read quotes), the landmarks in pixels
(``x * width, y * height, z * width``, as the colab writes them). It has no image size, no
visibility and no world landmarks. So that a poseclf table comes back exactly, poseclf writes
each name as the row's path followed by ``@WIDTHxHEIGHT`` (the apps only show the name), and
escapes ``%``, ``,`` and line breaks in names and classes (``%25``, ``%2C``, ``%0A``, ``%0D``).

Reading such a file back gives a poseclf table: the names' sizes when they have one, else
``image_size`` for every pose, else each pose's own smallest square picture that holds its
landmarks (the embedding does not depend on the picture's size, but the ``partial`` rule then
sees every landmark inside the picture); visibility 1 (the format has none) and no world
landmarks (a model on 3D features then classifies the picture landmarks as 3D points, and says
so).

Imports: NumPy, pandas (in the functions), :mod:`poseclf.pose`, :mod:`poseclf.files`.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError, TableError
from ..files import replace_atomically
from ..pose.landmarks import N_LANDMARKS
from ..pose.poses import Poses

if TYPE_CHECKING:
    import pandas as pd

MLKIT_DIMS = 3  # x, y, z per landmark
MLKIT_FIELDS = 2 + N_LANDMARKS * MLKIT_DIMS  # name, class_name, 99 coordinates
_ESCAPES = (("%", "%25"), (",", "%2C"), ("\n", "%0A"), ("\r", "%0D"))  # "%" first
_SIZE = re.compile(r"^(.*)@(\d+)x(\d+)$", re.DOTALL)  # "path@640x480"


@dataclass(frozen=True)
class MlkitExport:
    """What :func:`write_mlkit_csv` wrote."""

    path: Path
    written: int  # detected rows, one line each
    skipped: int  # rows without a pose (the format has no place for them)

    def __str__(self) -> str:
        skipped = f"; {self.skipped} row(s) without a pose left out" if self.skipped else ""
        return f"{self.path}: {self.written} pose sample(s) in ML Kit's CSV format{skipped}"


def escape(text: str) -> str:
    """``text`` without the characters that would split an ML Kit CSV field."""
    for raw, code in _ESCAPES:
        text = text.replace(raw, code)
    return text


def unescape(text: str) -> str:
    """The inverse of :func:`escape` (other ``%xx`` sequences are left as they are)."""
    return re.sub("%(2C|0A|0D|25)", lambda m: {"2C": ",", "0A": "\n", "0D": "\r",
                                               "25": "%"}[m.group(1)], text)


def mlkit_lines(df: pd.DataFrame) -> list[str]:
    """One ML Kit pose-sample line per detected row of a poseclf table."""
    kept = df[df["detected"]]
    poses = Poses.from_table(kept)
    pixels = poses.landmarks[:, :, :3].astype(np.float64) * poses.image_sizes.astype(
        np.float64)[:, None, [0, 1, 0]]
    lines = []
    for path, label, size, values in zip(kept["path"], kept["label"],
                                         poses.image_sizes.astype(np.int64), pixels, strict=True):
        name = escape(f"{path}@{size[0]}x{size[1]}")
        numbers = ",".join(repr(v) for v in values.ravel().tolist())  # shortest exact text
        lines.append(f"{name},{escape(str(label))},{numbers}")
    return lines


def write_mlkit_csv(df: pd.DataFrame, path: str | os.PathLike,
                    source: str | os.PathLike = "table") -> MlkitExport:
    """Write the detected rows of a poseclf table as ML Kit pose samples, atomically.

    Raises :class:`~poseclf.errors.InputError` (naming ``source``) when no row has a pose.
    """
    lines = mlkit_lines(df)
    if not lines:
        raise InputError(f"{source}: no row has a detected pose ({len(df)} row(s)); extract "
                         "the photos again or give another table")
    text = "\n".join(lines) + "\n"
    out = replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return MlkitExport(out, len(lines), int(len(df) - len(lines)))


def is_mlkit_csv(path: str | os.PathLike) -> bool:
    """Whether the first line of ``path`` has the 101 comma-separated fields of a pose sample
    (a poseclf table's header has 237)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError:
        return False
    return first.count(",") == MLKIT_FIELDS - 1


def read_mlkit_csv(path: str | os.PathLike,
                   image_size: tuple[int, int] | None = None) -> pd.DataFrame:
    """A poseclf table (every row detected) from an ML Kit / colab pose-samples CSV.

    ``image_size`` (width, height): the pictures' size for samples whose name carries none
    (see the module notes). Refuses, naming the file and line, a line without 101 fields or
    with a coordinate that is not a finite number.
    """
    path = Path(path)
    names, labels, sizes, values = [], [], [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split(",")
            if len(fields) != MLKIT_FIELDS:
                raise TableError(f"{path}: line {number} has {len(fields)} fields, an ML Kit "
                                 f"pose sample has {MLKIT_FIELDS} (name,class_name,x1,y1,z1,"
                                 "...,z33); fix or remove that line")
            try:
                coords = [float(v) for v in fields[2:]]
            except ValueError:
                coords = [math.nan]
            if not all(math.isfinite(v) for v in coords):
                raise TableError(f"{path}: line {number} has a coordinate that is not a "
                                 "finite number; fix or remove that line")
            if not fields[1].strip():
                raise TableError(f"{path}: line {number} has no class_name (its second field); "
                                 "give it its class or remove that line")
            name, size = _name_and_size(unescape(fields[0]))
            names.append(name)
            labels.append(unescape(fields[1]))
            sizes.append(size or image_size)
            values.append(coords)
    if not names:
        raise TableError(f"{path}: no pose sample in the file; give an ML Kit pose-samples CSV "
                         "(name,class_name,x1,y1,z1,...,z33 per line)")
    pixels = np.asarray(values, dtype=np.float64).reshape(-1, N_LANDMARKS, MLKIT_DIMS)
    wh = np.asarray([s if s is not None else _bounding_square(p)
                     for s, p in zip(sizes, pixels, strict=True)], dtype=np.float64)
    landmarks = np.ones((len(names), N_LANDMARKS, 4))  # visibility 1: the format has none
    landmarks[:, :, :3] = pixels / wh[:, None, [0, 1, 0]]
    poses = Poses(landmarks.astype(np.float32), None, wh)
    return poses.to_table(names, labels, [""] * len(names))


def _name_and_size(name: str) -> tuple[str, tuple[int, int] | None]:
    """``("photo.jpg", (640, 480))`` for ``"photo.jpg@640x480"``; no size otherwise."""
    found = _SIZE.match(name)
    if found is None or int(found.group(2)) < 1 or int(found.group(3)) < 1:
        return name, None
    return found.group(1), (int(found.group(2)), int(found.group(3)))


def _bounding_square(pixels: np.ndarray) -> tuple[int, int]:
    """The smallest square picture (whole pixels, from the origin) holding every landmark."""
    side = max(1, math.ceil(float(np.max(pixels[:, :2]))))
    return side, side
