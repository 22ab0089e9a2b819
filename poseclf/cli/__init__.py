"""The ``poseclf`` command: parses arguments and hands each sub-command to the library.

Each sub-command lives in its own module of this package with a ``register(subparsers)``
function; adding a command means adding its module to :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import warnings
from collections.abc import Callable, Sequence

from .._version import __version__
from ..errors import PoseclfError, PoseclfWarning, Terminated
from ._common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    OneLineParser,
)

#: Sub-command modules, in the order ``poseclf --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = ("demo", "detect", "dataset", "review", "train", "export",
                                     "models", "video")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = OneLineParser(
        prog="poseclf",
        description="Classify human poses from BlazePose keypoints.",
        epilog="Exit status: 0 done; 1 the run failed or some inputs could not be used; "
        "2 a bad option or input file (nothing was changed); 130 Ctrl-C, 143 killed "
        "(SIGTERM): the work done so far is saved.",
    )
    parser.add_argument("--version", action="version", version=f"poseclf {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show debug messages (and the traceback of an unexpected error)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def _raise_terminated(signum, frame) -> None:
    raise Terminated(signum)


def _terminate_like_ctrl_c() -> dict:
    """SIGTERM and SIGHUP stop a command like Ctrl-C: its clean-ups run, its work is saved.

    Returns the previous handlers, to put back when the command is done.
    """
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signum = getattr(signal, name)
            previous[signum] = signal.signal(signum, _raise_terminated)
    return previous


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``poseclf`` console script; returns the exit status.

    Expected failures print one line on stderr (``poseclf: error: ...``) that names the file or
    option and the fix; see the parser's epilog for the exit statuses.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="poseclf: %(levelname)s: %(message)s",
    )
    handlers = _terminate_like_ctrl_c()
    show = warnings.showwarning
    warnings.showwarning = _one_line_warnings(args.command, show)
    try:
        return args.func(args)
    except PoseclfError as err:  # our own expected failures: one line, no traceback
        print(f"poseclf {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return err.exit_status
    except Terminated:
        print(f"poseclf {args.command}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"poseclf {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print(f"poseclf {args.command}: error: out of memory; give smaller inputs",
              file=sys.stderr)
        return EXIT_FAILURE
    except OSError as err:  # a disk full, a file vanished during the run, ...
        name = f"{err.filename}: " if err.filename else ""
        print(f"poseclf {args.command}: error: {name}{err.strerror or err}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as err:  # a bug: still one line, the traceback on request
        if args.verbose:
            raise
        print(f"poseclf {args.command}: internal error: {type(err).__name__}: "
              f"{_one_line(err)} (please report it; -v shows the traceback)", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        warnings.showwarning = show
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def console() -> int:
    """The ``poseclf`` console script and ``python -m poseclf``: :func:`main`, then the end of
    the worker processes it left idle (:func:`poseclf.tables.local_pool.release_workers`; only
    when a command used them, so ``--help`` imports nothing more)."""
    try:
        return main()
    finally:
        pool = sys.modules.get("poseclf.tables.local_pool")
        if pool is not None:
            pool.release_workers()


def _one_line_warnings(command: str, show: Callable) -> Callable:
    """``warnings.showwarning`` that prints poseclf's own warnings as one line."""
    def one_line(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, PoseclfWarning):
            print(f"poseclf {command}: warning: {_one_line(message)}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)
    return one_line


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


__all__ = ["EXIT_USAGE", "build_parser", "main"]
