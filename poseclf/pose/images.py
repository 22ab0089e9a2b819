"""Read any image file as an RGB uint8 array: the one reader every job uses.

Honours EXIF orientation (phone photos), converts gray, gray+alpha, RGBA, palette and 16-bit
images to 8-bit RGB, and accepts non-ASCII file names. Every failure raises
:class:`~poseclf.errors.ImageReadError` naming the file and saying what to do.

The header is read before any pixel is decoded: a file that is not a regular file (a pipe, a
device), a file larger than :data:`MAX_FILE_BYTES`, an image of more than :data:`MAX_PIXELS`
pixels and a truncated JPEG or PNG are refused without decoding it.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..errors import ImageReadError, InputError

#: File extensions treated as images when scanning folders (compared lower-case).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pbm", ".pgm", ".ppm"}
)

#: Largest image :func:`read_image` decodes, in pixels (width x height): 120 megapixels.
#: It admits every photo a phone or camera takes, 108-MP phone sensors at full resolution
#: included, and refuses gigapixel panoramas, 200-MP "high resolution" phone modes and
#: decompression bombs before they are decoded. BlazePose looks at a 256x256 copy, so pixels
#: beyond a few megapixels add nothing but memory: a 120-MP image is 360 MB as RGB and
#: :func:`read_image` holds two such copies at its peak, three when EXIF rotates it (a 108-MP
#: JPEG: 0.63 GB more, 3 s). Pillow refuses above 179 MP (and warns above 89 MP), OpenCV
#: above 1074 MP: those limits are never reached.
MAX_PIXELS = 120_000_000

#: Largest file :func:`read_image` reads, in bytes (1 GiB): more than a 120-MP image takes
#: uncompressed with 16-bit RGBA pixels (960 MB); a bigger file is not a photo.
MAX_FILE_BYTES = 1 << 30


def is_image_path(path: str | os.PathLike) -> bool:
    """True for a file name with a known image extension (case-insensitive), not hidden."""
    p = Path(path)
    return not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read ``path`` as an RGB ``uint8`` array of shape (height, width, 3).

    Raises
    ------
    ImageReadError
        The file is missing, unreadable, not a regular file (pipe, device, folder), empty,
        truncated, too large (:data:`MAX_PIXELS`, :data:`MAX_FILE_BYTES`) or not an image;
        the message names the file and the fix.
    """
    path = Path(path)
    return decode_image(read_file_bytes(path), source=str(path))


def read_file_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of a regular file; anything else (a pipe, device, folder) is refused unread.

    The file is opened without blocking (a FIFO would otherwise wait for a writer) and checked
    on the open descriptor, so it cannot be swapped between the check and the read.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file; check the path") from None
    except OSError as err:
        raise _open_error(path, err) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ImageReadError(f"{path}: is a folder, not an image file; give an image file")
        if not stat.S_ISREG(info.st_mode):
            raise ImageReadError(f"{path}: not a regular file (a pipe, socket or device); "
                                 "give an image file saved on disk")
        if info.st_size > MAX_FILE_BYTES:
            raise ImageReadError(f"{path}: {info.st_size / 1e9:.1f} GB is too large for an "
                                 f"image file (at most {MAX_FILE_BYTES / 1e9:.1f} GB); give a "
                                 "photo, or downscale and re-save it")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as file:
        try:
            return file.read()
        except OSError as err:
            raise ImageReadError(f"{path}: cannot read the file ({err.strerror or err}); "
                                 "check the disk and copy the file again") from err


