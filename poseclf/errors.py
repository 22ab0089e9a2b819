"""The errors poseclf raises on purpose. Each message names the file or option and the fix.

Every error carries the exit status the command line returns for it: ``2`` for an input error
(a bad option, a file that is not what it should be), ``1`` for a run that could not finish.
"""

from __future__ import annotations

EXIT_INPUT = 2  # argparse's own code for bad arguments: every input error uses it
EXIT_RUN = 1  # the input was fine, the run could not finish


class PoseclfError(Exception):
    """Base of every expected poseclf failure (the CLI prints these in one line)."""

    exit_status = EXIT_INPUT


class InputError(PoseclfError, ValueError):
    """An option or input file is not usable; nothing was started or changed."""


class RunError(PoseclfError, RuntimeError):
    """The run started and could not finish (what was done is kept)."""

    exit_status = EXIT_RUN


class ImageReadError(PoseclfError, ValueError):
    """A file could not be read as an image (missing, empty, truncated, not an image)."""


class ModelNotAvailableError(PoseclfError, RuntimeError):
    """A BlazePose model is not bundled and cannot be downloaded (offline)."""


class ModelFileError(PoseclfError, ValueError):
    """A saved poseclf model file is refused (untrusted content, wrong version or schema)."""


class TableError(PoseclfError, ValueError):
    """A landmark table is missing columns or cannot be read."""


class SegmentsError(PoseclfError, ValueError):
    """Labelled video segments are unreadable or inconsistent (the message names the file)."""


class PoseclfWarning(UserWarning):
    """Base of poseclf's own warnings (the CLI prints these in one line)."""


class BlazePoseMismatchWarning(PoseclfWarning):
    """A model meets landmarks of another BlazePose model than the one it was trained on."""


class MissingWorldLandmarksWarning(PoseclfWarning):
    """A model that classifies 3D features was given poses without world landmarks."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so that every clean-up for Ctrl-C runs too."""

    def __init__(self, signum: int = 15):
        super().__init__(signum)
        self.signum = signum
