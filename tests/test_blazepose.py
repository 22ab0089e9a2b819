"""BlazePose Lite and Heavy offline (issue 19): finding, installing and using the model files,
which model a table and a model file record, and the warning when they differ.

The Lite and Heavy files come from ``../shared/models`` (skipped with the reason when absent);
``$POSECLF_HOME`` is a temporary folder in every test (conftest), never the venv.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data_or_skip, shared_model_or_skip
from test_dataset import copy_photos

from poseclf.classify.model import PoseModel
from poseclf.classify.model_metadata import check_metadata
from poseclf.cli import main
from poseclf.errors import (
    BlazePoseMismatchWarning,
    InputError,
    ModelFileError,
    ModelNotAvailableError,
)
from poseclf.pose import blazepose
from poseclf.pose.extraction import ExtractOptions, PoseExtractor
from poseclf.pose.images import read_image
from poseclf.pose.landmarks import PoseLandmark as L
from poseclf.pose.table import load_table

MEDIAN_SHIFT_FROM_FULL = 0.05  # normalised image units: the models agree on a clear photo


def _photo() -> Path:
    folder = shared_data_or_skip("yoga_manoj", "tree")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))[0]


# -- the user folder and installing ------------------------------------------------------------
def test_user_folder_follows_poseclf_home(blazepose_home, monkeypatch):
    assert blazepose.user_folder() == blazepose_home / "blazepose"
    monkeypatch.delenv("POSECLF_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", "/data")
    assert blazepose.user_folder() == Path("/data/poseclf/blazepose")


def test_install_checks_the_checksum_and_copies_once(blazepose_home, tmp_path, capsys):
    lite = shared_model_or_skip("lite")
    renamed = tmp_path / "downloaded.bin"  # known by its checksum, whatever its name
    renamed.write_bytes(lite.read_bytes())
    assert main(["models", "--install-blazepose", str(renamed)]) == 0
    target = blazepose_home / "blazepose" / "pose_landmark_lite.tflite"
    assert capsys.readouterr().out.strip() == f"installed {target}"
    assert blazepose.sha256(target) == blazepose.LANDMARK_MODEL_SHA256[0]
    assert main(["models", "--install-blazepose", str(lite)]) == 0
    assert "already installed" in capsys.readouterr().out
    assert blazepose.find_landmark_model(0) == target
    assert main(["models"]) == 0
    assert f"blazepose lite  --complexity 0  {target}" in capsys.readouterr().out


def test_install_refuses_a_wrong_file(blazepose_home, tmp_path):
    wrong = tmp_path / "pose_landmark_heavy.tflite"
    wrong.write_bytes(b"TFL3 but not MediaPipe's model")
    with pytest.raises(InputError, match="is not one of MediaPipe's BlazePose landmark models"):
        blazepose.install_landmark_model(wrong)
    with pytest.raises(InputError, match="no such file"):
        blazepose.install_landmark_model(tmp_path / "missing.tflite")
    assert not blazepose_home.exists()


def test_install_never_replaces_a_different_file(blazepose_home):
    lite = shared_model_or_skip("lite")
    target = blazepose_home / "blazepose" / "pose_landmark_lite.tflite"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"a file the user made")
    with pytest.raises(InputError, match="already exists and is not BlazePose lite"):
        blazepose.install_landmark_model(lite)
    assert target.read_bytes() == b"a file the user made"


def test_a_missing_model_says_where_to_put_it(blazepose_home):
    with pytest.raises(ModelNotAvailableError) as err:
        ExtractOptions(2).check()
    message = str(err.value)
    assert str(blazepose_home / "blazepose") in message and "--install-blazepose" in message
    assert "\n" not in message and not blazepose_home.exists()


def test_landmark_model_of_another_complexity_is_refused():
    lite = shared_model_or_skip("lite")
    with pytest.raises(InputError, match="is BlazePose lite, not heavy.*--complexity 0"):
        ExtractOptions(2, landmark_model=str(lite)).check()


# -- extraction --------------------------------------------------------------------------------
@pytest.mark.parametrize("complexity, name", [(0, "lite"), (2, "heavy")])
def test_lite_and_heavy_find_the_pose_of_a_real_photo(complexity, name, image_extractor,
                                                      blazepose_home):
    model = shared_model_or_skip(name)
    image = read_image(_photo())
    with PoseExtractor(model_complexity=complexity, landmark_model=model) as extractor:
        assert extractor.backend == "tasks" and extractor.blazepose == name
        pose = extractor(image)
    assert pose is not None and pose.landmarks.shape == (33, 4)
    hips = pose.landmarks[[L.LEFT_HIP, L.RIGHT_HIP], 1].mean()
    assert pose.landmarks[L.NOSE, 1] < hips < pose.landmarks[L.LEFT_ANKLE, 1]
    full = image_extractor(image)
    shift = np.median(np.abs(pose.landmarks[:, :2] - full.landmarks[:, :2]))
    assert shift < MEDIAN_SHIFT_FROM_FULL
    # the .task was built once, in the user folder
    task = blazepose_home / "blazepose" / f"pose_landmarker_{name}.task"
    built = task.stat().st_mtime_ns
    assert blazepose.task_file(complexity, model) == task and task.stat().st_mtime_ns == built


# -- what tables and models record -------------------------------------------------------------
def test_tables_and_models_without_the_field_read_as_full():
    table = load_table(Path(__file__).parents[1] / "datasets" / "pushups_visolus.csv")
    assert blazepose.table_blazepose(table.drop(columns=["extractor"], errors="ignore")) == "full"
    table["extractor"] = "tasks:2:0.5:pose_landmarker_heavy.task"
    assert blazepose.table_blazepose(table) == "heavy"
    table.loc[table.index[:3], "extractor"] = "solutions:1:0.5"
    assert blazepose.table_blazepose(table) in ("full+heavy", "heavy")  # rows 0-2 may be lost
    model = PoseModel.load("pushups")
    meta = dict(model.metadata)
    meta.pop("blazepose", None)
    assert PoseModel(model.estimator, meta).blazepose == "full"
    check_metadata(meta, Path("old.skops"))
    with pytest.raises(ModelFileError, match="blazepose must be lite, full or heavy"):
        check_metadata({**meta, "blazepose": "ultra"}, Path("bad.skops"))


def test_a_full_model_on_heavy_landmarks_warns_once():
    model = PoseModel.load("pushups")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):
            blazepose.warn_if_mismatched(model.blazepose, "heavy", "here")
        assert not blazepose.warn_if_mismatched(model.blazepose, "full")
    mismatches = [w for w in caught if issubclass(w.category, BlazePoseMismatchWarning)]
    assert len(mismatches) == 1
    assert "trained on BlazePose full landmarks and labels BlazePose heavy" in str(
        mismatches[0].message)


@pytest.mark.slow
def test_heavy_table_and_model_end_to_end(tmp_path, blazepose_home, capsys):
    """extract --complexity 2, train, predict: Heavy recorded, a Full predict warns once."""
    heavy = shared_model_or_skip("heavy")
    data = tmp_path / "data"
    copy_photos(data, "sitstand_multimediaimg", 5)
    assert main(["models", "--install-blazepose", str(heavy)]) == 0
    table, model = tmp_path / "heavy.csv", tmp_path / "heavy.skops"
    assert main(["extract", str(data), "-o", str(table), "--complexity", "2", "--workers", "1",
                 "-q"]) == 0
    df = load_table(table)
    assert blazepose.table_blazepose(df) == "heavy" and df["detected"].sum() >= 8
    assert main(["train", str(table), "-o", str(model), "--cv", "0", "--no-negatives"]) == 0
    assert PoseModel.load(model).blazepose == "heavy"
    capsys.readouterr()
    photo = next((data / "sitting").iterdir())
    assert main(["predict", "--model", str(model), str(photo), "--complexity", "2"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main(["predict", "--model", str(model), str(photo)]) == 0  # Full extraction
    err = [line for line in capsys.readouterr().err.splitlines() if "poseclf" in line]
    assert err == ["poseclf predict: warning: the model was trained on BlazePose heavy "
                   "landmarks and labels BlazePose full ones; results may be a little worse "
                   "(use --complexity 2 or retrain on full landmarks)"]
