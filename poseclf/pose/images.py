"""Read any image file as an RGB uint8 array: the one reader every job uses.

Honours EXIF orientation (phone photos), converts gray, gray+alpha, RGBA, palette and 16-bit
images to 8-bit RGB, and accepts non-ASCII file names. Every failure raises
:class:`~poseclf.errors.ImageReadError` naming the file and saying what to do.

The header is read before any pixel is decoded (:mod:`poseclf.pose.image_headers`): a file that
is not a regular file (a pipe, a device), a file larger than :data:`MAX_FILE_BYTES`, an image of
more than :data:`MAX_PIXELS` pixels and a truncated JPEG or PNG are refused without decoding it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import numpy as np

from ..errors import ImageReadError
from .image_headers import read_header

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
