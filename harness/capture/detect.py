"""Which reader a source file needs: GoReplay, mitmproxy flow file, or HAR (by content)."""

from __future__ import annotations

import contextlib
import re
import zlib
from pathlib import Path
from typing import Literal

from harness.capture.inflate import GZIP_MAGIC, open_input
from harness.errors import CaptureError, printable

Format = Literal["gor", "mitm", "har"]
FORMATS: tuple[str, ...] = ("gor", "mitm", "har")

_GOR_HEADER = re.compile(rb"[123] [0-9a-fA-F]+ \d{9,}( -?\d+)?\r?\n")
_TNETSTRING = re.compile(rb"\d{1,12}:")


def detect_format(path: Path) -> Format:
    """Sniff the first bytes of ``path``; :class:`CaptureError` when empty or unknown."""
    name = printable(str(path))
    with open_input(path) as fo:
        head = fo.read(4096)
    if not head:
        raise CaptureError(f"{name}: byte 0: empty file")
    if head.startswith(GZIP_MAGIC):
        try:
            # at most 4 KiB out: a bomb is refused by the reader, not inflated here
            head = zlib.decompressobj(wbits=31).decompress(head, 4096)
        except zlib.error as exc:
            raise CaptureError(f"{name}: byte 0: broken gzip data ({exc})") from None
        if not head:
            raise CaptureError(f"{name}: byte 0: gzip data too short to recognise")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text: a HAR from a Windows tool
        with contextlib.suppress(UnicodeDecodeError):
            if head[: len(head) & ~1].decode("utf-16").lstrip("\ufeff \t\r\n").startswith("{"):
                return "har"
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
    raise CaptureError(
        f"{name}: byte 0: unknown capture format (not GoReplay, mitmproxy or HAR; "
        "--format names it)"
    )
