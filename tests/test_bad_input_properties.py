"""Property-based bad input: any option text and any table cell give a result or one clear error.

Hypothesis makes the inputs; the properties are the issue's promise: a value is either accepted
as what the option means, or refused with exit status 2 and one line naming the option; a table
is either read and checked, or refused with a :class:`~poseclf.errors.TableError` naming the
file, never another exception.
"""

from __future__ import annotations

import contextlib
import functools
import io

import pandas as pd
import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poseclf.cli import build_parser
from poseclf.errors import TableError
from poseclf.pose.table import LANDMARK_COLUMNS, TABLE_COLUMNS, load_table

SHIPPED_TABLE = REPO / "datasets" / "pushups_visolus.csv"
OPTION_TEXT = st.one_of(
    st.text(max_size=12),
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "0x10", " 3 ", "1_000", "", "-0", "3.0"]),
)
#: option -> (command line before it, check of an accepted value)
OPTIONS = {
    "--cv": (["train", "t.csv", "-o", "m.skops"], lambda v: v == 0 or v >= 2),
    "--reject-percentile": (["train", "t.csv", "-o", "m.skops"], lambda v: 0 < v <= 100),
    "--min-visibility": (["train", "t.csv", "-o", "m.skops"], lambda v: 0 <= v <= 1),
    "--max-hidden-joints": (["train", "t.csv", "-o", "m.skops"], lambda v: 0 <= v <= 6),
    "--views": (["train", "t.csv", "-o", "m.skops"],
                lambda v: len(v) >= 1 and all(0 < a <= 90 for a in v)),
    "--view-pitch": (["train", "t.csv", "-o", "m.skops"], lambda v: 0 <= v <= 90),
    "--workers": (["extract", "d", "-o", "t.csv"], lambda v: v >= 1),
    "--batch-size": (["extract", "d", "-o", "t.csv"], lambda v: v >= 1),
    "--checkpoint-seconds": (["extract", "d", "-o", "t.csv"], lambda v: v >= 0),
    "--stride": (["extract", "d", "-o", "t.csv"], lambda v: v >= 1),
    "--min-detection-confidence": (["extract", "d", "-o", "t.csv"], lambda v: 0 <= v <= 1),
    "--folds": (["outliers", "t.csv"], lambda v: v == 0 or v >= 2),
    "--per-class": (["stats", "t.csv"], lambda v: v >= 1),
}


@functools.cache
def parser():
    """One parser for every example: parsing leaves it as it was, and building one for each of
    the 540 examples took longer than the parsing."""
    return build_parser()


@pytest.mark.parametrize("option", OPTIONS)
@settings(max_examples=60, deadline=None)
@given(text=OPTION_TEXT)
def test_an_option_value_is_accepted_in_range_or_refused_in_one_line(option, text):
    before, in_range = OPTIONS[option]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            args = parser().parse_args([*before, f"{option}={text}"])
        except SystemExit as stop:
            assert stop.code == 2
            lines = err.getvalue().strip().splitlines()
            assert len(lines) == 1 and option in lines[0], lines
            return
    value = getattr(args, option.lstrip("-").replace("-", "_"))
    assert in_range(value) and value == value  # not NaN


@pytest.fixture(scope="module")
def base_rows() -> pd.DataFrame:
    return pd.read_csv(SHIPPED_TABLE, dtype=str, keep_default_na=False).head(12)


CELL = st.one_of(st.text(max_size=8), st.sampled_from(
    ["", "nan", "inf", "-inf", "True", "False", "yes", "1", "0", "1e400", "-", "None"]))
COLUMN = st.sampled_from(
    ["label", "detected", "width", "height", "path", "reason", *LANDMARK_COLUMNS[:8]])


@pytest.mark.slow  # 80 tables read and checked, ~10-17 s; test_a_bad_cell_... is the quick one
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 11), COLUMN, CELL), min_size=1, max_size=4))
def test_any_cell_gives_a_checked_table_or_a_table_error(base_rows, tmp_path, edits):
    assert_checked_table_or_table_error(base_rows, tmp_path, edits)


@pytest.mark.parametrize("edits", [
    [(0, "label", "")],  # refused: a row without its class
    [(3, "detected", "yes")],  # refused: not a boolean
    [(5, "width", "1e400")],  # refused: an infinite size
    [(2, LANDMARK_COLUMNS[0], "nan")],  # refused: a detected pose with a missing landmark
    [(3, "detected", "False")],  # read: one pose fewer
    [(0, "detected", "0"), (0, LANDMARK_COLUMNS[2], "")],  # read: an undetected row, emptied
])
def test_a_bad_cell_gives_a_checked_table_or_a_table_error(base_rows, tmp_path, edits):
    """The property above on a few fixed edits, for the quick tier."""
    assert_checked_table_or_table_error(base_rows, tmp_path, edits)


def assert_checked_table_or_table_error(base_rows, tmp_path, edits) -> None:
    df = base_rows.copy()
    for row, column, value in edits:
        df.loc[row, column] = value
    path = tmp_path / "edited.csv"
    df.to_csv(path, index=False)
    try:
        table = load_table(path)
    except TableError as err:
        message = str(err)
        assert message.startswith(str(path)) and "\n" not in message
        return
    assert list(table.columns[:len(TABLE_COLUMNS)]) == list(TABLE_COLUMNS)
    assert table["detected"].dtype == bool
    landmarks = table.loc[table["detected"], list(LANDMARK_COLUMNS)].to_numpy()
    assert (landmarks == landmarks).all()  # detected rows have no NaN
