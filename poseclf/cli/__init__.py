"""The ``poseclf`` command: parses arguments and hands each sub-command to the library.

Each sub-command lives in its own module of this package with a ``register(subparsers)``
function; adding a command means adding its module to :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import PoseclfError
from ._common import EXIT_FAILURE, EXIT_INTERRUPTED

#: Sub-command modules, in the order ``poseclf --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = ("demo", "detect", "dataset", "train", "models", "video")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="poseclf",
        description="Classify human poses from BlazePose keypoints.",
    )
    parser.add_argument("--version", action="version", version=f"poseclf {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``poseclf`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="poseclf: %(levelname)s: %(message)s",
    )
    try:
        return args.func(args)
    except PoseclfError as err:  # our own expected failures: one line, no traceback
        print(f"poseclf: error: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("poseclf: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
