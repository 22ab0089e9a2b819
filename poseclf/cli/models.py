"""``poseclf models``: list the trained models that ship with poseclf, and the BlazePose models;
``--install-blazepose FILE`` installs a BlazePose landmark model the user already has.

The list comes from each file's metadata (:func:`~poseclf.classify.skops_archive.read_metadata`),
checked as a load checks it up to the arrays, without loading scikit-learn: the command answers
in a fraction of a second instead of the ~3 s that loading the models takes.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import PoseclfError
from ..shipped import shipped_models
from ._common import EXIT_FAILURE, EXIT_OK


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models", help="list the models that ship with poseclf",
        description="Shipped models can be used by name: `poseclf predict --model yoga ...`. "
        "A shipped model whose file is damaged or refused is reported on one line (exit status "
        "1) and the others are still listed. BlazePose Lite and Heavy are not bundled with "
        "mediapipe: --install-blazepose copies MediaPipe's file into the poseclf user folder "
        "($POSECLF_HOME/blazepose, default ~/.local/share/poseclf/blazepose).")
    parser.add_argument("--install-blazepose", metavar="FILE",
                        help="install pose_landmark_lite.tflite or pose_landmark_heavy.tflite "
                        "(checked by its sha256; never replaces a different file)")
    parser.set_defaults(func=run)


def install(file: str) -> int:
    """Check ``file`` by its sha256 and copy it into the poseclf user folder."""
    from ..pose.blazepose import install_landmark_model

    path, copied = install_landmark_model(file)
    print(f"{'installed' if copied else 'already installed:'} {path}")
    return EXIT_OK


def blazepose_lines() -> list[str]:
    """One line per BlazePose model: where its file is, or that it is missing."""
    from ..pose.blazepose import MODEL_NAMES, find_landmark_model

    lines = []
    for complexity, name in MODEL_NAMES.items():
        try:
            where = str(find_landmark_model(complexity))
        except PoseclfError:
            where = "not installed (poseclf models --install-blazepose FILE)"
        lines.append(f"blazepose {name:<5} --complexity {complexity}  {where}")
    return lines


def run(args: argparse.Namespace) -> int:
    from ..classify.skops_archive import read_metadata

    if args.install_blazepose is not None:
        return install(args.install_blazepose)

    failed = 0
    width = max([10, *(len(m.name) for m in shipped_models())])  # the names' column
    for shipped in shipped_models():
        try:
            meta = read_metadata(shipped.path)
        except PoseclfError as err:  # one broken installed file does not hide the others
            failed += 1
            print(f"poseclf models: error: {' '.join(str(err).split())} (reinstall poseclf "
                  "to restore the shipped models)", file=sys.stderr)
            continue
        scores = meta.get("cv_scores") or {}
        accuracy = f"{scores['accuracy']:.3f}" if scores else "-"
        print(f"{shipped.name:<{width}} {meta['classifier']:<6} "
              f"cv-accuracy={accuracy}  classes: {', '.join(map(str, meta['class_counts']))}")
        if shipped.card:
            print(f"{'':<{width}} card: {shipped.card}")
    print("\n".join(blazepose_lines()))
    if not shipped_models():
        print("no shipped models found (reinstall poseclf to restore them)", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_FAILURE if failed else EXIT_OK
