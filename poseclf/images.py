"""Read any image file as an RGB uint8 array: the one reader every job uses.

Honours EXIF orientation (phone photos), converts gray, gray+alpha, RGBA, palette and 16-bit
images to 8-bit RGB, and accepts non-ASCII file names. Every failure raises
:class:`~poseclf.errors.ImageReadError` naming the file.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .errors import ImageReadError

#: File extensions treated as images when scanning folders (compared lower-case).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pbm", ".pgm", ".ppm"}
)


def is_image_path(path: str | os.PathLike) -> bool:
    """True for a file name with a known image extension (case-insensitive), not hidden."""
    p = Path(path)
    return not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read ``path`` as an RGB ``uint8`` array of shape (height, width, 3).

    Raises
    ------
    ImageReadError
        The file is missing, empty, truncated or not an image; the message names the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()  # bytes + imdecode: works with non-ASCII names on every OS
    except FileNotFoundError as err:
        raise ImageReadError(f"{path}: no such file") from err
    except IsADirectoryError as err:
        raise ImageReadError(f"{path}: is a folder, not an image file") from err
    except OSError as err:
        raise ImageReadError(f"{path}: cannot read the file ({err.strerror or err})") from err
    return decode_image(data, source=str(path))


def decode_image(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes (JPEG, PNG, ...) to RGB uint8, honouring EXIF orientation."""
    if not data:
        raise ImageReadError(f"{source}: the file is empty (0 bytes); replace it or delete it")
    buffer = np.frombuffer(data, dtype=np.uint8)
    # IMREAD_UNCHANGED keeps 16-bit depth and alpha but ignores EXIF, so decode the pixels
    # unchanged and apply the EXIF rotation ourselves.
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ImageReadError(
            f"{source}: not a readable image (unknown format, corrupt or truncated data); "
            "open it in an image viewer, re-export it as JPEG or PNG, or remove it"
        )
    if _is_truncated(data):
        raise ImageReadError(
            f"{source}: the image data is truncated (the file ends before the image does); "
            "copy or download it again"
        )
    image = _to_rgb_uint8(image, source)
    return _apply_exif_orientation(image, data)


def _is_truncated(data: bytes) -> bool:
    """Detect JPEG/PNG files cut short: OpenCV decodes those silently with grey bands."""
    if data[:3] == b"\xff\xd8\xff":  # JPEG: must end with the EOI marker (trailing padding allowed)
        return b"\xff\xd9" not in data[-1024:]
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return b"IEND" not in data[-64:]
    return False


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


# EXIF orientation tag value -> operations that make the image upright
_EXIF_ORIENTATION_TAG = 0x0112


def _apply_exif_orientation(image: np.ndarray, data: bytes) -> np.ndarray:
    orientation = _exif_orientation(data)
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


def _exif_orientation(data: bytes) -> int | None:
    """The EXIF Orientation value (1-8) of an image, or None when it has none."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            value = im.getexif().get(_EXIF_ORIENTATION_TAG)
    except (OSError, ValueError, SyntaxError):  # Pillow cannot parse it: OpenCV already could
        return None
    return int(value) if value else None
