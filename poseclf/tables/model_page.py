"""A review page of a model alone: its model card as HTML, beside the card's Markdown.

The card is the one ``poseclf train --card`` writes (:func:`~poseclf.classify.model_card.
write_model_card`), made again from the model's metadata, so it cannot drift from the model. The
page is a folder like a table's review page (``index.html``, no server, no network): the card
``<model>.md``, its ``<model>_confusion.png`` and ``index.html`` showing both.

Only the Markdown a card holds is turned into HTML: headings, bullet lists, tables, pictures,
paragraphs and ``code`` spans; everything else is shown as text.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from .._version import __version__
from ..errors import InputError
from ..files import replace_atomically
from .review_page import CONFUSION_NAME, MARKER_NAME, PAGE_NAME, check_review_folder
from .thumbnails import prune_pictures

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_CODE = re.compile(r"`([^`]+)`")

STYLE = """
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 980px;
         padding: 12px 24px; color: #222; }
  h1 { font-size: 22px; } h2 { font-size: 18px; }
  table { border-collapse: collapse; }
  th, td { padding: 2px 10px; border-bottom: 1px solid #ddd; }
  code { background: #f2f2f2; padding: 0 3px; border-radius: 3px; }
  img { max-width: 100%; }
  .note { color: #666; font-size: 12px; }
"""


def _inline(text: str) -> str:
    """Escaped text with ``code`` spans and pictures."""
    parts, last = [], 0
    for match in _IMAGE.finditer(text):
        parts.append(_code(text[last:match.start()]))
        parts.append(f'<img src="{html.escape(match.group(2))}" '
                     f'alt="{html.escape(match.group(1))}">')
        last = match.end()
    parts.append(_code(text[last:]))
    return "".join(parts)


def _code(text: str) -> str:
    return _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", html.escape(text, quote=False))


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def card_html(markdown: str) -> str:
    """The HTML of a model card's Markdown (the subset :func:`write_model_card` writes)."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()
        if table:
            rows = [_cells(r) for r in table if not re.fullmatch(r"[\s|:-]+", r)]
            right = [c.endswith(":") for c in _cells(table[1])] if len(table) > 1 else []
            h = "<table>"
            for n, row in enumerate(rows):
                tag = "th" if n == 0 else "td"
                aligned = [' style="text-align:right"' if k < len(right) and right[k] else ""
                           for k in range(len(row))]
                h += "<tr>" + "".join(f"<{tag}{a}>{_inline(c)}</{tag}>"
                                      for a, c in zip(aligned, row, strict=True)) + "</tr>"
            out.append(h + "</table>")
            table.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
        elif heading := re.match(r"(#{1,6})\s+(.*)", stripped):
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif stripped.startswith("|"):
            if not table:
                flush()
            table.append(stripped)
        elif stripped.startswith(("- ", "* ")):
            if not items:
                flush()
            items.append(stripped[2:])
        elif items and line.startswith(" "):  # a list item going on
            items[-1] += " " + stripped
        else:
            if items or table:
                flush()
            paragraph.append(stripped)
    flush()
    return "\n".join(out)


def build_model_page(model, out_dir: str | os.PathLike, *, name: str) -> Path:
    """Write ``out_dir/index.html`` showing ``model``'s card, and the card (``<name>.md``, its
    confusion matrix) beside it; returns the page. ``name`` is the model's file stem or shipped
    name: the card's title.

    Raises :class:`~poseclf.errors.InputError` when the model has no cross-validated scores (it
    was trained with ``--cv 0``: there is no card to show).
    """
    from ..classify.model_card import write_model_card

    if not model.metadata.get("cv_scores"):
        raise InputError(f"{name}: the model has no cross-validated scores, so it has no card "
                         "to show; train it with --cv 2 or more")
    out = check_review_folder(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER_NAME).write_text(f"poseclf {__version__} review page\n")
    card = write_model_card(model, out / f"{name}.md", title=name)
    body = card_html(card.read_text(encoding="utf-8"))
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>Model card of {html.escape(name)}</title>\n<style>{STYLE}</style>\n"
            f"</head>\n<body>\n{body}\n<p class=\"note\">Made by poseclf {__version__} from "
            f"the model's metadata; the Markdown is <a href=\"{html.escape(card.name)}\">"
            f"{html.escape(card.name)}</a>.</p>\n</body>\n</html>\n")
    written = replace_atomically(out / PAGE_NAME,
                                 lambda tmp: tmp.write_text(page, encoding="utf-8"))
    prune_pictures(out, [])  # a table's page made here before: its pictures are not shown
    (out / CONFUSION_NAME).unlink(missing_ok=True)
    return written
