"""Every notebook in notebooks/ runs from top to bottom, so none of them rots."""

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow  # subprocesses, signals or notebooks: `pytest -m "not slow"` skips it

NOTEBOOK_TIMEOUT_S = 600  # per cell; the slowest cell extracts a few dozen photos
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=NOTEBOOK_TIMEOUT_S, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError with the failing cell and its traceback
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
