"""The files a command reads and writes: checks made before the work, and atomic replacement.

Two rules keep a user's files safe:

- check every output before the work starts: a known extension, a folder that can be written,
  and never one of the command's own inputs (:func:`check_output_file`, :func:`check_output_dir`);
- replace a file only with a complete one: write a uniquely named temporary file beside it and
  rename it over the target (:func:`replace_atomically`), so a crash, a kill or two processes
  saving the same path never leave half a file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .errors import InputError

PathLike = str | os.PathLike


def _named(path: PathLike, option: str | None) -> str:
    return f"{option} {path}" if option else str(path)


def check_input_file(path: PathLike, *, option: str | None = None,
                     what: str = "file") -> Path:
    """``path`` as a Path when it is an existing regular file (not a folder, FIFO or device)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{_named(path, option)}: no such {what}; check the path") from None
    except OSError as err:
        raise InputError(f"{_named(path, option)}: cannot open it ({err.strerror}); "
                         "check the path and its permissions") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{_named(path, option)}: is a folder; give a {what}")
    if not stat.S_ISREG(mode):
        raise InputError(f"{_named(path, option)}: not a regular file (a pipe, socket or "
                         f"device); give a {what} saved on disk")
    if not os.access(path, os.R_OK):
        raise InputError(f"{_named(path, option)}: permission denied; make it readable "
                         "(chmod u+r)")
    return path


def check_input_dir(path: PathLike, *, option: str | None = None,
                    what: str = "folder") -> Path:
    """``path`` as a Path when it is an existing, readable folder."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{_named(path, option)}: no such {what}; check the path")
    if not path.is_dir():
        raise InputError(f"{_named(path, option)}: is a file; give a {what}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise InputError(f"{_named(path, option)}: permission denied; make the folder "
                         "readable (chmod u+rx)")
    return path


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file (links and relative paths resolved)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare the resolved names
        return Path(a).resolve() == Path(b).resolve()


def _writable_folder(folder: Path, shown: str) -> None:
    """Raise unless ``folder`` exists and can be written, or can be created."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{shown}: {probe} is a file, not a folder; choose another path")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{shown}: the folder {probe} is not writable; choose another path "
                         "or change its permissions")


def check_output_file(path: PathLike, *, option: str | None = None,
                      suffixes: Iterable[str] | None = None,
                      inputs: Iterable[PathLike] = ()) -> Path:
    """Check an output file before the work starts; returns it as a Path.

    Refuses an unknown extension (``suffixes``, lower-case with the dot), a path that is a
    folder, a folder that cannot be written or created, and any of the command's ``inputs``.
    """
    path = Path(path)
    shown = _named(path, option)
    if path.is_dir():
        raise InputError(f"{shown}: is a folder; give a file name")
    if suffixes is not None:
        suffixes = tuple(suffixes)
        if path.suffix.lower() not in suffixes:
            raise InputError(f"{shown}: unknown file type {path.suffix or '(no extension)'!r}; "
                             f"use {' or '.join(suffixes)}")
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        raise InputError(f"{shown}: not a regular file (a pipe or device); give a file name")
    _writable_folder(path.parent, shown)
    for source in inputs:
        if source is not None and same_file(path, source):
            raise InputError(f"{shown}: is also an input of this command ({source}); "
                             "write to another file")
    return path


def check_output_dir(path: PathLike, *, option: str | None = None,
                     inputs: Iterable[PathLike] = ()) -> Path:
    """Check an output folder (created on demand) before the work starts."""
    path = Path(path)
    shown = _named(path, option)
    if path.exists() and not path.is_dir():
        raise InputError(f"{shown}: is a file; give a folder name")
    _writable_folder(path, shown)
    for source in inputs:
        if source is not None and same_file(path, source):
            raise InputError(f"{shown}: is also an input of this command; use another folder")
    return path


def _stale_temporaries(path: Path) -> Iterator[Path]:
    """Temporary files of :func:`replace_atomically` for ``path`` left by dead processes."""
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            yield tmp


def glob_escape(name: str) -> str:
    """``name`` with the glob metacharacters ``*?[`` escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


PROC_STATUS = Path("/proc/self/status")  # Linux >= 4.7 lists the process umask ("Umask:")


def current_umask() -> int:
    """The process umask, read without changing it (Linux: ``Umask:`` in /proc/self/status).

    Where /proc is missing it is set and put back, which a thread creating files at that moment
    could see.
    """
    try:
        with PROC_STATUS.open(encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_atomically(path: PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a new temporary file beside ``path``, then rename it to ``path``.

    The temporary name holds the process id and a random part, so two processes saving the
    same path never share one; temporaries left by killed processes are removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in _stale_temporaries(path):
        with contextlib.suppress(OSError):
            stale.unlink()
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; give a normal file
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path
