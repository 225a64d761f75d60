"""A tiny PNG decoder (8-bit RGB/RGBA, non-interlaced) for checking screenshots without Pillow."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def decode_png(data: bytes) -> np.ndarray:
    """Pixels as an ``(height, width, channels)`` uint8 array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color in (2, 6), header
    bpp = 3 if color == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * bpp)
    out = np.zeros((height, width * bpp), dtype=np.uint8)
    prev = np.zeros(width * bpp, dtype=np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + prev) % 256
        elif kind == 1:
            row = (np.cumsum(line.reshape(width, bpp), axis=0) % 256).reshape(-1)
        else:
            row = _slow_row(kind, line.tolist(), prev.tolist(), bpp)
        out[y] = row
        prev = np.asarray(row, dtype=np.int32)
    return out.reshape(height, width, bpp)


def _slow_row(kind: int, line: list[int], prev: list[int], bpp: int) -> np.ndarray:
    row = [0] * len(line)
    for i, value in enumerate(line):
        left = row[i - bpp] if i >= bpp else 0
        up = prev[i]
        if kind == 3:
            row[i] = (value + (left + up) // 2) % 256
        else:  # Paeth
            corner = prev[i - bpp] if i >= bpp else 0
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
            row[i] = (value + pred) % 256
    return np.array(row, dtype=np.int32)
