"""Which reader a source file needs: GoReplay, mitmproxy flow file, or HAR (by content)."""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Literal

from harness.errors import CaptureError

Format = Literal["gor", "mitm", "har"]
FORMATS: tuple[str, ...] = ("gor", "mitm", "har")

_GOR_HEADER = re.compile(rb"[123] [0-9a-fA-F]+ \d{9,}( -?\d+)?\r?\n")
_TNETSTRING = re.compile(rb"\d{1,12}:")


def detect_format(path: Path) -> Format:
    """Sniff the first bytes of ``path``; :class:`CaptureError` when empty or unknown."""
    try:
        with path.open("rb") as fo:
            head = fo.read(4096)
    except OSError as exc:
        raise CaptureError(f"{path}: cannot open ({exc.strerror})") from exc
    if not head:
        raise CaptureError(f"{path}: empty file")
    if head.startswith(b"\x1f\x8b"):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head)
        except zlib.error as exc:
            raise CaptureError(f"{path}: broken gzip data ({exc})") from exc
        if not head:
            raise CaptureError(f"{path}: gzip data too short to recognise")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if _GOR_HEADER.match(text):
        return "gor"
    if text.startswith(b"{"):
        return "har"
    if _TNETSTRING.match(head):
        return "mitm"
    name = path.name.lower()
    if ".gor" in name:
        return "gor"  # e.g. a garbage header line: the GoReplay reader reports the records
    raise CaptureError(f"{path}: unknown capture format (not GoReplay, mitmproxy or HAR)")
