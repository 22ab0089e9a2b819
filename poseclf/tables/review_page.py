"""A self-contained review page of a landmark table: ``index.html`` and its pictures.

The page needs no server and no network: it opens from the file system. Its data (the cards
of :func:`~poseclf.tables.review_cards.review_cards` and the per-class summary) is one JSON
block inside the HTML; the thumbnails load lazily as the page scrolls. What the page does
(filters, sorting, the large view, ticks, "Save list") is in ``review_page.html`` beside this
module. The saved list has the columns of :data:`~poseclf.tables.exclusions.EXCLUSION_COLUMNS`
and is read by ``poseclf train --exclude``; given back to :func:`build_review_page` it shows as
ticks.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from .._version import __version__
from ..errors import InputError
from ..files import replace_atomically
from .exclusions import load_exclusions
from .review_cards import ANGLE_NAMES, FLAGS, ReviewCards, review_cards, table_stem
from .thumbnails import make_pictures, prune_pictures

PAGE_NAME = "index.html"
CONFUSION_NAME = "confusion.png"
MARKER_NAME = ".poseclf-review"  # marks a folder this module wrote: only such a one is reused
TEMPLATE = "review_page.html"


@dataclass
class ReviewPage:
    """What :func:`build_review_page` wrote: the page, its cards and the picture counts."""

    page: Path
    cards: ReviewCards
    made: int
    reused: int
    unreadable: int
    pruned: int


def check_review_folder(out_dir: str | os.PathLike, option: str = "-o") -> Path:
    """Refuse a folder that has files but is not a review page (it would be mixed with ours)."""
    out = Path(out_dir)
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER_NAME).exists():
        raise InputError(f"{option} {out}: the folder has files and is not a poseclf review "
                         "page; give a new or empty folder")
    return out


def _number(value):
    """JSON-safe: NaN and infinities become null, NumPy scalars plain numbers."""
    if value is None:
        return None
    value = float(value)
    return None if not math.isfinite(value) else round(value, 4)


def page_data(cards: ReviewCards, names: Sequence[str | None], *, title: str,
              table_file: str, confusion: str | None, model_name: str | None = None,
              skeletons_only: bool = False) -> dict:
    """The JSON block of the page (``names``: each table row's picture, by table position)."""
    card_rows = []
    for order, c in enumerate(cards.cards.itertuples(index=False)):
        card_rows.append({
            "r": int(c.row), "o": order, "p": c.path, "l": c.label, "d": bool(c.detected),
            "why": c.reason, "f": list(c.flags), "pr": c.predicted,
            "pp": _number(c.probability), "ls": _number(c.label_score),
            "nv": _number(c.novelty), "ml": c.model_label,
            "mp": _number(c.model_probability), "mn": _number(c.model_novelty),
            "a": c.angles, "img": names[int(c.row)], "x": c.excluded,
        })
    summary = [{"label": str(label), **{k: _number(v)
                                        for k, v in row.items()}}
               for label, row in cards.summary.iterrows()]
    note = cards.note + (f"; model: {model_name}" if model_name else "") + (
        "; skeletons only: drawn on a plain background of each photo's size, no photos"
        if skeletons_only else "")
    return {
        "title": title, "table": cards.table_name, "table_file": table_file,
        "list_name": f"{cards.table_name or 'table'}_excluded.csv", "note": note,
        "build": f"{cards.table_name}:{time.time_ns()}", "version": __version__,
        "classes": cards.classes, "flags": list(FLAGS), "angle_names": list(ANGLE_NAMES),
        "summary": summary, "confusion": confusion, "has_model": model_name is not None,
        "skeletons_only": skeletons_only, "cards": card_rows,
    }


def render_page(data: dict) -> str:
    """``review_page.html`` with ``data`` embedded (``</`` escaped so no value ends the script)."""
    template = resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")
    block = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    title = (data["title"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return template.replace("__TITLE__", title).replace("__DATA__", block)


def build_review_page(
    df: pd.DataFrame,
    images_root: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    *,
    skeletons_only: bool = False,
    table_path: str | os.PathLike = "table.csv",
    model=None,
    model_name: str | None = None,
    exclude: Sequence[str | os.PathLike] = (),
    classifier: str = "knn",
    folds: int = 5,
    least_typical: int = 10,
    workers: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> ReviewPage:
    """Write ``out_dir/index.html``, its pictures and the confusion matrix of ``df``.

    ``table_path`` names the table (its stem is the ``table`` column of the saved list);
    ``exclude`` lists (:func:`~poseclf.tables.exclusions.load_exclusions`) are shown ticked.
    With ``skeletons_only`` the pictures show each skeleton on a plain background of its photo's
    size and ``images_root`` is not read (it may be None): a page to share without the photos.
    Pictures made by an earlier run for unchanged rows are reused (see
    :mod:`poseclf.tables.thumbnails`); the rest of the arguments are those of
    :func:`~poseclf.tables.review_cards.review_cards` and
    :func:`~poseclf.tables.thumbnails.make_pictures`.
    """
    if images_root is None and not skeletons_only:
        raise ValueError("images_root is needed unless skeletons_only")
    out = check_review_folder(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER_NAME).write_text(f"poseclf {__version__} review page\n")
    stem = table_stem(table_path)
    exclusions = load_exclusions(exclude) if exclude else None
    cards = review_cards(df, table_name=stem, model=model, exclusions=exclusions,
                         classifier=classifier, folds=folds, least_typical=least_typical)
    pictures = make_pictures(df.reset_index(drop=True), images_root, out, workers=workers,
                             progress=progress, skeletons_only=skeletons_only)
    confusion = None
    if cards.report is not None and cards.report["labels"]:
        from ..pictures.plots import save_confusion_matrix

        save_confusion_matrix(cards.report, out / CONFUSION_NAME,
                              title="out-of-fold predictions")
        confusion = CONFUSION_NAME
    data = page_data(cards, pictures.names, title=f"Review of {Path(table_path).name}",
                     table_file=str(table_path), confusion=confusion, model_name=model_name,
                     skeletons_only=skeletons_only)
    page = replace_atomically(out / PAGE_NAME,
                              lambda tmp: tmp.write_text(render_page(data), encoding="utf-8"))
    pruned = prune_pictures(out, pictures.names)
    return ReviewPage(page, cards, pictures.made, pictures.reused, pictures.unreadable, pruned)
