"""The real command line on bad model files: exit status 2, one stderr line naming the file and
the fix, no traceback, little memory, and the file left as it was.

Each run starts ``python -m poseclf`` (about 1.5 s: the model is refused before BlazePose is
imported) with its address space limited to 3 GiB, so that loading a crafted 1.6 GB array
fails instead of swapping. Most refusals are tested on the library in ``test_model_files``.
"""

from __future__ import annotations

import json
import math
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from crafted_models import (
    REPO,
    TABLE,
    huge_array_model,
    json_node,
    rewrite_skops,
    write_small_model,
)

pytestmark = pytest.mark.slow  # subprocesses, signals or notebooks: `pytest -m "not slow"` skips it

ADDRESS_SPACE = 3 << 30  # the crafted file used to take 3.3 GB


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("bad_models")


@pytest.fixture(scope="module")
def image(folder):
    import cv2
    from skimage.data import astronaut

    path = folder / "astronaut.png"
    cv2.imwrite(str(path), astronaut()[..., ::-1])
    return path


def _truncated(folder: Path) -> Path:
    small = write_small_model(folder / "whole.skops")
    path = folder / "cut.skops"
    path.write_bytes(small.read_bytes()[:100_000])
    return path


def _metadata_not_dict(folder: Path) -> Path:
    def edit(schema):
        schema["content"]["metadata"] = json_node("pushups")
        return schema
    return rewrite_skops(write_small_model(folder / "meta_src.skops"), folder / "meta.skops",
                         schema=edit)


def _nan_threshold(folder: Path) -> Path:
    def edit(schema):
        schema["content"]["novelty"]["content"]["content"]["threshold_"] = json_node(math.nan)
        return schema
    return rewrite_skops(write_small_model(folder / "nan_src.skops"), folder / "nan.skops",
                         schema=edit)


def _empty(folder: Path) -> Path:
    path = folder / "empty.skops"
    path.write_bytes(b"")
    return path


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.skops"
    if not path.exists():
        os.mkfifo(path)
    return path


def _plain_estimator(folder: Path) -> Path:
    import numpy as np
    import skops.io as sio
    from sklearn.preprocessing import StandardScaler

    path = folder / "scaler.skops"
    sio.dump(StandardScaler().fit(np.eye(3)), path)
    return path


# (command, crafted file, what the line must say besides the file name)
CASES = {
    "huge-array-predict": ("predict", huge_array_model, ["512.0 MiB", "poseclf train"]),
    "huge-array-evaluate": ("evaluate", huge_array_model, ["512.0 MiB", "poseclf train"]),
    "truncated": ("predict", _truncated, ["damaged or truncated", "copy the file again"]),
    "metadata-not-dict": ("evaluate", _metadata_not_dict, ["damaged model metadata",
                                                           "poseclf train"]),
    "nan-threshold": ("predict", _nan_threshold, ["not finite", "poseclf train"]),
    "empty": ("evaluate", _empty, ["empty (0 bytes)", "copy the file again"]),
    "fifo": ("predict", _fifo, ["not a regular file", "give a model file"]),
    "plain-estimator": ("predict", _plain_estimator, ["not a poseclf model file",
                                                      "poseclf train"]),
}


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "poseclf", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=60,
                          preexec_fn=_limit_memory)


def _state(path: Path):
    mode = path.stat().st_mode
    return path.read_bytes() if stat.S_ISREG(mode) else mode


@pytest.mark.parametrize("case", CASES)
def test_bad_model_file_gets_one_line(case, folder, image):
    command, make, expected = CASES[case]
    model = make(folder)
    before = _state(model)
    target = image if command == "predict" else TABLE.relative_to(REPO)
    result = run_cli(command, "--model", model, target)
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"poseclf {command}: error: {model}: "), lines[0]
    assert all(text in lines[0] for text in expected), lines[0]
    assert result.stdout == ""
    assert _state(model) == before


def test_unknown_bare_name_lists_the_shipped_models(image):
    from poseclf.shipped import shipped_models

    result = run_cli("predict", "--model", "pushup", image)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "pushup: no such model file, and no shipped model has that name" in result.stderr
    assert all(m.name in result.stderr for m in shipped_models())


def test_crafted_cases_are_what_they_claim(folder):
    """The huge file really is small on disk and declares 1.6 GB once loaded."""
    import zipfile

    path = huge_array_model(folder)
    with zipfile.ZipFile(path) as archive:
        declared = sum(i.file_size for i in archive.infolist())
        schema = json.loads(archive.read("schema.json"))
    assert path.stat().st_size < 2_000_000 and declared > 1_600_000_000
    assert schema["content"]["metadata"]["content"]["n_samples"]["content"] == "88"


#: The crafted files ``poseclf export`` meets (it loads the model as predict does).
EXPORT_CASES = ("truncated", "empty", "plain-estimator", "nan-threshold", "fifo")


@pytest.mark.parametrize("case", EXPORT_CASES)
def test_bad_model_file_is_not_exported(case, folder):
    _, make, expected = CASES[case]
    model = make(folder)
    before = _state(model)
    out = folder / f"{case}.onnx"
    result = run_cli("export", model, "-o", out)
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"poseclf export: error: {model}: "), lines[0]
    assert all(text in lines[0] for text in expected), lines[0]
    assert not out.exists() and _state(model) == before


def test_export_refuses_to_write_over_its_model(folder):
    model = write_small_model(folder / "self_src.skops")
    same = folder / "self.onnx"  # a model file under an ONNX name
    same.write_bytes(model.read_bytes())
    result = run_cli("export", same, "-o", same)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert f"-o {same}: is also an input of this command" in result.stderr
    assert same.read_bytes() == model.read_bytes()


def test_export_refuses_a_model_it_cannot_reproduce(folder):
    """Joint angles need float64 atan, which onnxruntime lacks: one line, no file."""
    import numpy as np

    from poseclf.classify.model import PoseModel

    pytest.importorskip("onnx", reason="the refusal comes from the exporter: needs onnx")
    rng = np.random.default_rng(0)
    model = PoseModel.train(rng.random((40, 33, 4)).astype("float32"), None,
                            np.repeat(["a", "b"], 20), "knn", cv=0,
                            embedder_params={"world": "off", "angles": True})
    path = model.save(folder / "angles.skops")
    out = folder / "angles.onnx"
    result = run_cli("export", path, "-o", out)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"poseclf export: error: {path}: cannot be exported to ONNX: "
                                    "it uses joint angles (angles=True)")
    assert "retrain it without angles" in result.stderr and not out.exists()
