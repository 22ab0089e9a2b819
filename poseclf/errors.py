"""The errors poseclf raises on purpose. Each message names the file and the fix."""

from __future__ import annotations


class PoseclfError(Exception):
    """Base of every expected poseclf failure (the CLI prints these in one line)."""


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