def _open_error(path: Path, err: OSError) -> ImageReadError:
    """The message for a file that cannot be opened, by what the path is."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if stat.S_ISDIR(mode):
        return ImageReadError(f"{path}: is a folder, not an image file; give an image file")
    if mode and not stat.S_ISREG(mode):  # a socket: open() fails with ENXIO
        return ImageReadError(f"{path}: not a regular file (a pipe, socket or device); "
                              "give an image file saved on disk")
    if isinstance(err, PermissionError):
        return ImageReadError(f"{path}: permission denied; make it readable (chmod u+r)")
    return ImageReadError(f"{path}: cannot open the file ({err.strerror or err}); check the "
                          "path and its permissions")


def decode_image(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes (JPEG, PNG, ...) to RGB uint8, honouring EXIF orientation.

    The header is checked first (size, truncation), so an oversized image is refused without
    decoding its pixels.
    """
    if not data:
        raise ImageReadError(f"{source}: the file is empty (0 bytes); replace it or delete it")
    header = read_header(data, source)
    if header.truncated:
        raise ImageReadError(
            f"{source}: the image data is truncated (the file ends before the image does); "
            "copy or download it again"
        )
    if header.size is not None:
        check_pixel_count(*header.size, source=source)
    buffer = np.frombuffer(data, dtype=np.uint8)
    # IMREAD_UNCHANGED keeps 16-bit depth and alpha but ignores EXIF, so decode the pixels
    # unchanged and apply the EXIF rotation ourselves.
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error as err:  # e.g. over OpenCV's own pixel limit, for a header we cannot read
        raise ImageReadError(
            f"{source}: OpenCV cannot decode it ({_cv2_reason(err)}); re-export it as a JPEG "
            f"or PNG of at most {MAX_PIXELS / 1e6:.0f} megapixels, or remove it") from None
    if image is None or image.size == 0:
        raise ImageReadError(
            f"{source}: not a readable image (unknown format, corrupt or truncated data); "
            "open it in an image viewer, re-export it as JPEG or PNG, or remove it"
        )
    image = _to_rgb_uint8(image, source)
    return _apply_exif_orientation(image, header.orientation)


def _cv2_reason(err: cv2.error) -> str:
    text = " ".join(str(err).split())
    return text.split(" error: ", 1)[-1][:200]


def check_pixel_count(width: int, height: int, *, source: str) -> None:
    """Raise :class:`ImageReadError` for an image with no pixels or more than MAX_PIXELS."""
    if width <= 0 or height <= 0:
        raise ImageReadError(f"{source}: the image has no pixels ({width}x{height}); "
                             "replace it or delete it")
    if width * height > MAX_PIXELS:
        raise ImageReadError(
            f"{source}: {width}x{height} pixels ({width * height / 1e6:.0f} megapixels) is more "
            f"than poseclf reads ({MAX_PIXELS / 1e6:.0f} megapixels at most); downscale it, "
            "e.g. to 4000 pixels on the long side (BlazePose sees 256x256 anyway)")


# -- the header: size, EXIF and completeness, without decoding the pixels ----------------------
@dataclass(frozen=True)
class ImageHeader:
    """What the header of an encoded image says (None where it could not be read)."""

    format: str | None = None  # "JPEG", "PNG", or Pillow's format name
    size: tuple[int, int] | None = None  # (width, height) as stored (before EXIF rotation)
    orientation: int | None = None  # EXIF orientation, 1-8
    truncated: bool = False  # the file ends before the image data does


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # frame headers (not DHT/JPG/DAC)
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RSTn, SOI: no length field
_EXIF_ORIENTATION_TAG = 0x0112


def read_header(data: bytes, source: str = "<bytes>") -> ImageHeader:
    """Size, EXIF orientation and completeness of an encoded image, without decoding pixels.

    JPEG and PNG are parsed here (marker segments, chunks); other formats through Pillow's lazy
    open. An unrecognised header gives an empty :class:`ImageHeader` (OpenCV may still read it).
    """
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg_header(data)
    if data[:8] == _PNG_SIGNATURE:
        return _png_header(data)
    return _pillow_header(data, source)


def _jpeg_header(data: bytes) -> ImageHeader:
    """Walk the JPEG marker segments to the first scan (SOS), then look for the end (EOI).

    Segments are length-prefixed, so the markers inside an EXIF thumbnail are skipped, and bytes
    after the EOI (the video of a phone's "motion photo") are allowed. In the entropy-coded data
    every 0xFF byte is stuffed, so the first FF D9 after the scan starts is the EOI.
    """
    n, pos = len(data), 2
    size = exif = None
    while True:
        if pos >= n:
            return ImageHeader("JPEG", size, _orientation(exif), truncated=True)
        if data[pos] != 0xFF:  # not a marker where one must be: corrupt, OpenCV decides
            return ImageHeader("JPEG", size, _orientation(exif))
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            return ImageHeader("JPEG", size, _orientation(exif), truncated=True)
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker == 0xD9:  # EOI before any scan: no image data, OpenCV reports it
            return ImageHeader("JPEG", size, _orientation(exif))
        if pos + 2 > n:
            return ImageHeader("JPEG", size, _orientation(exif), truncated=True)
        length = (data[pos] << 8) | data[pos + 1]
        end = pos + length
        if marker == 0xDA:  # start of scan: the image is complete when an EOI follows
            complete = data.find(b"\xff\xd9", end) >= 0
            return ImageHeader("JPEG", size, _orientation(exif), truncated=not complete)
        if length < 2:
            return ImageHeader("JPEG", size, _orientation(exif))
        if end > n:
            return ImageHeader("JPEG", size, _orientation(exif), truncated=True)
        if marker in _JPEG_SOF and length >= 7 and size is None:
            height, width = struct.unpack_from(">HH", data, pos + 3)
            size = (width, height) if height else None  # height 0: given later (DNL)
        elif marker == 0xE1 and exif is None and data[pos + 2:pos + 8] == b"Exif\0\0":
            exif = data[pos + 2:end]
        pos = end


