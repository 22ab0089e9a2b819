"""`poseclf train A B --card`: several tables stacked, and a card that matches the model."""

import numpy as np
import pytest

from poseclf.classify.model import PoseModel
from poseclf.classify.model_card import card_accuracy
from poseclf.cli import main
from poseclf.pose.landmarks import Pose
from poseclf.pose.poses import Poses
from poseclf.pose.table import save_table

pytestmark = pytest.mark.usefixtures("one_blas_thread")  # trains models: see conftest


def _synthetic_table(path, labels, seed):
    """Two clearly different poses (arms down / arms up) with noise, one row per label."""
    rng = np.random.default_rng(seed)
    base = rng.random((33, 4)).astype(np.float32)
    base[:, 3] = 1.0
    poses = []
    for label in labels:
        lm = base.copy()
        if label == "up":
            lm[[15, 16], 1] -= 0.6  # wrists above the head
        lm[:, :2] += rng.normal(0, 0.01, (33, 2))
        poses.append(Pose(lm, None, (100, 100)))
    paths = [f"{label}/{i}.jpg" for i, label in enumerate(labels)]
    return save_table(Poses.from_poses(poses).to_table(paths, labels, [""] * len(labels)), path)


def test_train_stacks_tables_and_writes_a_card(tmp_path, capsys):
    a = _synthetic_table(tmp_path / "a.csv", ["up", "down"] * 6, seed=1)
    b = _synthetic_table(tmp_path / "b.parquet", ["up", "down"] * 4, seed=1)
    notes = tmp_path / "notes.md"
    notes.write_text("## Known limits\n\nSynthetic.\n")
    code = main(["train", str(a), str(b), "-o", str(tmp_path / "m.skops"), "--classifier",
                 "knn", "--cv", "3", "--card", str(tmp_path / "m.md"), "--card-notes",
                 str(notes), "--title", "Arms"])
    assert code == 0
    model = PoseModel.load(tmp_path / "m.skops")
    assert model.metadata["n_samples"] == 20
    card = (tmp_path / "m.md").read_text()
    assert card.startswith("# Arms") and "## Known limits" in card
    assert card_accuracy(tmp_path / "m.md") == pytest.approx(
        model.metadata["cv_scores"]["accuracy"], abs=5e-4)
    assert (tmp_path / "m_confusion.png").stat().st_size > 1000


def test_card_without_cross_validation_is_refused(tmp_path, capsys):
    a = _synthetic_table(tmp_path / "a.csv", ["up", "down"] * 6, seed=1)
    code = main(["train", str(a), "-o", str(tmp_path / "m.skops"), "--cv", "0",
                 "--card", str(tmp_path / "m.md")])
    assert code == 2 and "--card needs cross-validation" in capsys.readouterr().err
