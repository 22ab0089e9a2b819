"""Report figures (matplotlib): confusion matrix. Figures are returned, never shown."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .files import replace_atomically

FIGURE_DPI = 120  # pixels per inch of saved PNGs


def plot_confusion_matrix(confusion: Sequence[Sequence[int]], labels: Sequence[str],
                          title: str | None = None):
    """Confusion-matrix figure: rows true class, columns predicted; cells show counts.

    Colours show the share of each true class (row-normalised), so small classes read too.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    counts = np.asarray(confusion, dtype=int)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    n = len(labels)
    side = max(4.0, 0.6 * n + 2.5)
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            if counts[i, j]:
                ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                        color="white" if share[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    if title:  # wrapped to the figure width (about 9 characters per inch at this size)
        ax.set_title(textwrap.fill(title, max(20, int((side + 1.0) * 9)), break_on_hyphens=False))
    fig.tight_layout()
    return fig


def save_confusion_matrix(report: dict, path: str | os.PathLike,
                          title: str | None = None) -> Path:
    """Write the confusion matrix of an evaluation report (``labels``, ``confusion``): PNG, or
    the type of the extension (PDF, SVG, JPEG)."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fig = plot_confusion_matrix(report["confusion"], report["labels"], title)
    kind = path.suffix.lower().lstrip(".") or "png"
    try:
        replace_atomically(path, lambda tmp: fig.savefig(tmp, dpi=FIGURE_DPI, format=kind))
    finally:
        plt.close(fig)
    return path
