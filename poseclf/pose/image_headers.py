"""The header of an encoded image: its size, EXIF orientation and completeness, read without
decoding a pixel.

JPEG and PNG are parsed here (marker segments, chunks), the other formats through Pillow's lazy
open; :func:`poseclf.pose.images.decode_image` checks the header before it decodes.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

from PIL import Image

from ..errors import ImageReadError


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
