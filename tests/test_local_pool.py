"""Local extraction tasks shared by this process and worker processes (tables/local_pool.py)."""

from __future__ import annotations

import os
import threading
import time

import pandas as pd
import pytest

from poseclf.tables.engine import _worker_task, auto_workers
from poseclf.tables.local_pool import release_workers, run_local


def where(i: int) -> pd.DataFrame:
    """One row saying which task ran in which process and thread."""
    return pd.DataFrame({"task": [i], "pid": [os.getpid()],
                         "thread": [threading.current_thread().name]})


def parts_of(i: int):
    yield where(i)
    yield where(i + 1000)


def fails(i: int) -> pd.DataFrame:
    raise OSError(f"task {i}: disk gone")


def test_every_task_comes_back_once_and_this_process_works_too():
    rows = pd.concat(run_local([(where, (i,)) for i in range(40)], 2, _worker_task))
    assert sorted(rows["task"]) == list(range(40))
    here = rows[rows["pid"] == os.getpid()]
    assert len(here) > 0 and set(here["thread"]) == {"poseclf-extract-here"}


def test_a_task_in_parts_gives_every_part():
    rows = pd.concat(run_local([(parts_of, (i,)) for i in range(6)], 2, _worker_task))
    assert sorted(rows["task"]) == [0, 1, 2, 3, 4, 5, 1000, 1001, 1002, 1003, 1004, 1005]


def test_an_error_in_a_task_reaches_the_caller():
    tasks = [(where, (0,)), (fails, (1,)), *[(where, (i,)) for i in range(2, 10)]]
    with pytest.raises(OSError, match="disk gone"):
        list(run_local(tasks, 2, _worker_task))


def test_leaving_early_stops_handing_out_tasks():
    results = run_local([(where, (i,)) for i in range(200)], 2, _worker_task)
    next(results)
    results.close()
    assert not [t for t in threading.enumerate() if t.name == "poseclf-extract-here"]


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc (Linux)")
def test_released_workers_end_and_a_later_run_starts_new_ones():
    worker_pids = set(pd.concat(run_local([(where, (i,)) for i in range(40)], 2, _worker_task))
                      ["pid"]) - {os.getpid()}
    assert worker_pids
    release_workers()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in worker_pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in worker_pids)
    rows = pd.concat(run_local([(where, (i,)) for i in range(40)], 2, _worker_task))
    assert sorted(rows["task"]) == list(range(40))
    assert not set(rows["pid"]) & worker_pids


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, exited but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("n_rows, cores, expected", [
    (0, 2, 1), (10, 2, 1), (79, 2, 1), (80, 2, 2), (1000, 2, 2), (1000, 8, 8), (200, 8, 5)])
def test_the_worker_count_follows_the_folder_and_the_cores(n_rows, cores, expected):
    assert auto_workers(n_rows, cores) == expected
