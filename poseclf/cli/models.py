"""``poseclf models``: list the trained models that ship with poseclf."""

from __future__ import annotations

import argparse

from ..model import PoseModel
from ..shipped import shipped_models
from ._common import EXIT_OK


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models", help="list the models that ship with poseclf",
        description="Shipped models can be used by name: `poseclf predict --model yoga ...`.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for shipped in shipped_models():
        model = PoseModel.load(shipped.path)
        scores = model.metadata.get("cv_scores") or {}
        accuracy = f"{scores['accuracy']:.3f}" if scores else "-"
        print(f"{shipped.name:<10} {model.metadata['classifier']:<6} "
              f"cv-accuracy={accuracy}  classes: {', '.join(model.classes_)}")
        if shipped.card:
            print(f"{'':<10} card: {shipped.card}")
    return EXIT_OK
