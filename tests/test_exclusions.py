"""Exclusion lists: reviewed rows left out of training, by path and table."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from poseclf.classify.model import PoseModel
from poseclf.cli import main
from poseclf.errors import TableError
from poseclf.pose.poses import Poses
from poseclf.pose.table import check_table, save_table
from poseclf.tables.exclusions import apply_exclusions, load_exclusions, load_training_tables

pytestmark = pytest.mark.usefixtures("one_blas_thread")  # trains models: see conftest

SHIPPED_LIST = Path(__file__).resolve().parents[1] / "datasets" / "exclusions.csv"


def _table(path, names, label="a"):
    """A small valid table whose rows are named ``names``."""
    rng = np.random.default_rng(len(names))
    poses = Poses(rng.random((len(names), 33, 4)), image_sizes=[(64, 48)] * len(names))
    labels = [label if i % 2 else "b" for i in range(len(names))]
    save_table(check_table(poses.to_table(list(names), labels, [""] * len(names))), path)
    return path


def test_list_needs_a_path_column_and_names_the_file(tmp_path):
    bad = tmp_path / "list.csv"
    bad.write_text("file,why\nx.jpg,blurred\n")
    with pytest.raises(TableError, match=r"list\.csv: an exclusion list needs a 'path' column"):
        load_exclusions([bad])
    with pytest.raises(TableError, match="cannot read the exclusion list"):
        load_exclusions([tmp_path / "missing.csv"])


def test_optional_columns_default_to_every_table(tmp_path):
    only_paths = tmp_path / "paths.csv"
    only_paths.write_text("path\nup/1.jpg\n")
    entries = load_exclusions([only_paths])
    assert entries.loc[0, "table"] == "" and entries.loc[0, "reason"] == ""
    assert entries.loc[0, "source"] == str(only_paths)


def test_entries_apply_to_their_table_or_to_all(tmp_path):
    entries = pd.DataFrame({"table": ["one", "", "two"], "path": ["x.jpg", "y.jpg", "z.jpg"],
                            "reason": ["", "", ""]})
    df = pd.DataFrame({"path": ["x.jpg", "y.jpg", "z.jpg", "w.jpg"]})
    kept, matched = apply_exclusions(df, entries, "one")
    assert kept["path"].tolist() == ["z.jpg", "w.jpg"]
    assert sorted(matched["path"]) == ["x.jpg", "y.jpg"]
    assert apply_exclusions(df, entries, "three")[0]["path"].tolist() == ["x.jpg", "z.jpg",
                                                                          "w.jpg"]


def test_training_tables_drop_listed_rows_and_report_stale_entries(tmp_path, caplog):
    one = _table(tmp_path / "one.csv", ["p/1.jpg", "p/2.jpg", "p/3.jpg", "p/4.jpg"])
    two = _table(tmp_path / "two.csv", ["p/1.jpg", "p/2.jpg"])
    listed = tmp_path / "list.csv"
    listed.write_text("table,path,reason\none,p/1.jpg,two people\none,p/9.jpg,gone\n"
                      "other,p/2.jpg,another table\n")
    with caplog.at_level(logging.WARNING):
        table, dropped = load_training_tables([one, two], [listed])
    assert dropped == 1 and len(table) == 5
    assert "1 excluded path(s) match no row" in caplog.text and "p/9.jpg" in caplog.text
    assert "p/2.jpg" not in caplog.text  # an entry for a table not given is not stale


def test_shipped_list_names_rows_of_the_shipped_tables():
    """Every entry of datasets/exclusions.csv matches one row of its shipped table."""
    from poseclf.shipped import resolve_table

    entries = load_exclusions([SHIPPED_LIST])
    assert (entries["reason"] != "").all()
    for name, group in entries.groupby("table"):
        table = pd.read_csv(resolve_table(name), usecols=["path"])
        assert group["path"].isin(set(table["path"])).all(), name


def test_train_and_evaluate_leave_out_listed_rows_and_the_card_says_so(tmp_path, capsys):
    names = [f"p/{i}.jpg" for i in range(10)]
    table = _table(tmp_path / "poses.csv", names)
    listed = tmp_path / "reviewed.csv"
    listed.write_text("table,path,reason\nposes,p/0.jpg,skeleton on a bystander\n"
                      "poses,p/5.jpg,two people\n")
    model_path, card = tmp_path / "m.skops", tmp_path / "card.md"
    assert main(["train", str(table), "--exclude", str(listed), "-o", str(model_path),
                 "--classifier", "knn", "--cv", "2", "--card", str(card)]) == 0
    out = capsys.readouterr().out
    assert f"left out 2 row(s) named in {listed}" in out
    model = PoseModel.load(model_path)
    assert model.metadata["n_samples"] == 8
    assert model.metadata["excluded"] == {"rows": 2, "lists": [str(listed)]}
    assert f"Left out after review: 2 row(s) named in `{listed}`" in card.read_text()
    assert main(["evaluate", "--model", str(model_path), str(table), "--exclude",
                 str(listed)]) == 0
    assert "n=8 " in capsys.readouterr().out
