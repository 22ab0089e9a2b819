"""``poseclf stats`` reads a plain CSV table without pandas and prints what the pandas path
printed: the shipped tables, a table with missing values, undetected and unreadable rows, extra
columns, a class with no detection and an empty one; bad tables still give one line and exit 2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from poseclf.cli import main
from poseclf.cli.dataset import resized_pictures_note
from poseclf.pose.aspect import estimate_aspect
from poseclf.pose.plain_table import TableArrays, read_plain_csv
from poseclf.pose.table import LANDMARK_COLUMNS, TABLE_COLUMNS, load_table, save_table
from poseclf.tables.stats import class_stats

SHIPPED = sorted(p for p in (REPO / "datasets").glob("*.csv")
                 if set(TABLE_COLUMNS) <= set(pd.read_csv(p, nrows=0).columns))


def pandas_stats_text(path: Path) -> str:
    """What ``poseclf stats`` printed until it read tables without pandas (commit fa42f12)."""
    df = load_table(path)
    reason = df["reason"]
    counts = pd.DataFrame({
        "label": df["label"], "images": 1, "detected": df["detected"].astype(int),
        "no_person": (reason == "no_person").astype(int),
        "unreadable": reason.str.startswith("unreadable").astype(int),
    }).groupby("label", sort=True).sum()
    detected = df[df["detected"]]
    visibility = detected[[c for c in LANDMARK_COLUMNS if c.endswith("_v")]].mean(axis=1)
    summary = pd.concat([counts, counts.sum().rename("all").to_frame().T])
    summary["detection_rate"] = summary["detected"] / summary["images"].clip(lower=1)
    summary["mean_visibility"] = visibility.groupby(detected["label"]).mean().reindex(
        summary.index)
    summary.loc["all", "mean_visibility"] = visibility.mean() if len(visibility) else np.nan
    summary.index.name = "label"
    text = summary.to_string(float_format=lambda v: f"{v:.2f}") + "\n"
    note = resized_pictures_note(estimate_aspect(df), path.name)
    return text + (note + "\n" if note else "")


def stats_output(path: Path, capsys) -> str:
    assert main(["stats", str(path)]) == 0
    return capsys.readouterr().out


def test_the_shipped_tables_are_read_without_pandas():
    assert len(SHIPPED) >= 7
    for path in SHIPPED:
        plain, checked = read_plain_csv(path), TableArrays.from_table(load_table(path))
        assert plain is not None, path
        for name in ("labels", "reasons", "detected"):
            np.testing.assert_array_equal(getattr(plain, name), getattr(checked, name))
        for name in ("landmarks", "world_landmarks", "image_sizes"):
            np.testing.assert_array_equal(getattr(plain.poses, name),
                                          getattr(checked.poses, name))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_stats_prints_what_pandas_printed(path, capsys):
    assert stats_output(path, capsys) == pandas_stats_text(path)


def crafted_table(tmp_path: Path) -> pd.DataFrame:
    """sit_video's rows, relabelled and damaged in the ways real tables are."""
    df = load_table(REPO / "datasets" / "sit_video.csv").head(40).copy()
    df["label"] = ["a"] * 5 + ["a very long class name indeed"] * 15 + ["standing"] * 20
    lost = df.index[:5]  # class "a": nothing detected, two unreadable
    df.loc[lost, "detected"] = False
    df.loc[lost, "reason"] = ["no_person"] * 3 + ["unreadable: truncated file"] * 2
    df.loc[lost, list(LANDMARK_COLUMNS)] = np.nan
    df.loc[lost[3:], ["width", "height"]] = 0
    df["file_size"] = 1234  # columns a builder added
    df["note"] = "x, \"quoted\""
    return df


def test_stats_of_a_crafted_table(tmp_path, capsys):
    table = save_table(crafted_table(tmp_path), tmp_path / "crafted.csv")
    assert read_plain_csv(table) is not None
    out = stats_output(table, capsys)
    assert out == pandas_stats_text(table)
    assert "NaN" in out and "a very long class name indeed" in out


def test_stats_of_a_table_with_no_rows(tmp_path, capsys):
    table = save_table(crafted_table(tmp_path).head(0), tmp_path / "empty.csv")
    assert stats_output(table, capsys) == pandas_stats_text(table)


@pytest.mark.parametrize("change", ["detected 1/0", "empty width", "parquet"])
def test_tables_the_plain_reader_leaves_to_pandas(tmp_path, capsys, change):
    df = crafted_table(tmp_path)
    suffix = ".parquet" if change == "parquet" else ".csv"
    if change == "detected 1/0":
        df["detected"] = df["detected"].astype(int)
    table = save_table(df, tmp_path / f"t{suffix}")
    if change == "empty width":
        text = table.read_text()
        assert ",0,0,False," in text
        table.write_text(text.replace(",0,0,False,", ",,,False,", 1))
    assert read_plain_csv(table) is None
    out = stats_output(table, capsys)
    assert out == pandas_stats_text(table)


def test_class_stats_is_what_table_stats_gives():
    from poseclf.tables.review import table_stats

    df = load_table(SHIPPED[0])
    frame = table_stats(df)
    stats = class_stats(TableArrays.from_table(df))
    assert list(frame.index) == stats.labels and frame.index[-1] == "all"
    np.testing.assert_array_equal(frame.iloc[:, :4].to_numpy(), stats.counts)


@pytest.mark.parametrize("bad", ["missing", "directory", "empty", "not a table", "bad cell",
                                 "text in a number", "infinite landmark"])
def test_bad_tables_give_one_line_and_status_2(tmp_path, capsys, bad):
    table = tmp_path / "t.csv"
    source = (REPO / "datasets" / "pushups_visolus.csv").read_text().splitlines()
    if bad == "directory":
        table.mkdir()
    elif bad == "empty":
        table.write_text("")
    elif bad == "not a table":
        table.write_text((REPO / "datasets" / "exclusions.csv").read_text())
    elif bad != "missing":
        row = source[2].split(",")
        cell = {"bad cell": 4, "text in a number": 10, "infinite landmark": 11}[bad]
        row[cell] = {"bad cell": "maybe", "text in a number": "0.5x",
                     "infinite landmark": "inf"}[bad]
        table.write_text("\n".join([source[0], source[1], ",".join(row)]) + "\n")
    assert read_plain_csv(table) is None
    assert main(["stats", str(table)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and str(table) in lines[0], captured.err
