"""Exit codes and argument helpers shared by the sub-commands."""

from __future__ import annotations

import argparse

EXIT_OK = 0
EXIT_FAILURE = 1  # an expected failure: bad input file, refused model, ...
EXIT_USAGE = 2  # argparse's own code for bad arguments
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def add_extractor_options(parser: argparse.ArgumentParser) -> None:
    """The BlazePose options every extracting command shares (MediaPipe's names)."""
    group = parser.add_argument_group("BlazePose")
    group.add_argument("--complexity", type=int, choices=(0, 1, 2), default=1,
                       help="model_complexity: 0 lite, 1 full (bundled), 2 heavy (default: 1)")
    group.add_argument("--min-detection-confidence", type=float, default=0.5, metavar="P",
                       help="minimum person-detector score (default: 0.5)")
    group.add_argument("--backend", choices=("solutions", "tasks"), default="solutions",
                       help="'solutions' (bundled Full model) or 'tasks' (needs --task-file)")
    group.add_argument("--task-file", metavar="FILE",
                       help="pose_landmarker .task file for --backend tasks")


def extractor_kwargs(args: argparse.Namespace) -> dict:
    """Keyword arguments of :class:`~poseclf.extraction.PoseExtractor` from parsed options."""
    return {
        "model_complexity": args.complexity,
        "min_detection_confidence": args.min_detection_confidence,
        "backend": args.backend,
        "task_path": args.task_file,
    }
