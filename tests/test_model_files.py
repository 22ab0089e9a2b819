"""Model files that are refused before anything in them is loaded, with one line saying why.

Every crafted file starts as a real small model (the shipped push-up table) with one part of its
zip changed; see ``crafted_models``.
"""

from __future__ import annotations

import errno
import math
import os
import pickle
import time
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
from crafted_models import (
    ZeroArray,
    biggest_array,
    huge_array_model,
    json_node,
    npy_header,
    rewrite_skops,
    set_metadata,
    write_small_model,
)

from poseclf import __version__
from poseclf.classify.embedding import PoseEmbedder
from poseclf.classify.model import PoseModel
from poseclf.classify.model_file import TRUST_HINT
from poseclf.classify.model_io import TRUSTED_TYPES
from poseclf.classify.skops_archive import MAX_MODEL_BYTES
from poseclf.errors import InputError, ModelFileError, PoseclfError, RunError
from poseclf.shipped import shipped_models

warnings.filterwarnings("ignore", category=FutureWarning)


def refusal(path, **kwargs) -> str:
    """The one-line message PoseModel.load refuses ``path`` with."""
    with pytest.raises(ModelFileError) as info:
        PoseModel.load(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("crafted")


@pytest.fixture(scope="module")
def small(folder):
    return write_small_model(folder / "small.skops")


# -- sizes ------------------------------------------------------------------------------------
def test_small_model_loads(small):
    assert PoseModel.load(small).classes_ == ["pushups_down", "pushups_up"]


def test_huge_array_in_a_small_file_is_refused_at_once(folder):
    """1.8 MB of file declaring 200M float64 values: it used to load, taking 3.3 GB and 22 s."""
    path = huge_array_model(folder)
    assert path.stat().st_size < 2_000_000
    before = path.read_bytes()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        message = refusal(path)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in message and "512.0 MiB" in message and "1.5 GiB" in message
    assert "poseclf train" in message and "trusted=True" in message
    assert seconds < 1 and peak < 20 << 20, (seconds, peak)
    assert path.read_bytes() == before


def test_array_out_of_proportion_with_the_metadata_is_refused(folder, small):
    """10M values (80 MB, below the absolute limit) in a model of 88 poses."""
    path = rewrite_skops(small, folder / "big_array.skops",
                         members={biggest_array(small): ZeroArray((100_000, 100))})
    message = refusal(path)
    assert "10,000,000 values" in message and "out of proportion" in message
    assert "88 poses" in message


def test_arrays_too_large_together_are_refused(folder, small):
    with zipfile.ZipFile(small) as archive:
        names = sorted((i for i in archive.infolist() if i.filename.endswith(".npy")),
                       key=lambda i: -i.file_size)[:2]
    # each below the per-array limit (4,374,528 values for 88 poses), 64 MB together
    path = rewrite_skops(small, folder / "two_big.skops",
                         members={i.filename: ZeroArray((4_000_000,)) for i in names})
    message = refusal(path)
    assert "its arrays take 61.1 MiB" in message and "out of proportion" in message


def test_one_array_read_many_times_counts_each_time(folder, small):
    """skops reads a member once per object id: 6,000 references to one array are refused."""
    name = biggest_array(small)
    with zipfile.ZipFile(small) as archive:
        size = archive.getinfo(name).file_size
    refs = [{"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode",
             "type": "numpy", "file": name, "__id__": 10**12 + i}
            for i in range(MAX_MODEL_BYTES // size + 10)]

    def add(schema):
        schema["content"]["junk"] = {"__class__": "list", "__module__": "builtins",
                                     "__loader__": "ListNode", "content": refs}
        return schema
    message = refusal(rewrite_skops(small, folder / "many_refs.skops", schema=add))
    assert "more than 512.0 MiB" in message


def test_array_header_larger_than_its_data_is_refused(folder, small):
    """numpy would reserve the declared size before finding the data missing."""
    path = rewrite_skops(small, folder / "lying_header.skops",
                         members={biggest_array(small): npy_header((10**9, 100)) + bytes(80)})
    message = refusal(path)
    assert "damaged" in message and "declares shape (1000000000, 100)" in message


# -- what the file is -------------------------------------------------------------------------
def test_empty_file(folder):
    path = folder / "empty.skops"
    path.write_bytes(b"")
    assert "is empty (0 bytes)" in refusal(path)


def test_truncated_skops_file_is_damaged_not_a_pickle(folder, small):
    path = folder / "cut.skops"
    path.write_bytes(small.read_bytes()[: small.stat().st_size // 2])
    message = refusal(path)
    assert "damaged or truncated skops model file" in message
    assert "re-train" in message and "copy the file again" in message
    assert "trust" not in message and "pickle" not in message


def test_zip_that_is_not_skops(folder):
    path = folder / "photos.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "a zip archive but not a skops model file (no schema.json)" in refusal(path)


def test_skops_file_of_a_plain_estimator_is_not_a_poseclf_model(folder):
    import skops.io as sio
    from sklearn.preprocessing import StandardScaler

    path = folder / "scaler.skops"
    sio.dump(StandardScaler().fit(np.eye(3)), path)
    message = refusal(path)
    assert "not a poseclf model file" in message and "StandardScaler" in message
    assert "poseclf train" in message


def test_skops_file_of_a_dict_is_not_a_poseclf_model(folder):
    import skops.io as sio

    path = folder / "dict.skops"
    sio.dump({"a": 1}, path)
    assert "no 'poseclf-model' marker" in refusal(path)


def test_every_trusted_type_name_is_a_class_today():
    """Each trusted name, derived or spelled by hand, names a class of the installed libraries
    (a scikit-learn that moved a private class shows here, not as a refused model file)."""
    import importlib

    for name in TRUSTED_TYPES:
        if name == "builtins.NoneType":  # type(None): not a name in builtins
            continue
        module, _, qualname = name.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), qualname, None), type), name
    assert "poseclf.classify.calibrated_svc.PlattSVC" in TRUSTED_TYPES


def test_pickle_advice_fits_every_caller(folder):
    """`poseclf video` has no --trust: the advice names the commands that have it."""
    path = folder / "model.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    message = refusal(path)
    assert "not a skops model file" in message and TRUST_HINT in message
    assert "(CLI: --trust)" not in message


def test_untrusted_type_advice_fits_every_caller(folder, small):
    def swap(schema):
        schema["content"]["junk"] = {"__class__": "Thing", "__module__": "evil",
                                     "__loader__": "ObjectNode", "content": {}}
        return schema
    message = refusal(rewrite_skops(small, folder / "evil.skops", schema=swap))
    assert "evil.Thing" in message and "`poseclf predict` and `poseclf evaluate`" in message


# -- metadata ---------------------------------------------------------------------------------
@pytest.mark.parametrize("edit, expected", [
    (lambda s: s["content"].__setitem__("metadata", json_node([1, 2])),
     "damaged model metadata (a list, not a dict)"),
    (lambda s: s["content"].pop("metadata"), "damaged model metadata (none in the file)"),
    (set_metadata(n_samples=...), "n_samples must be a whole number >= 2, got missing"),
    (set_metadata(n_samples="88"), "n_samples must be a whole number >= 2, got '88'"),
    (set_metadata(n_samples=True), "n_samples must be a whole number >= 2, got True"),
    (set_metadata(n_samples=89), "class_counts must add up to n_samples (89)"),
    (set_metadata(class_counts=["pushups_down", "pushups_up"]),
     "class_counts must map 2 or more class names"),
    (set_metadata(classifier=3), "classifier must be a name"),
    (set_metadata(schema_version="1"), "landmark schema '1'"),
    (set_metadata(schema_version=...), "landmark schema missing"),
    (set_metadata(poseclf_version=7), "poseclf_version 7"),
    (set_metadata(poseclf_version="99.0.0"), "upgrade poseclf"),
    (set_metadata(cv_scores={"accuracy": "high"}), "cv_scores accuracy must be in [0, 1]"),
    (set_metadata(rejection={"threshold": math.nan}),
     "rejection threshold must be a finite number >= 0, got nan"),
    (set_metadata(trained_at=20240101), "trained_at must be a str"),
    (lambda s: s["content"].__setitem__("format_version", json_node(3)),
     "format 3 was written by a newer poseclf"),
    (lambda s: s["content"].__setitem__("format_version", json_node(0)),
     "model file format 0 is not supported"),
    (lambda s: s["content"].__setitem__("format_version", json_node("1")),
     "model file format '1' is not supported"),
    (lambda s: s["content"].pop("format"), "no 'poseclf-model' marker"),
])
def test_odd_metadata_is_refused_before_loading(folder, small, edit, expected):
    def apply(schema):
        edit(schema)
        return schema
    path = rewrite_skops(small, folder / "odd.skops", schema=apply)
    message = refusal(path)
    assert expected in message and str(path) in message


def test_infinite_threshold_in_metadata(folder, small):
    import json
    import zipfile as zf

    with zf.ZipFile(small) as archive:
        schema = json.loads(archive.read("schema.json"))
    rejection = schema["content"]["metadata"]["content"]["rejection"]
    rejection["content"]["threshold_image"] = json_node(math.inf)
    path = rewrite_skops(small, folder / "inf.skops", schema=lambda s: schema)
    assert "rejection threshold_image must be a finite number >= 0, got inf" in refusal(path)


def test_nan_threshold_of_the_novelty_scorer(folder, small):
    def nan(schema):
        schema["content"]["novelty"]["content"]["content"]["threshold_"] = json_node(math.nan)
        return schema
    message = refusal(rewrite_skops(small, folder / "nan.skops", schema=nan))
    assert "novelty data has a threshold" in message and "not finite" in message


def test_classes_that_differ_from_the_metadata(folder, small):
    path = rewrite_skops(small, folder / "classes.skops", schema=set_metadata(
        n_samples=88, class_counts={"up": 44, "down": 40, "plank": 4}))
    message = refusal(path)
    assert "the classifier's 2 classes" in message and "not the 3 of the metadata" in message


def test_parts_that_do_not_fit_together(tmp_path):
    """An embedder wider than the classifier expects: refused at load, not at the first
    frame."""
    model = PoseModel.load(write_small_model(tmp_path / "m.skops"))
    model.pipeline.steps[0] = ("embed", PoseEmbedder(pairs="all").fit(np.zeros((1, 33, 4))))
    path = model.save(tmp_path / "wide.skops")
    assert "the model's parts do not fit together" in refusal(path)


# -- paths ------------------------------------------------------------------------------------
def test_folder(tmp_path):
    write_small_model(tmp_path / "inside.skops")
    message = refusal(tmp_path)
    assert "is a folder, not a model file" in message and "inside.skops" in message


def test_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "model.skops"
    os.mkfifo(fifo)
    assert "not a regular file (a pipe" in refusal(fifo)  # would block if it were opened


def test_missing_file_and_missing_bare_name(tmp_path):
    assert "no such model file; check the path" in refusal(tmp_path / "nope.skops")
    names = [m.name for m in shipped_models()]
    message = refusal("pushup")
    assert "no shipped model has that name" in message
    assert all(name in message for name in names)


def test_empty_model_name():
    message = refusal("")
    assert "the model name is empty" in message and "shipped:" in message


def test_shipped_name_with_a_folder(tmp_path):
    assert "named without a folder: --model yoga" in refusal(tmp_path / "nowhere" / "yoga")


def test_name_without_its_extension(tmp_path):
    write_small_model(tmp_path / "mine.skops")
    assert "Did you mean" in refusal(tmp_path / "mine")


def test_name_with_a_nul_character():
    assert "NUL character" in refusal("yo\0ga")


# -- saving -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model(small):
    return PoseModel.load(small)


def test_save_wants_a_skops_name(model, tmp_path):
    with pytest.raises(InputError, match=r"m\.pkl: unknown file type '\.pkl'; use \.skops"):
        model.save(tmp_path / "m.pkl")
    assert not (tmp_path / "m.pkl").exists()


def test_save_refuses_a_folder_and_an_input(model, tmp_path):
    (tmp_path / "m.skops").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        model.save(tmp_path / "m.skops")
    table = tmp_path / "table.skops"
    table.write_bytes(b"training data")
    with pytest.raises(InputError, match="is also an input"):
        model.save(table, inputs=[table])
    assert table.read_bytes() == b"training data"


@pytest.mark.parametrize("error, kind, text", [
    (PermissionError(errno.EACCES, "Permission denied"), InputError, "change its permissions"),
    (OSError(errno.EROFS, "Read-only file system"), InputError, "read-only file system"),
    (OSError(errno.ENOSPC, "No space left on device"), RunError, "free some disk space"),
])
def test_save_failure_keeps_the_previous_file(model, tmp_path, monkeypatch, error, kind, text):
    import poseclf.files

    path = model.save(tmp_path / "m.skops")
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise error
    monkeypatch.setattr(poseclf.files.tempfile, "mkstemp", fail)
    with pytest.raises(kind, match=text) as info:
        model.save(path)
    assert isinstance(info.value, PoseclfError) and str(path) in str(info.value)
    assert path.read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in read-only folders")
def test_save_into_a_read_only_folder(model, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(InputError, match="not writable"):
            model.save(folder / "m.skops")
    finally:
        folder.chmod(0o755)


def test_saved_metadata_holds_plain_class_names(tmp_path):
    """cv_scores labels used to be numpy strings, one .npy member each."""
    from crafted_models import TABLE

    from poseclf.pose.poses import training_arrays
    from poseclf.pose.table import load_table

    lm, sizes, labels = training_arrays(load_table(TABLE))
    path = PoseModel.train(lm, sizes, labels, "knn", cv=2).save(tmp_path / "m.skops")
    with zipfile.ZipFile(path) as archive:
        assert '"str_"' not in archive.read("schema.json").decode()
    assert all(type(c) is str for c in PoseModel.load(path).metadata["cv_scores"]["labels"])


def test_version_is_named_in_incompatibility(folder, small):
    path = rewrite_skops(small, folder / "v99.skops", schema=set_metadata(poseclf_version="99.1"))
    assert f"incompatible with {__version__}" in refusal(path)



def test_models_command_reports_a_broken_shipped_model_and_lists_the_others(
        tmp_path, monkeypatch, capsys):
    import poseclf.cli.models as command
    from poseclf.cli import main
    from poseclf.shipped import ShippedModel

    good = write_small_model(tmp_path / "good.skops")
    broken = tmp_path / "broken.skops"
    broken.write_bytes(good.read_bytes()[:1000])
    monkeypatch.setattr(command, "shipped_models", lambda: [
        ShippedModel("broken", broken, None), ShippedModel("good", good, None)])
    assert main(["models"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("good ") and "pushups_down, pushups_up" in out
    assert err.count("\n") == 1 and "broken.skops: damaged or truncated" in err


def test_oversized_schema_is_refused_before_parsing(folder, small):
    path = rewrite_skops(small, folder / "big_schema.skops",
                         members={"schema.json": ZeroArray((20 << 20,), "|u1")})
    assert "schema.json takes 20.0 MiB, above the 16.0 MiB limit" in refusal(path)


def test_zip_of_too_many_members(folder):
    path = folder / "many.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", "{}")
        for k in range(10_001):
            archive.writestr(f"{k}.npy", b"")
    assert "the zip lists 10002 members" in refusal(path)


@pytest.mark.parametrize("schema, expected", [
    (b"[" * 100_000 + b"]" * 100_000, "maximum recursion depth"),
    (b"[1, 2]", "schema.json holds no object"),
    (b"not json", "damaged skops model file"),
])
def test_unreadable_schema(folder, small, schema, expected):
    path = rewrite_skops(small, folder / "schema.skops", members={"schema.json": schema})
    assert expected in refusal(path)


def test_damaged_array_data(folder, small):
    data = bytearray(small.read_bytes())
    with zipfile.ZipFile(small) as archive:
        info = archive.getinfo(biggest_array(small))
    data[info.header_offset + 30 + len(info.filename) + 500] ^= 0xFF  # stored: flip one byte
    path = folder / "crc.skops"
    path.write_bytes(bytes(data))
    assert "damaged skops model file (Bad CRC-32" in refusal(path)