def _png_header(data: bytes) -> ImageHeader:
    """Walk the PNG chunks to IEND (bytes after it are allowed); IHDR gives the size."""
    n, pos = len(data), 8
    size = exif = None
    if n >= 24 and data[12:16] == b"IHDR":
        size = struct.unpack_from(">II", data, 16)
    while True:
        if pos + 8 > n:
            return ImageHeader("PNG", size, _orientation(exif), truncated=True)
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > n:
            return ImageHeader("PNG", size, _orientation(exif), truncated=True)
        if kind == b"IEND":
            return ImageHeader("PNG", size, _orientation(exif))
        if kind == b"eXIf" and exif is None:
            exif = data[pos + 8:pos + 8 + length]
        pos = end


def _orientation(exif: bytes | None) -> int | None:
    """The Orientation tag of raw EXIF bytes, or None (absent or unparsable)."""
    if not exif:
        return None
    try:
        parsed = Image.Exif()
        parsed.load(exif)
        value = parsed.get(_EXIF_ORIENTATION_TAG)
        return int(value) if value else None
    except Exception:  # noqa: BLE001 - broken EXIF must not make a readable photo unreadable
        return None


def _pillow_header(data: bytes, source: str) -> ImageHeader:
    """Header of the other formats (WebP, TIFF, BMP...) through Pillow's lazy open."""
    try:
        with warnings.catch_warnings():  # MAX_PIXELS is our limit: no warning below it
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                size, fmt = im.size, im.format
                try:
                    value = int(im.getexif().get(_EXIF_ORIENTATION_TAG) or 0)
                except Exception:  # noqa: BLE001 - broken EXIF: read the pixels unrotated
                    value = 0
    except Image.DecompressionBombError as err:
        raise ImageReadError(
            f"{source}: the image is too large ({err}); downscale it, e.g. to 4000 pixels on "
            "the long side") from None
    except Exception:  # noqa: BLE001 - not a format Pillow knows: OpenCV may still read it
        return ImageHeader()
    return ImageHeader(fmt, size, value or None)


def _to_rgb_uint8(image: np.ndarray, source: str) -> np.ndarray:
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)  # keep the 8 most significant bits
    elif image.dtype in (np.float32, np.float64):
        image = np.clip(image * 255.0, 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ImageReadError(f"{source}: unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2RGB)
    if channels == 2:  # gray + alpha
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2RGB)
    if channels == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    raise ImageReadError(f"{source}: unsupported number of channels ({channels})")


def _apply_exif_orientation(image: np.ndarray, orientation: int | None) -> np.ndarray:
    """``image`` turned upright for an EXIF orientation value (1-8)."""
    if orientation in (None, 1):
        return image
    ops = {
        2: lambda im: cv2.flip(im, 1),
        3: lambda im: cv2.rotate(im, cv2.ROTATE_180),
        4: lambda im: cv2.flip(im, 0),
        5: lambda im: cv2.flip(cv2.rotate(im, cv2.ROTATE_90_CLOCKWISE), 1),
        6: lambda im: cv2.rotate(im, cv2.ROTATE_90_CLOCKWISE),
        7: lambda im: cv2.flip(cv2.rotate(im, cv2.ROTATE_90_COUNTERCLOCKWISE), 1),
        8: lambda im: cv2.rotate(im, cv2.ROTATE_90_COUNTERCLOCKWISE),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(image)) if op else image


# -- the images of a command line, and the names of what is written for each ------------------
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
