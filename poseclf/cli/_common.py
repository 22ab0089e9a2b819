"""Exit codes, option types and argument helpers shared by the sub-commands.

Option values are checked where they are parsed: a bad value stops the command with one line
that names the option and the accepted range, before any work starts.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import EXIT_INPUT, EXIT_RUN, InputError

if TYPE_CHECKING:
    import pandas as pd

    from ..pose.extraction import ExtractOptions

EXIT_OK = 0
EXIT_FAILURE = EXIT_RUN  # the run could not finish, or some inputs failed (unreadable images)
EXIT_USAGE = EXIT_INPUT  # a bad option or input file; argparse's own code
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: the command, the option, the fix."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _number(kind: Callable, text: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def int_at_least(low: int) -> Callable[[str], int]:
    """Option type: an integer >= ``low``."""
    def parse(text: str) -> int:
        value = _number(int, text)
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is too small: give {low} or more")
        return value
    parse.__name__ = f"integer >= {low}"
    return parse


def float_in(low: float, high: float, *, low_open: bool = False,
             high_open: bool = False) -> Callable[[str], float]:
    """Option type: a number in ``[low, high]`` (``low_open``/``high_open`` exclude the ends)."""
    def parse(text: str) -> float:
        value = _number(float, text)
        if value < low or (low_open and value == low) or value > high or (
                high_open and value == high):
            raise argparse.ArgumentTypeError(f"{value:g} is out of range: give a number in "
                                             f"{'(' if low_open else '['}{low:g}, {high:g}"
                                             f"{')' if high_open else ']'}")
        return value
    parse.__name__ = "number"
    return parse


def float_at_least(low: float) -> Callable[[str], float]:
    """Option type: a finite number >= ``low``."""
    return float_in(low, math.inf, high_open=True)


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
probability = float_in(0.0, 1.0)


def folds_or_zero(held_out: str, zero_means: str) -> Callable[[str], int]:
    """Option type of a fold count: 0 (``zero_means``) or 2 and more folds."""
    def parse(text: str) -> int:
        value = non_negative_int(text)
        if value == 1:
            raise argparse.ArgumentTypeError(f"1 fold cannot hold {held_out} out: give 2 or "
                                             f"more, or 0 {zero_means}")
        return value
    parse.__name__ = "fold count"
    return parse


#: Option type of ``--folds`` of the commands that score every row out of fold.
row_folds = folds_or_zero("a row", "for leave-one-out")


def check_images_found(df: pd.DataFrame, images: str) -> None:
    """Refuse an --images folder that holds none of the table's files."""
    from ..pictures.sheets import count_found_images

    found, total = count_found_images(df, images)
    if total and not found:
        raise InputError(f"--images {images}: none of the table's image paths is there (0 of "
                         f"the first {total}, e.g. {df['path'].iloc[0]}); give the folder the "
                         "table was extracted from")


def add_extractor_options(parser: argparse.ArgumentParser) -> None:
    """The BlazePose options every extracting command shares (MediaPipe's names)."""
    group = parser.add_argument_group("BlazePose")
    group.add_argument("--complexity", type=int, choices=(0, 1, 2), default=1,
                       help="model_complexity: 0 lite, 1 full (bundled), 2 heavy; lite and "
                       "heavy need their file (`poseclf models --install-blazepose FILE` or "
                       "--landmark-model) (default: 1)")
    group.add_argument("--min-detection-confidence", type=probability, default=0.5,
                       metavar="P", help="minimum person-detector score, 0 to 1 (default: 0.5)")
    group.add_argument("--backend", choices=("solutions", "tasks"), default="solutions",
                       help="'solutions' (mediapipe's legacy graph) or 'tasks' (the Tasks API; "
                       "a .task is built for --complexity unless --task-file gives one)")
    group.add_argument("--task-file", metavar="FILE",
                       help="pose_landmarker .task file for --backend tasks")
    group.add_argument("--landmark-model", metavar="FILE",
                       help="the pose_landmark_<lite|full|heavy>.tflite of --complexity, "
                       "checked by its sha256 (default: mediapipe's folder, then the poseclf "
                       "user folder)")


def extract_options(args: argparse.Namespace) -> ExtractOptions:
    """The parsed BlazePose options, checked: the chosen model must load here, before any work."""
    from ..pose.extraction import ExtractOptions

    return ExtractOptions(args.complexity, args.min_detection_confidence, args.backend,
                          None if args.task_file is None else str(args.task_file),
                          args.landmark_model).check()
