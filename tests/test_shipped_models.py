"""Every shipped model loads safely, and its card's accuracy is what a fresh cross-validation
on the shipped tables gives."""

import re
from pathlib import Path

import numpy as np
import pytest

from poseclf.classify.evaluation import cross_validate_model
from poseclf.classify.model import PoseModel
from poseclf.classify.model_card import card_accuracy
from poseclf.pose.poses import training_arrays, training_world_landmarks
from poseclf.shipped import resolve_model, resolve_table, shipped_models
from poseclf.tables.exclusions import load_training_tables

MODELS = shipped_models()
EXPECTED = {"yoga", "pushups", "sitstand"}
CARD_ROUNDING = 5e-4  # the card prints three decimals


def test_the_promised_models_ship():
    assert {m.name for m in MODELS} >= EXPECTED


def _card_tables(card: Path) -> list[Path]:
    line = next(x for x in card.read_text().splitlines() if x.startswith("- Training tables:"))
    return [resolve_table(Path(t).stem) for t in re.findall(r"`([^`]+)`", line)]


#: Cards whose cross-validation takes long (yoga: 8 classes, ~12-15 s): slow tier; the other
#: cards check the same rule in the quick tier.
SLOW_CARDS = {"yoga"}


@pytest.mark.parametrize("shipped", [
    pytest.param(m, marks=pytest.mark.slow) if m.name in SLOW_CARDS else m for m in MODELS],
    ids=[m.name for m in MODELS])
def test_shipped_model_matches_its_card(shipped):
    model = PoseModel.load(resolve_model(shipped.name))  # safe load: no trust needed
    assert shipped.card is not None, f"{shipped.name} has no model card"
    card = shipped.card.read_text()
    assert all(f"| {c} |" in card for c in model.classes_)
    assert (shipped.card.parent / f"{shipped.name}_confusion.png").is_file()

    meta = model.metadata
    reviewed = [resolve_table(Path(p).stem) for p in meta.get("excluded", {}).get("lists", [])]
    table, dropped = load_training_tables(_card_tables(shipped.card), reviewed)
    assert dropped == meta.get("excluded", {}).get("rows", 0)
    lm, sizes, labels = training_arrays(table)
    world = training_world_landmarks(table)
    assert meta["n_samples"] == len(labels)
    report = cross_validate_model(
        lm, sizes, labels, meta["classifier"], cv=meta["cv_scores"]["folds"],
        world_landmarks=world,
        mirror=meta["mirror_augmentation"], embedder_params=meta["embedder_params"],
        classifier_params={k: v for k, v in meta["classifier_params"].items()
                           if k != "best_params"} or None,
    )
    assert card_accuracy(shipped.card) == pytest.approx(report["accuracy"], abs=CARD_ROUNDING)
    # and the saved model reproduces its own training labels mostly (a sanity floor)
    assert np.mean(model.predict(lm, sizes, world_landmarks=world) == labels) > 0.9


def test_models_command_lists_them_and_predict_takes_a_bare_name(capsys, astronaut, tmp_path):
    from PIL import Image

    from poseclf.cli import main

    assert main(["models"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in EXPECTED)
    Image.fromarray(astronaut).save(tmp_path / "a.jpg")
    assert main(["predict", "--model", "sitstand", str(tmp_path / "a.jpg")]) == 0
    assert "a.jpg" in capsys.readouterr().out
