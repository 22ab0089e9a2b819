"""The same commands on a Dask cluster: a real LocalCluster of 2 worker processes.

Tests that need Dask skip when it is not installed (``pip install "poseclf[cluster]"``); the
tests of what happens without Dask run everywhere.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from conftest import REPO, ctrl_c_as_in_a_terminal, shared_data_or_skip
from test_cli_dataset import saved_rows
from test_dataset import LANDMARK_ATOL, assert_same_rows, copy_photos

from poseclf.cli import main
from poseclf.errors import PoseclfError
from poseclf.pose.table import LANDMARK_COLUMNS, WORLD_COLUMNS, load_table
from poseclf.tables.cluster import INSTALL_HINT, ClusterSpec
from poseclf.tables.dataset import extract_folder

pytestmark = pytest.mark.slow  # subprocesses, signals or notebooks: `pytest -m "not slow"` skips it

PHOTOS_PER_CLASS = 8  # 16 photos: ~0.5 s of BlazePose per worker, long enough to cut into
N_WORKERS = 2  # worker processes of the test cluster (this machine has 2 cores)
KILL_AFTER_ROWS = 3  # rows on disk before a worker (or the client) is killed
START_TIMEOUT_S = 90  # s: cluster and worker start-up on a loaded 2-core machine
POLL_S = 0.01  # s between looks at the table file
SHIM = "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"


def _dask_problem() -> str | None:
    try:
        import dask.distributed  # noqa: F401
    except ImportError as err:
        return f"Dask is not installed ({err}): {INSTALL_HINT}"
    return None


needs_dask = pytest.mark.skipif(_dask_problem() is not None, reason=str(_dask_problem()))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster") / "data"
    copy_photos(root, "sitstand_multimediaimg", PHOTOS_PER_CLASS)
    return root


@pytest.fixture(scope="module")
def one_worker_table(photos, tmp_path_factory):
    table = tmp_path_factory.mktemp("ref") / "table.csv"
    extract_folder(photos, table, workers=1, progress=False)
    return load_table(table)


@pytest.fixture(scope="module")
def client():
    """A client of a LocalCluster of 2 single-threaded worker processes (with nannies)."""
    if _dask_problem():
        pytest.skip(_dask_problem())
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=N_WORKERS, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def _worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


# -- on the cluster -----------------------------------------------------------------------
@needs_dask
def test_cluster_table_equals_the_one_worker_table(photos, one_worker_table, client, tmp_path):
    table = tmp_path / "table.parquet"
    report = extract_folder(photos, table, cluster=client.scheduler.address, batch_size=2,
                            progress=False)
    assert report.n_extracted == len(one_worker_table) and not report.interrupted
    df = load_table(table)
    assert_same_rows(df, one_worker_table)  # same paths in the same order, same landmarks
    values = list(LANDMARK_COLUMNS + WORLD_COLUMNS)
    np.testing.assert_allclose(df[values].to_numpy(float),
                               one_worker_table[values].to_numpy(float), atol=LANDMARK_ATOL)


@needs_dask
def test_a_killed_worker_loses_no_row(photos, one_worker_table, client, tmp_path):
    table = tmp_path / "table.csv"
    before = _worker_pids(client)
    victim = next(iter(before.values()))
    killed = threading.Event()
    rows_at_kill = []

    def kill_when_started():
        deadline = time.monotonic() + START_TIMEOUT_S
        while saved_rows(table) < KILL_AFTER_ROWS and time.monotonic() < deadline:
            time.sleep(POLL_S)
        rows_at_kill.append(saved_rows(table))
        os.kill(victim, signal.SIGKILL)
        killed.set()

    killer = threading.Thread(target=kill_when_started, daemon=True)
    killer.start()
    report = extract_folder(photos, table, cluster=client.scheduler.address, batch_size=1,
                            checkpoint_s=0, progress=False)
    killer.join(START_TIMEOUT_S)
    assert killed.is_set() and rows_at_kill[0] < len(one_worker_table), "killed after the run"
    assert report.n_extracted == len(one_worker_table)
    assert saved_rows(table) == len(one_worker_table) and not report.interrupted
    assert_same_rows(load_table(table), one_worker_table)
    client.wait_for_workers(N_WORKERS, timeout=START_TIMEOUT_S)  # the nanny restarted it
    assert victim not in _worker_pids(client).values(), "the worker process was not killed"


@needs_dask
def test_interrupted_client_resumes_to_the_same_table(photos, one_worker_table, client,
                                                      tmp_path):
    table = tmp_path / "table.csv"
    command = [sys.executable, "-m", "poseclf", "extract", str(photos), "-o", str(table),
               "--cluster", client.scheduler.address, "--batch-size", "1",
               "--checkpoint-seconds", "0", "-q"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, preexec_fn=ctrl_c_as_in_a_terminal)
    deadline = time.monotonic() + START_TIMEOUT_S
    while saved_rows(table) < KILL_AFTER_ROWS and process.poll() is None:
        assert time.monotonic() < deadline, "extraction never wrote rows"
        time.sleep(POLL_S)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=START_TIMEOUT_S)
    assert process.returncode == 130, stderr.decode()[-2000:]
    partial = load_table(table)  # never corrupt
    assert KILL_AFTER_ROWS <= len(partial) < len(one_worker_table), "the run was not cut short"

    # the re-run starts its own LocalCluster: the local:N path end to end
    assert main(["extract", str(photos), "-o", str(table), "--cluster", f"local:{N_WORKERS}",
                 "-q"]) == 0
    assert_same_rows(load_table(table), one_worker_table)


@needs_dask
def test_video_segments_on_the_cluster_equal_the_sequential_rows(client):
    from poseclf.video.segments import Segment, extract_videos

    videos = shared_data_or_skip("videos")
    # pushup2.mp4: OpenCV's seek lands off by a few frames there, decoding must not
    jobs = [(videos / "sit.mp4", [Segment(140, 151, "standing"), Segment(152, 160, "sitting")]),
            (videos / "pushup2.mp4", [Segment(70, 84, "up"), Segment(150, 160, "down")])]
    sequential = extract_videos(jobs, stride=2, progress=False)
    spread = extract_videos(jobs, stride=2, cluster=client.scheduler.address, progress=False)
    assert list(spread["path"]) == list(sequential["path"])
    assert list(spread["label"]) == list(sequential["label"])
    values = list(LANDMARK_COLUMNS + WORLD_COLUMNS)
    np.testing.assert_allclose(spread[values].to_numpy(float),
                               sequential[values].to_numpy(float), atol=LANDMARK_ATOL)


@needs_dask
def test_train_search_runs_its_grid_search_on_the_cluster(client, tmp_path):
    from poseclf.classify.model import PoseModel

    table = str(REPO / "datasets" / "pushups_visolus.csv")
    local, remote = tmp_path / "local.skops", tmp_path / "cluster.skops"
    assert main(["train", table, "-o", str(local), "--search", "--cv", "0", "--no-mirror"]) == 0
    from distributed import get_task_stream

    # the scheduler's task-stream index, not a wall-clock start: under load a time boundary
    # dropped the tasks (seen once in CI)
    with get_task_stream(client=client) as stream:
        assert main(["train", table, "-o", str(remote), "--search", "--cv", "0", "--no-mirror",
                     "--cluster", client.scheduler.address]) == 0
    assert stream.data, "no task ran on the cluster"
    best = [PoseModel.load(p).metadata["classifier_params"]["best_params"]
            for p in (local, remote)]
    assert best[0] == best[1]


# -- without a cluster --------------------------------------------------------------------
def _run_python(code: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=START_TIMEOUT_S)


def test_without_cluster_dask_is_never_imported(astronaut, tmp_path):
    import cv2

    (tmp_path / "data" / "person").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "data" / "person" / "astronaut.png"), astronaut[..., ::-1])
    code = textwrap.dedent("""
        import sys
        import poseclf
        from poseclf.cli import main
        assert main(["extract", "data", "-o", "table.csv", "--workers", "1", "-q"]) == 0
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")))
    """)
    result = _run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_cluster_without_dask_names_the_extra(tmp_path):
    (tmp_path / "data" / "person").mkdir(parents=True)
    code = SHIM + textwrap.dedent("""
        from poseclf.cli import main
        sys.exit(main(["extract", "data", "-o", "t.csv", "--cluster", "local:2", "-q"]))
    """)
    (tmp_path / "data" / "person" / "a.jpg").write_bytes(b"not a photo, never read")
    result = _run_python(code, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert INSTALL_HINT in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("text, message", [
    ("local:0", "use local:N with N >= 1"),
    ("local:many", "use local:N with N >= 1"),
    ("  ", "needs a scheduler address"),
])
def test_bad_cluster_values_are_refused_with_the_fix(text, message):
    with pytest.raises(PoseclfError, match=message):
        ClusterSpec.parse(text)


@pytest.mark.parametrize("text, expected", [
    ("local:3", ClusterSpec(n_local=3)),
    ("tcp://10.0.0.5:8786", ClusterSpec(address="tcp://10.0.0.5:8786")),
])
def test_cluster_values_are_parsed(text, expected):
    assert ClusterSpec.parse(text) == expected


def test_train_cluster_without_search_is_refused(tmp_path, capsys):
    table = str(REPO / "datasets" / "pushups_visolus.csv")
    assert main(["train", table, "-o", str(tmp_path / "m.skops"), "--cluster", "local:2"]) == 2
    assert "add --search" in capsys.readouterr().err
