"""Report figures (matplotlib): confusion matrix. Figures are returned, never shown.

Figures are built with matplotlib's object API (:func:`new_figure`), not pyplot: poseclf never
selects a backend or keeps figures in pyplot's list, so a user's backend and open figures are left
as they were, and a figure is freed as soon as nothing refers to it.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..files import replace_atomically

FIGURE_DPI = 120  # pixels per inch of saved PNGs


def new_figure(figsize: tuple[float, float]):
    """A :class:`matplotlib.figure.Figure` drawn by Agg, outside pyplot (no global state).

    Jupyter shows it when it is a cell's value (or with ``display(fig)``); ``plt.show()`` does
    not know it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def plot_confusion_matrix(confusion: Sequence[Sequence[int]], labels: Sequence[str],
                          title: str | None = None):
    """Confusion-matrix figure: rows true class, columns predicted; cells show counts.

    Colours show the share of each true class (row-normalised), so small classes read too.
    """
    counts = np.asarray(confusion, dtype=int)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    n = len(labels)
    side = max(4.0, 0.6 * n + 2.5)
    fig = new_figure((side + 1.0, side))
    ax = fig.add_subplot()
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
    path = Path(path)
    fig = plot_confusion_matrix(report["confusion"], report["labels"], title)
    kind = path.suffix.lower().lstrip(".") or "png"
    replace_atomically(path, lambda tmp: fig.savefig(tmp, dpi=FIGURE_DPI, format=kind))
    return path
