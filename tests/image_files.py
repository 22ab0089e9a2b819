"""Builders of awkward image files for the bad-input tests: huge, empty, truncated, appended."""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def blank_png(width: int, height: int) -> bytes:
    """A valid 1-bit black PNG of any size, made in milliseconds and a few MB of memory.

    Every row is the same (filter byte and zero bits), so the zlib stream is one compressed
    block of rows repeated: a full flush makes each block byte-aligned and independent, and the
    Adler-32 of N zero bytes is ``(N % 65521) << 16 | 1``. A 33000x33000 image is 70 kB.
    """
    row = bytes((width + 7) // 8 + 1)
    per_block = max(1, min(height, (1 << 20) // len(row)))
    blocks, rest = divmod(height, per_block)
    comp = zlib.compressobj(9)
    first = comp.compress(row * per_block) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(row * per_block) + comp.flush(zlib.Z_FULL_FLUSH)
    stream = first + again * (blocks - 1) + comp.compress(row * rest) + comp.flush()
    adler = ((len(row) * height) % 65521) << 16 | 1
    stream = stream[:-4] + struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit gray
    return (PNG_SIGNATURE + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", stream)
            + png_chunk(b"IEND", b""))


def bmp_header(width: int, height: int) -> bytes:
    """The 54-byte header of a 24-bit BMP of that size, without its pixels."""
    row = (width * 3 + 3) // 4 * 4
    return (b"BM" + struct.pack("<IHHI", 54 + row * height, 0, 0, 54)
            + struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, row * height,
                          2835, 2835, 0, 0))
