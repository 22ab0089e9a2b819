"""``poseclf models``: list the trained models that ship with poseclf."""

from __future__ import annotations

import argparse
import sys

from ..classify.model import PoseModel
from ..errors import PoseclfError
from ..shipped import shipped_models
from ._common import EXIT_FAILURE, EXIT_OK


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models", help="list the models that ship with poseclf",
        description="Shipped models can be used by name: `poseclf predict --model yoga ...`. "
        "A shipped model that cannot be loaded is reported on one line (exit status 1) and the "
        "others are still listed.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    failed = 0
    for shipped in shipped_models():
        try:
            model = PoseModel.load(shipped.path)
        except PoseclfError as err:  # one broken installed file does not hide the others
            failed += 1
            print(f"poseclf models: error: {' '.join(str(err).split())} (reinstall poseclf "
                  "to restore the shipped models)", file=sys.stderr)
            continue
        scores = model.metadata.get("cv_scores") or {}
        accuracy = f"{scores['accuracy']:.3f}" if scores else "-"
        print(f"{shipped.name:<10} {model.metadata['classifier']:<6} "
              f"cv-accuracy={accuracy}  classes: {', '.join(model.classes_)}")
        if shipped.card:
            print(f"{'':<10} card: {shipped.card}")
    if not shipped_models():
        print("no shipped models found (reinstall poseclf to restore them)", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_FAILURE if failed else EXIT_OK
