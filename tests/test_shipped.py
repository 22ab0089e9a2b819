"""Shipped models and tables are found by bare name; unknown names get the list of choices."""

import pytest

from poseclf.errors import ModelFileError, TableError
from poseclf.shipped import resolve_model, resolve_table, shipped_models


def test_an_existing_file_resolves_to_itself(tmp_path):
    path = tmp_path / "mine.skops"
    path.write_bytes(b"x")
    assert resolve_model(path) == path


def test_unknown_model_name_lists_the_shipped_ones():
    names = ", ".join(m.name for m in shipped_models()) or "none"
    with pytest.raises(ModelFileError, match=f"no shipped model has that name.*{names}"):
        resolve_model("no-such-model")


def test_unknown_table_name_is_refused():
    with pytest.raises(TableError, match="no-such-table"):
        resolve_table("no-such-table")
