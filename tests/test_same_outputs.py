"""Today's outputs are the golden ones (issue 15): a redesign changes no table, prediction,
trained model figure, video timeline or count.

The golden files in ``tests/golden/`` pin the shipped models' predictions on the committed
tables, ``svm`` and ``knn`` trained on one of them, BlazePose on four real photos and the push-up
video's first 6 s; ``tests/golden/make_golden.py`` computes them (and says how to rewrite them).
``POSECLF_UPDATE_GOLDEN=1`` makes this test rewrite them instead of comparing.
"""

from __future__ import annotations

import os
import re

import pytest
from conftest import shared_data_or_skip
from golden import make_golden as golden

UPDATE = os.environ.get("POSECLF_UPDATE_GOLDEN") == "1"
#: Largest difference of a number from its golden value: one unit of the golden rounding (1e-6;
#: landmarks 1e-4), so that a value on a rounding boundary cannot flip the test.
TOLERANCE = 1e-6
TOLERANCES = {"extraction.csv": 1e-4}
SHOWN_DIFFERENCES = 5  # differing values named in a failure message
REWRITE = "python tests/golden/make_golden.py"


def _same(expected: str, actual: str, tolerance: float) -> bool:
    """Equal text, or numbers within ``tolerance`` (one unit of the rounding)."""
    if expected == actual:
        return True
    try:
        return abs(float(expected) - float(actual)) <= tolerance
    except ValueError:
        return False


def differences(item: golden.Item, expected: list[golden.Row],
                actual: list[golden.Row]) -> str | None:
    """None when ``actual`` matches the golden rows, else one message that names the first
    differing row (by its key columns), column and values."""
    name = item.file
    expected_columns = list(expected[0]) if expected else []
    actual_columns = list(actual[0]) if actual else []
    if expected_columns != actual_columns:
        gone = [c for c in expected_columns if c not in actual_columns]
        new = [c for c in actual_columns if c not in expected_columns]
        return (f"{name}: the columns changed (missing: {', '.join(gone) or 'none'}; new: "
                f"{', '.join(new) or 'none'}; or a new order)")

    def key(row: golden.Row) -> str:
        return ", ".join(f"{k}={row[k]}" for k in item.key)

    expected_keys = [key(r) for r in expected]
    actual_keys = [key(r) for r in actual]
    if expected_keys != actual_keys:
        first = next((i for i, (e, a) in enumerate(zip(expected_keys, actual_keys, strict=False))
                      if e != a), min(len(expected_keys), len(actual_keys)))
        at_expected = expected_keys[first] if first < len(expected_keys) else "(no more rows)"
        at_actual = actual_keys[first] if first < len(actual_keys) else "(no more rows)"
        return (f"{name}: the rows changed ({len(expected)} golden, {len(actual)} now); first "
                f"difference at row {first + 1}: golden {at_expected}, now {at_actual}")
    tolerance = TOLERANCES.get(name, TOLERANCE) * (1 + 1e-9)
    found = [(i, column, e[column], a[column])
             for i, (e, a) in enumerate(zip(expected, actual, strict=True))
             for column in expected_columns if not _same(e[column], a[column], tolerance)]
    if not found:
        return None
    rows = len({i for i, *_ in found})
    lines = [f"{name}: {len(found)} value(s) in {rows} of {len(expected)} row(s) differ from "
             "the golden file"]
    lines += [f"  row {i + 1} ({expected_keys[i]}) {column}: golden {e!r}, now {a!r}"
              for i, column, e, a in found[:SHOWN_DIFFERENCES]]
    if len(found) > SHOWN_DIFFERENCES:
        lines.append(f"  ... and {len(found) - SHOWN_DIFFERENCES} more")
    lines.append(f"(an intended change? rewrite the golden files: {REWRITE})")
    return "\n".join(lines)


def check_item(item: golden.Item, rows: list[golden.Row]) -> None:
    """Compare ``rows``, computed now, with the golden file of ``item`` (or rewrite it when
    ``POSECLF_UPDATE_GOLDEN=1``)."""
    path = golden.GOLDEN / item.file
    if UPDATE:
        golden.write_rows(path, rows)
        pytest.skip(f"POSECLF_UPDATE_GOLDEN=1: {path} rewritten ({len(rows)} rows)")
    if not path.is_file():
        pytest.fail(f"{path}: no golden file; write it with {REWRITE}", pytrace=False)
    message = differences(item, golden.read_rows(path), rows)
    if message:
        pytest.fail(message, pytrace=False)


ITEMS = {item.file: item for item in golden.items()}
COMMITTED = [name for name, item in ITEMS.items() if not item.needs_shared]


#: Golden files that train models: bulk training, in the slow tier.
TRAINED = {"training_report.csv", "training_predictions.csv"}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in TRAINED
                                  else name for name in COMMITTED])
def test_outputs_from_committed_files_unchanged(name: str, tmp_path) -> None:
    """Shipped models on the committed tables, and svm/knn trained on one of them."""
    check_item(ITEMS[name], ITEMS[name].rows(tmp_path))


def test_extraction_of_real_photos_unchanged(tmp_path) -> None:
    """The folder extraction of ``poseclf extract`` on four real photos (2 classes x 2)."""
    for dataset, label, photo in golden.PHOTOS:
        shared_data_or_skip(dataset, label, photo)
    item = ITEMS["extraction.csv"]
    check_item(item, item.rows(tmp_path))


@pytest.mark.slow
def test_video_timeline_and_count_unchanged(tmp_path) -> None:
    """``label_frames`` with the shipped push-up model on the first 6 s of a push-up video:
    every frame's answer, smoothed label and probabilities, and the repetition count."""
    shared_data_or_skip("videos", golden.VIDEO)
    item = ITEMS["video_timeline.csv"]
    rows = item.rows(tmp_path)
    path = golden.GOLDEN / item.file
    if not UPDATE and path.is_file():  # the count first: the one figure a reader looks for
        counted = rows[-1]["repetitions"]
        expected = golden.read_rows(path)[-1]["repetitions"]
        if counted != expected:
            pytest.fail(f"{item.file}: {counted} repetition(s) of {golden.VIDEO_COUNT} counted "
                        f"in the first {golden.VIDEO_FRAMES} frames of {golden.VIDEO}, golden "
                        f"{expected}", pytrace=False)
    check_item(item, rows)


def test_every_shipped_model_is_pinned_on_the_tables_of_its_card() -> None:
    """The model -> tables map of the generator is the "Training tables" line of each card."""
    from poseclf.shipped import shipped_models

    assert sorted(golden.MODEL_TABLES) == golden.shipped_model_names() == sorted(
        m.name for m in shipped_models())
    for name, tables in golden.MODEL_TABLES.items():
        card = (golden.MODELS / f"{name}.md").read_text(encoding="utf-8")
        line = re.search(r"^- Training tables: (.*)$", card, re.M)
        assert line, f"{name}.md has no 'Training tables' line"
        assert re.findall(r"`datasets/(\w+)\.csv`", line.group(1)) == list(tables), name
