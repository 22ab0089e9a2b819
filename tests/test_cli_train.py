"""``poseclf train / evaluate / predict`` in-process, on real photos (BlazePose) and tables."""

from __future__ import annotations

import json
import warnings

import cv2
import numpy as np
import pytest
from conftest import shared_data_or_skip

from poseclf.cli import main
from poseclf.pose.poses import Poses
from poseclf.pose.table import check_table, save_table

pytestmark = pytest.mark.usefixtures("one_blas_thread")  # trains models: see conftest

warnings.filterwarnings("ignore", category=FutureWarning)
PHOTOS = {  # (dataset, class): first photos of the class, sorted by name
    ("pushups_visolus", "pushups_up"): 4,
    ("pushups_visolus", "pushups_down"): 4,
}


@pytest.fixture(scope="module")
def photo_table(tmp_path_factory, image_extractor):
    """A small landmark table made with real BlazePose on shared push-up photos."""
    from poseclf.pose.images import read_image

    paths, labels, poses, sizes = [], [], [], []
    for (dataset, label), count in PHOTOS.items():
        folder = shared_data_or_skip(dataset, label)
        for path in sorted(folder.iterdir())[:count]:
            image = read_image(path)
            paths.append(str(path))
            labels.append(label)
            poses.append(image_extractor(image))
            sizes.append((image.shape[1], image.shape[0]))
    reasons = ["" if pose else "no_person" for pose in poses]
    table = tmp_path_factory.mktemp("tables") / "pushups.csv"
    save_table(check_table(Poses.from_poses(poses, sizes).to_table(paths, labels, reasons)),
               table)
    return table


@pytest.fixture(scope="module")
def trained(photo_table, tmp_path_factory):
    model = tmp_path_factory.mktemp("models") / "pushups.skops"
    assert main(["train", str(photo_table), "-o", str(model), "--classifier", "knn",
                 "--cv", "2"]) == 0
    return model


def test_train_prints_fold_accuracy_and_writes_model(photo_table, tmp_path, capsys):
    model = tmp_path / "svm.skops"
    assert main(["train", str(photo_table), "-o", str(model), "--cv", "3"]) == 0
    out = capsys.readouterr().out
    assert "3-fold accuracy:" in out and "pushups_up" in out and "recall" in out
    assert model.is_file()


def test_evaluate_json_has_the_documented_keys(trained, photo_table, tmp_path, capsys):
    png = tmp_path / "cm.png"
    assert main(["evaluate", "--model", str(trained), str(photo_table), "--json",
                 "--confusion", str(png)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"accuracy", "macro_f1", "n", "per_class", "confusion"} <= set(report)
    assert report["n"] == 8 and report["accuracy"] >= 0.75
    assert cv2.imread(str(png)) is not None


def test_evaluate_prints_text_report(trained, photo_table, capsys):
    assert main(["evaluate", "--model", str(trained), str(photo_table)]) == 0
    out = capsys.readouterr().out
    assert "accuracy=" in out and "confusion (rows: true" in out


def test_predict_labels_photos_reports_unreadable_and_draws(trained, tmp_path, capsys):
    photo = sorted(shared_data_or_skip("pushups_visolus", "pushups_down").iterdir())[5]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really")
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 255, np.uint8))
    draw = tmp_path / "drawn"
    code = main(["predict", "--model", str(trained), str(photo), str(broken), str(blank),
                 "--json", "--draw", str(draw)])
    assert code == 1  # one unreadable file
    results = {json.loads(line)["file"]: json.loads(line)
               for line in capsys.readouterr().out.splitlines()}
    assert results[str(photo)]["label"] == "pushups_down"
    assert sum(results[str(photo)]["probabilities"].values()) == pytest.approx(1)
    assert results[str(blank)]["label"] == "no_person"
    assert "broken.jpg" in results[str(broken)]["error"]
    assert cv2.imread(str(draw / f"{photo.stem}_pred.png")).shape[:2] == cv2.imread(
        str(photo)).shape[:2]


def test_predict_refuses_untrusted_model_file(photo_table, tmp_path, capsys):
    path = tmp_path / "model.pkl"
    path.write_bytes(b"\x80\x04K\x01.")
    assert main(["predict", "--model", str(path), str(photo_table)]) == 2
    assert "model.pkl: not a skops model file" in capsys.readouterr().err


def test_train_rejects_unknown_classifier(photo_table, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", str(photo_table), "-o", str(tmp_path / "m.skops"),
              "--classifier", "forest"])
    assert "invalid choice: 'forest'" in capsys.readouterr().err
