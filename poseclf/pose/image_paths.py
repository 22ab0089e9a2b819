"""Image files by path: the images a command line names (files, folders searched recursively)
and one distinct output name per image.

Nothing here reads an image; :func:`poseclf.pose.images.read_image` does.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import InputError

#: File extensions treated as images when scanning folders (compared lower-case).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pbm", ".pgm", ".ppm"}
)


def is_image_path(path: str | os.PathLike) -> bool:
    """True for a file name with a known image extension (case-insensitive), not hidden."""
    p = Path(path)
    return not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS


def check_image_arguments(
    paths: Iterable[str | os.PathLike], *, skip: Iterable[str | os.PathLike] = (),
) -> tuple[list[Path], list[InputError]]:
    """The image files named by a command line, and one error per argument that is unusable.

    A file argument must be an existing, readable regular file (its content is checked when it
    is read); a folder argument must be readable and hold image files (searched recursively,
    sorted; files inside the folders ``skip``, a command's own output folders, are left out).
    Nothing is read here, so a pipe or device is refused before it can block or flood.
    """
    from ..files import check_input_dir, check_input_file

    images: list[Path] = []
    problems: list[InputError] = []
    skipped = {os.path.realpath(s) for s in skip if s is not None}
    for raw in paths:
        path = Path(raw)
        try:
            if path.is_dir():
                check_input_dir(path)
                found = _images_in(path, skipped)
                if not found:
                    raise InputError(f"{path}: no image files in this folder or its "
                                     f"subfolders ({', '.join(sorted(IMAGE_EXTENSIONS))}); "
                                     "check the path")
                images.extend(found)
            else:
                images.append(check_input_file(path, what="file or folder"))
        except InputError as err:
            problems.append(err)
    return _once(images), problems


def collect_images(paths: Iterable[str | os.PathLike], *,
                   skip: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Files as given, and the image files inside folders (recursively, sorted), each once.

    Files inside the folders ``skip`` (a command's own output folders) are left out.
    """
    skipped = {os.path.realpath(s) for s in skip if s is not None}
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(_images_in(path, skipped, strict=False))
        else:
            found.append(path)
    return _once(found)


def _once(paths: list[Path]) -> list[Path]:
    """``paths`` without repeats (a file given and also found in a given folder), in order."""
    seen: set[str] = set()
    kept = []
    for path in paths:
        key = os.path.normcase(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            kept.append(path)
    return kept


def _images_in(folder: Path, skipped: set[str], *, strict: bool = True) -> list[Path]:
    """The regular image files under ``folder``, sorted; an unlistable subfolder raises."""
    def refuse(err: OSError) -> None:
        if strict:
            raise InputError(f"{err.filename}: cannot list this folder ({err.strerror}); make "
                             "it readable (chmod u+rx) or move it out") from None

    found = []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=refuse):
        dirnames[:] = [d for d in dirnames
                       if os.path.realpath(os.path.join(dirpath, d)) not in skipped]
        for name in filenames:
            path = Path(dirpath, name)
            if is_image_path(path) and path.is_file():  # not a FIFO, device or broken link
                found.append(path)
    return sorted(found)


def output_paths(images: Sequence[str | os.PathLike], folder: str | os.PathLike, ending: str,
                 *, option: str | None = None) -> list[Path]:
    """One distinct output file in ``folder`` per image: ``<stem><ending>``, made unique.

    Images that share a stem are told apart by the folders above them, in subfolders of
    ``folder`` (``sitting/File12_pred.png``, ``standing/File12_pred.png``); ``x.jpg`` and
    ``x.png`` of one folder become ``x_jpg<ending>`` and ``x_png<ending>``; the same image given
    twice has one name. Raises :class:`InputError` when an output would replace one of the
    ``images`` (e.g. drawings written into the photo folder of an earlier run).
    """
    folder = Path(folder)
    outputs = [folder / name for name in unique_names(images, ending)]
    inputs = {_file_id(p) for p in images} - {None}
    shown = f"{option} {folder}" if option else str(folder)
    for image, output in zip(images, outputs, strict=True):
        if _file_id(output) in inputs:
            raise InputError(f"{shown}: the output for {image} would replace the input "
                             f"{output}; choose another folder")
    return outputs


def _file_id(path: str | os.PathLike) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def unique_names(images: Sequence[str | os.PathLike], ending: str) -> list[Path]:
    """Relative output names ``<stem><ending>``, distinct (case-insensitively) per image file.

    See :func:`output_paths`; the names depend only on the set of absolute paths, so they are
    the same from one run to the next.
    """
    absolute = [Path(os.path.abspath(p)) for p in images]
    files = sorted(set(absolute))
    per_stem = Counter((f.parent, f.stem.casefold()) for f in files)
    with_suffix = {f: per_stem[f.parent, f.stem.casefold()] > 1 for f in files}
    depth = dict.fromkeys(files, 0)

    def name(f: Path) -> Path:
        stem = f"{f.stem}_{f.suffix[1:]}" if with_suffix[f] and f.suffix else f.stem
        parents = f.parent.parts[len(f.parent.parts) - depth[f]:] if depth[f] else ()
        return Path(*parents, f"{stem}{ending}")

    while True:
        names = {f: name(f) for f in files}
        groups: dict[str, list[Path]] = {}
        for f, n in names.items():
            groups.setdefault(str(n).casefold(), []).append(f)
        clashes = [group for group in groups.values() if len(group) > 1]
        if not clashes:
            break
        grown = False
        for group in clashes:
            for f in group:
                if depth[f] < len(f.parent.parts) - 1:  # parts[0] is the root
                    depth[f] += 1
                    grown = True
        if not grown:  # names that differ only in case, all the way up: number them
            for group in clashes:
                for i, f in enumerate(group[1:], 2):
                    names[f] = names[f].with_name(f"{names[f].name[:-len(ending)]}_{i}{ending}")
            break
    return [names[a] for a in absolute]
