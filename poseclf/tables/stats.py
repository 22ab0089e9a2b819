"""Per-class statistics of a landmark table, as ``poseclf stats`` prints them (NumPy only).

:func:`class_stats` counts per class the rows, the detected ones, those with no person and the
unreadable ones, with the detection rate and the mean landmark visibility of the detected rows;
:meth:`ClassStats.to_text` lays them out as pandas' ``DataFrame.to_string`` did (two decimals),
and :func:`poseclf.tables.review.table_stats` gives them as a DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..pose.landmarks import NO_PERSON
from ..pose.plain_table import TableArrays
from ..pose.table import UNREADABLE

COUNT_COLUMNS: tuple[str, ...] = ("images", "detected", "no_person", "unreadable")
RATE_COLUMNS: tuple[str, ...] = ("detection_rate", "mean_visibility")
ALL = "all"  # the last row: every class


@dataclass(frozen=True)
class ClassStats:
    """One row per class (sorted), then :data:`ALL`."""

    labels: list[str]
    counts: np.ndarray  # (rows, 4) int64, :data:`COUNT_COLUMNS`
    rates: np.ndarray  # (rows, 2) float64, :data:`RATE_COLUMNS` (NaN: no detected row)

    def to_text(self) -> str:
        """The table with the class names on the left, the figures right-aligned."""
        cells = [[str(v) for v in row] + [_two_decimals(v) for v in rates]
                 for row, rates in zip(self.counts.tolist(), self.rates.tolist(), strict=True)]
        names = COUNT_COLUMNS + RATE_COLUMNS
        widths = [max([len(name)] + [len(row[j]) for row in cells])
                  for j, name in enumerate(names)]
        left = max(len(label) for label in ["label", *self.labels])
        lines = [_line(" " * left, names, widths)]
        lines.append("label".ljust(len(lines[0])))
        lines += [_line(label.ljust(left), row, widths)
                  for label, row in zip(self.labels, cells, strict=True)]
        return "\n".join(lines)


def _line(first: str, cells, widths: list[int]) -> str:
    return first + "".join(f"  {cell:>{w}}" for cell, w in zip(cells, widths, strict=True))


def _two_decimals(value: float) -> str:
    return "NaN" if np.isnan(value) else f"{value:.2f}"


def class_counts(labels: np.ndarray, detected: np.ndarray,
                 reasons: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The classes (sorted), each row's class index, and per class then over all rows the
    :data:`COUNT_COLUMNS` (array of shape (classes + 1, 4))."""
    classes, which = np.unique(np.asarray(labels, str), return_inverse=True)
    reasons = np.asarray(reasons, str)
    flags = np.stack([np.ones(len(reasons), bool), np.asarray(detected, bool),
                      reasons == NO_PERSON, np.char.startswith(reasons, UNREADABLE)],
                     axis=1).astype(np.int64)
    counts = np.zeros((len(classes) + 1, len(COUNT_COLUMNS)), np.int64)
    np.add.at(counts, which.reshape(-1), flags)
    counts[-1] = flags.sum(axis=0)
    return [str(c) for c in classes], which.reshape(-1), counts


def class_stats(table: TableArrays) -> ClassStats:
    """Per-class counts, detection rate and mean visibility of ``table``'s rows."""
    classes, which, counts = class_counts(table.labels, table.detected, table.reasons)
    visibility = table.poses.landmarks[table.detected, :, 3].astype(np.float64).mean(axis=1)
    seen = which[table.detected]
    mean_visibility = np.array([_mean(visibility[seen == k]) for k in range(len(classes))]
                               + [_mean(visibility)])
    names = [*classes, ALL]
    if ALL in classes:  # a class named "all" is given the whole table's figure, as before
        mean_visibility[classes.index(ALL)] = mean_visibility[-1]
    rates = np.stack([counts[:, 1] / np.maximum(counts[:, 0], 1), mean_visibility], axis=1)
    return ClassStats(names, counts, rates)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else np.nan
