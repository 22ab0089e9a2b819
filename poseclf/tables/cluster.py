"""Run poseclf's joblib work on a Dask cluster: the one module that imports Dask.

poseclf parallelises with :class:`joblib.Parallel` only (the image batches and video segments
of :func:`poseclf.tables.engine.run_plan`, the grid search of ``poseclf train --search``).
:func:`dask_backend` switches joblib to its Dask backend for the duration of a ``with`` block,
so the very same tasks run on the cluster's workers: no pool or scheduler of poseclf's own.
Dask reschedules the task of a worker that dies, and each worker process keeps its own
extractor, as a local worker process does.

``cluster`` is either the address of a running scheduler (``tcp://host:8786``, started with
``dask scheduler``; workers joined with ``dask worker tcp://host:8786``) or ``local:N``: a
:class:`dask.distributed.LocalCluster` of N single-threaded worker processes on this machine,
closed at the end of the block. Dask is an optional dependency: ``pip install "poseclf[cluster]"``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import joblib

from ..errors import PoseclfError

logger = logging.getLogger(__name__)

LOCAL_PREFIX = "local:"  # "local:N": a LocalCluster of N worker processes started by poseclf
INSTALL_HINT = 'pip install "poseclf[cluster]"'
CONNECT_TIMEOUT_S = 30.0  # s to reach a scheduler before the error that names its address
WAIT_FOR_WORKERS_S = 60.0  # s joblib waits for a first worker on a cluster that has none
LOCAL_DASHBOARD = ":0"  # any free port: never clashes with another cluster's 8787
THREADS_PER_WORKER = 1  # BlazePose graphs and sklearn fits use one core each: 1 task/process


@dataclass(frozen=True)
class ClusterSpec:
    """A parsed ``--cluster`` value: a scheduler ``address`` or ``n_local`` worker processes."""

    address: str | None = None
    n_local: int | None = None

    @classmethod
    def parse(cls, text: str) -> ClusterSpec:
        """``"tcp://host:8786"`` -> address; ``"local:4"`` -> 4 local worker processes.

        Raises
        ------
        PoseclfError
            Empty text or ``local:`` without a positive worker count.
        """
        text = str(text).strip()
        if text.startswith(LOCAL_PREFIX):
            count = text[len(LOCAL_PREFIX):]
            if not count.isdigit() or int(count) < 1:
                raise PoseclfError(f"--cluster {text!r}: use local:N with N >= 1 worker "
                                   "processes, e.g. local:4")
            return cls(n_local=int(count))
        if not text:
            raise PoseclfError("--cluster needs a scheduler address (tcp://host:8786) or "
                               "local:N")
        return cls(address=text)


def import_distributed():
    """``dask.distributed``, or a :class:`PoseclfError` naming the extra to install."""
    try:
        import dask.distributed as distributed
    except ImportError as err:
        raise PoseclfError(
            f"--cluster / cluster= needs Dask's distributed scheduler, which is not installed "
            f"({err}). Install it with: {INSTALL_HINT}"
        ) from err
    return distributed


def _connect(spec: ClusterSpec, distributed):
    """A client of ``spec``, and the LocalCluster to close afterwards (None for an address)."""
    if spec.n_local is not None:
        local = distributed.LocalCluster(
            n_workers=spec.n_local, threads_per_worker=THREADS_PER_WORKER, processes=True,
            dashboard_address=LOCAL_DASHBOARD, silence_logs=logging.ERROR)
        return distributed.Client(local, set_as_default=False), local
    try:
        client = distributed.Client(spec.address, timeout=CONNECT_TIMEOUT_S,
                                    set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise PoseclfError(
            f"cannot reach a Dask scheduler at {spec.address} ({err}). Start one with "
            f"`dask scheduler` and workers with `dask worker {spec.address}`, or use "
            "--cluster local:N"
        ) from err
    return client, None


@contextlib.contextmanager
def dask_backend(cluster: str | ClusterSpec) -> Iterator[int]:
    """Within the block, :class:`joblib.Parallel` runs its tasks on the Dask cluster ``cluster``.

    Yields the number of task slots (worker threads) of the cluster, after waiting up to
    :data:`WAIT_FOR_WORKERS_S` for a first worker. ``joblib.Parallel`` calls inside the block
    should leave ``n_jobs`` unset (or -1) to use every slot.

    Raises
    ------
    PoseclfError
        Dask is not installed, the scheduler cannot be reached, or it has no worker.
    """
    spec = cluster if isinstance(cluster, ClusterSpec) else ClusterSpec.parse(cluster)
    distributed = import_distributed()
    client, local = _connect(spec, distributed)
    try:
        with joblib.parallel_config(backend="dask", n_jobs=-1, client=client,
                                    wait_for_workers_timeout=WAIT_FOR_WORKERS_S):
            try:
                slots = joblib.effective_n_jobs(-1)
            except TimeoutError as err:
                raise PoseclfError(
                    f"the Dask scheduler at {spec.address} has no worker after "
                    f"{WAIT_FOR_WORKERS_S:g} s: start some with `dask worker {spec.address}`"
                ) from err
            logger.info("running on Dask: %s, %d worker threads", client, slots)
            yield slots
    finally:
        client.close()
        if local is not None:
            local.close()


def cluster_or_local(cluster: str | ClusterSpec | None):
    """:func:`dask_backend` for a cluster, else a block that changes nothing (yields None)."""
    return contextlib.nullcontext() if cluster is None else dask_backend(cluster)
