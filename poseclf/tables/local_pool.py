"""Tasks on local worker processes with this process working too.

A worker process pays its start-up (a fresh interpreter, the imports, a BlazePose graph: 2-3 s
of CPU) before its first image. On a small folder that start-up is most of the run, so with
``n`` workers this process takes tasks from the same queue in a thread while ``n - 1`` worker
processes start and then share the rest: nothing waits for the workers, and a folder done before
they are ready is done by this process alone. The tasks are handed out one at a time, so the
faster side simply takes more.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait

import pandas as pd
from joblib.externals.loky import get_reusable_executor

#: A task: a picklable function and its arguments; it returns a table of rows or an iterable
#: of them.
Task = tuple[Callable, tuple]
_DONE = object()
_POLL_S = 0.05  # how often the waiting side looks at the other one's results
_EXECUTOR: list = []  # the worker pool of the last run (kept for the next run, or released)


class _SharedTasks:
    """The task list, taken one by one by this process's thread and by joblib's dispatcher."""

    def __init__(self, tasks: Sequence[Task]) -> None:
        self._tasks = iter(tasks)
        self._lock = threading.Lock()
        self.closed = False

    def __iter__(self) -> Iterator[Task]:
        return self

    def __next__(self) -> Task:
        with self._lock:
            if self.closed:
                raise StopIteration
            return next(self._tasks)

    def close(self) -> None:
        """Hand out no more tasks (a stop: the ones running finish)."""
        with self._lock:
            self.closed = True


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def parts(result: pd.DataFrame | Iterable[pd.DataFrame]) -> Iterable[pd.DataFrame]:
    """A task's result as row tables, each as it is made (a video's segments one by one)."""
    return [result] if isinstance(result, pd.DataFrame) else result


def as_tables(result: pd.DataFrame | Iterable[pd.DataFrame]) -> list[pd.DataFrame]:
    """A task's result as a list of row tables (all made: to send to another process)."""
    return list(parts(result))


def run_local(tasks: Sequence[Task], n_workers: int,
              worker_task: Callable[[Callable, tuple, int], list[pd.DataFrame]]
              ) -> Iterator[pd.DataFrame]:
    """Row tables of ``tasks`` as they finish, on this process and ``n_workers - 1`` others.

    ``worker_task(function, args, parent_pid)`` runs one task on a worker process (joblib's
    reusable loky executor, as :class:`joblib.Parallel` uses: its processes stay for the next
    run). Each worker process has one task at a time; this process takes the others in a
    thread. An error in a task is raised here; leaving early (Ctrl-C, an error) hands out no
    more tasks and waits for this process's task in hand, not for the workers'.
    """
    shared = _SharedTasks(tasks)
    here_done: queue.Queue = queue.Queue()

    def work_here() -> None:
        try:
            for function, args in shared:
                for table in parts(function(*args)):
                    here_done.put([table])
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            shared.close()
            here_done.put(_Failed(err))
        finally:
            here_done.put(_DONE)

    here = threading.Thread(target=work_here, name="poseclf-extract-here", daemon=True)
    finished_here = False

    def from_here(block: bool) -> Iterator[pd.DataFrame]:
        nonlocal finished_here
        while not finished_here:
            try:
                item = here_done.get(block=block, timeout=_POLL_S if block else None)
            except queue.Empty:
                return
            if item is _DONE:
                finished_here = True
            elif isinstance(item, _Failed):
                raise item.error
            else:
                yield from item

    executor = get_reusable_executor(max_workers=n_workers - 1)
    _EXECUTOR[:] = [executor]
    running: set[Future] = set()

    def hand_out() -> None:
        while len(running) < n_workers - 1:
            task = next(shared, None)
            if task is None:
                return
            running.add(executor.submit(worker_task, task[0], task[1], os.getpid()))

    try:
        hand_out()  # the workers' first tasks, before this process takes any
        here.start()
        while running or not finished_here:
            yield from from_here(block=not running)
            if running:
                finished, _ = wait(running, timeout=_POLL_S, return_when=FIRST_COMPLETED)
                for future in finished:
                    running.discard(future)
                    yield from future.result()
                hand_out()
    finally:
        shared.close()
        for future in running:
            future.cancel()
        if here.is_alive():
            here.join()


def release_workers() -> None:
    """End the worker processes the last run left for the next one, without waiting for them
    to wind down (their tasks are all done). For the end of a command: otherwise the
    interpreter's exit waits for each worker to close its BlazePose graph and exit, about
    0.3 s of a 100-photo ``poseclf extract`` (5 s). A later run starts new workers."""
    while _EXECUTOR:
        _EXECUTOR.pop().shutdown(wait=False, kill_workers=True)
