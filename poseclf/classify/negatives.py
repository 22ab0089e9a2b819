"""Negatives: poses that are none of a model's classes, which tighten its ``unknown`` rule.

A model calibrated on its own classes alone sets its novelty threshold from its two or three
least typical training photos, so standing people may pass for push-ups. Negatives (people
standing around, sitting, walking, doing other exercises) show where the classes end:
:meth:`poseclf.classify.novelty.NoveltyScorer.fit` drops the negatives that look like members
of a class and answers ``unknown`` for a pose nearer to the rest than the training poses are.

:func:`everyday_negatives` is the default of ``poseclf train``: every detected pose of the
landmark tables that ship with poseclf (photos of sitting, standing, yoga and push-ups, and
video frames), as :class:`Negatives`. A user's own classes are never counted against them:
poses of a shipped table that are members of a class (e.g. standing people, for a model with a
``standing`` class) are dropped at training time.

Imports: NumPy, pandas, :mod:`poseclf.pose.poses`, :mod:`poseclf.pose.table`,
:mod:`poseclf.shipped`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import TableError
from ..pose.poses import Poses
from ..pose.table import load_table
from ..shipped import shipped_tables

#: Shipped tables that are not landmark tables of poses (segment lists, review lists).
_NOT_POSES = ("_segments", "exclusions")
#: Shipped tables of poses kept out of the default negatives: the fall clips' lying frames
#: (``falls_lying_*``, the ``lying`` class of ``sitstandlie``) came after the other shipped
#: models were calibrated; adding them would change those models' ``unknown`` answers on a
#: rebuild (sitstand, yoga and pushups stay as they were measured).
_NOT_NEGATIVES = ("falls_lying",)


@dataclass(frozen=True)
class Negatives:
    """Detected poses that are none of the classes, and where they came from.

    Attributes
    ----------
    poses : Poses
    sources : dict
        ``{table name: detected poses taken}``, in reading order (the model card lists it).
    """

    poses: Poses
    sources: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.poses)

    def without(self, *names: str) -> Negatives:
        """The same negatives without the poses of the named sources (for honest benchmarks:
        never measure on a source that was also a negative)."""
        keep = [n for n in self.sources if n not in names]
        bounds = np.cumsum([0, *self.sources.values()])
        index = np.concatenate([np.arange(bounds[i], bounds[i + 1])
                                for i, n in enumerate(self.sources) if n in keep] or
                               [np.zeros(0, dtype=int)])
        return Negatives(self.poses[index], {n: self.sources[n] for n in keep})


def negatives_from_tables(paths: Sequence[str | os.PathLike],
                          names: Sequence[str] | None = None) -> Negatives:
    """The detected poses of landmark tables (``poseclf extract`` output) as negatives.

    ``names`` label the sources (default: file stems). Raises :class:`TableError` naming a
    table that cannot be read or has no detected pose.
    """
    names = list(names) if names is not None else [Path(p).stem for p in paths]
    tables = {}
    for path, name in zip(paths, names, strict=True):
        table = load_table(path)
        if not table["detected"].any():
            raise TableError(f"{path}: the negatives table has no detected pose; give a table "
                             "made by `poseclf extract` with people in it")
        tables[name] = table if name not in tables else pd.concat([tables[name], table])
    return negatives_from_frames(tables)


def negatives_from_frames(tables: Mapping[str, pd.DataFrame]) -> Negatives:
    """The detected rows of checked landmark tables ``{source name: table}`` as negatives."""
    parts, sources = [], {}
    for name, table in tables.items():
        detected = table[table["detected"]]
        parts.append(Poses.from_table(detected))
        sources[name] = len(detected)
    if not parts:
        raise TableError("no negatives table given")
    poses = Poses(np.concatenate([p.landmarks for p in parts]),
                  np.concatenate([p.world_landmarks for p in parts]),
                  np.concatenate([p.image_sizes for p in parts]))
    return Negatives(poses, sources)


def everyday_negatives() -> Negatives:
    """Every detected pose of the landmark tables that ship with poseclf (the default of
    ``poseclf train``); see the module notes."""
    tables = {name: path for name, path in shipped_tables().items()
              if not any(part in name for part in _NOT_POSES + _NOT_NEGATIVES)}
    if not tables:
        raise TableError("no shipped landmark table found for the default negatives; give "
                         "--negatives TABLE or --no-negatives")
    return negatives_from_tables(list(tables.values()), list(tables))
