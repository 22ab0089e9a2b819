"""The extraction engine on a made-up plan: resume rule, checkpoints, the stop path (no BlazePose).

The planners (folder scan, video segments) are tested with the real model in test_dataset.py,
test_cli_dataset.py and test_video_segments_resume.py; here each unit's rows are made by a plain
function, so the rule that decides what is reused and what is redone is checked in milliseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from poseclf.pose.extraction import ExtractOptions
from poseclf.pose.poses import Poses
from poseclf.pose.table import load_table
from poseclf.tables.engine import Plan, run_plan

OPTIONS = ExtractOptions()
UNITS = {"a": ["a#1", "a#2"], "b": ["b#1"], "c": ["c#1", "c#2", "c#3"]}  # unit -> row paths
CALLS: list[str] = []  # the units a run did, in order


def _rows(unit: str, label: str, fail: bool = False) -> pd.DataFrame:
    """The rows of one unit (synthetic poses), recording the call; ``fail``: Ctrl-C instead."""
    if fail:
        raise KeyboardInterrupt
    CALLS.append(unit)
    paths = UNITS[unit]
    poses = Poses(np.full((len(paths), 33, 4), 0.5), image_sizes=[[64, 48]] * len(paths))
    return poses.to_table(paths, [label] * len(paths), [""] * len(paths),
                          {"extractor": [OPTIONS.tag] * len(paths)})


def _plan(labels: dict[str, str], fail: str | None = None) -> Plan:
    expected = pd.DataFrame([(p, labels[u]) for u, paths in UNITS.items() for p in paths],
                            columns=["path", "label"])
    names = list(UNITS)

    def tasks(todo, n_workers, in_process):
        return [(_rows, (names[i], labels[names[i]], names[i] == fail)) for i in todo]

    return Plan(expected, [UNITS[u] for u in names], tasks, _no_rows, lambda df: df)


def _no_rows() -> pd.DataFrame:
    return Poses.empty().to_table([], [], [], {"extractor": pd.Series([], dtype=object)})


LABELS = {"a": "up", "b": "down", "c": "up"}


@pytest.fixture(autouse=True)
def _fresh_calls():
    CALLS.clear()


def test_a_first_run_does_every_unit_and_writes_the_rows_in_plan_order(tmp_path):
    table = tmp_path / "t.csv"
    run = run_plan(_plan(LABELS), OPTIONS, table, workers=1, progress=False)
    assert CALLS == ["a", "b", "c"] and run.n_added == 6 and run.previous is None
    assert list(load_table(table)["path"]) == [p for paths in UNITS.values() for p in paths]


def test_a_second_run_reuses_everything_and_a_changed_unit_is_redone_whole(tmp_path):
    table = tmp_path / "t.csv"
    run_plan(_plan(LABELS), OPTIONS, table, workers=1, progress=False)
    CALLS.clear()
    again = run_plan(_plan(LABELS), OPTIONS, table, workers=1, progress=False)
    assert CALLS == [] and again.n_added == 0 and len(again.kept) == 6
    CALLS.clear()
    relabelled = run_plan(_plan({**LABELS, "c": "down"}), OPTIONS, table, workers=1,
                          progress=False)
    assert CALLS == ["c"] and relabelled.n_redone == 1 and relabelled.n_added == 3
    final = load_table(table)
    assert list(final.loc[final["path"].str.startswith("c"), "label"]) == ["down"] * 3
    CALLS.clear()
    other_settings = ExtractOptions(min_detection_confidence=0.7)
    run_plan(_plan({**LABELS, "c": "down"}), other_settings, table, workers=1, progress=False)
    assert CALLS == ["a", "b", "c"]  # rows of other BlazePose settings are never reused


def test_a_stopped_run_keeps_what_it_did_and_the_next_run_finishes_it(tmp_path):
    table = tmp_path / "t.csv"
    with pytest.raises(KeyboardInterrupt):
        run_plan(_plan(LABELS, fail="c"), OPTIONS, table, workers=1, progress=False)
    assert CALLS == ["a", "b"]
    assert set(load_table(table)["path"]) == set(UNITS["a"] + UNITS["b"])  # saved on the stop
    CALLS.clear()
    run = run_plan(_plan(LABELS), OPTIONS, table, workers=1, progress=False)
    assert CALLS == ["c"] and len(run.kept) == 3
    assert list(load_table(table)["path"]) == [p for paths in UNITS.values() for p in paths]


def test_no_table_means_nothing_read_or_written(tmp_path):
    run = run_plan(_plan(LABELS), OPTIONS, None, workers=1, progress=False)
    assert list(run.final["path"]) == [p for paths in UNITS.values() for p in paths]
    assert list(tmp_path.iterdir()) == []
