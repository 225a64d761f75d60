"""Reading capture input that may be gzip-compressed: bounded, and keeping what can be kept.

:func:`blocks` yields the bytes of a file in blocks of at most :data:`BLOCK` bytes, inflating
gzip (several concatenated members, as appended chunks make) on the way:

- **bounded**: each inflate call returns at most one block, so a bomb never sits in memory;
  the inflated total and the inflated / compressed ratio are checked against
  :class:`~harness.capture.limits.InputLimits` and a file past them is a
  :class:`~harness.errors.CaptureError` naming the compressed byte offset;
- **no silent loss**: what a member held before a corruption is yielded, the corruption is
  counted (``corrupt gzip data``, at its byte offset) and reading resumes at the next gzip
  member header found after it; the marker :data:`BREAK` tells the reader that the data before
  and after are not contiguous (the record cut in two is counted by the reader). A last member
  that breaks off ends with :data:`TRUNCATED`.

Plain (uncompressed) files go through the same function: blocks as read, nothing else.
:class:`InflatedStream` offers the same as a file object, for readers that parse from one.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Generator
from pathlib import Path
from typing import BinaryIO

from harness.capture.limits import DEFAULT_LIMITS, SKIP_CORRUPT_GZIP, InputLimits, size_text
from harness.capture.record import SkipLog
from harness.errors import CaptureError, printable

BLOCK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
#: A gzip member header as written by every encoder: magic and the deflate method.
_MEMBER_HEADER = b"\x1f\x8b\x08"
#: Markers among the blocks (compared by identity): the data is cut here.
BREAK = b"\0\0harness: gzip data skipped here"
TRUNCATED = b"\0\0harness: gzip data ends early"

Progress = Callable[[int], None]


def open_input(path: Path) -> BinaryIO:
    """``path`` opened for reading; :class:`CaptureError` naming it when that fails."""
    try:
        return path.open("rb")
    except IsADirectoryError:
        raise CaptureError(f"{printable(str(path))}: is a directory, not a capture file") from None
    except OSError as exc:
        raise CaptureError(f"{printable(str(path))}: cannot open ({exc.strerror})") from None


def blocks(
    path: Path,
    skips: SkipLog,
    limits: InputLimits = DEFAULT_LIMITS,
    progress: Progress | None = None,
) -> Generator[bytes, None, None]:
    """Blocks of ``path``'s content, inflated when it is gzip (see the module docstring)."""
    with open_input(path) as raw:
        first = raw.read(BLOCK)
        if not first.startswith(GZIP_MAGIC):
            chunk = first
            while chunk:
                if progress is not None:
                    progress(len(chunk))
                yield chunk
                chunk = raw.read(BLOCK)
            return
        yield from _Inflater(raw, path, skips, limits, progress).run(first)


class _Inflater:
    """One gzip file being inflated: offsets, totals and the current member."""

    def __init__(
        self,
        raw: BinaryIO,
        path: Path,
        skips: SkipLog,
        limits: InputLimits,
        progress: Progress | None,
    ) -> None:
        self.raw = raw
        self.path = path
        self.name = printable(path.name)
        self.skips = skips
        self.limits = limits
        self.progress = progress
        self.read_until = 0  # compressed bytes read from the file so far
        self.inflated = 0

    def _read(self) -> bytes:
        chunk = self.raw.read(BLOCK)
        self.read_until += len(chunk)
        if self.progress is not None and chunk:
            self.progress(len(chunk))
        return chunk

    def run(self, first: bytes) -> Generator[bytes, None, None]:
        self.read_until = len(first)
        if self.progress is not None:
            self.progress(len(first))
        pending = first
        member = zlib.decompressobj(wbits=31)
        member_start = 0  # file offset of the current member
        started = False  # the current member has consumed input
        broken = False  # inside a corrupt region (counted once, however many retries)
        while True:
            if not pending:
                pending = self._read()
                if not pending:
                    break
            before = member.copy()  # to find the break and keep what came before it
            try:
                data = member.decompress(pending, BLOCK)
            except zlib.error:
                if not started:
                    rest = self._past_padding(pending)
                    if rest is None:
                        return  # NUL bytes after the last member, as some writers pad
                    pending = rest
                    before = zlib.decompressobj(wbits=31)
                start = self.read_until - len(pending)
                broke_at = yield from self._salvage(before, pending, start)
                if not broken:
                    self.skips.add(SKIP_CORRUPT_GZIP, f"{self.name}: byte {start + broke_at}")
                    broken = True
                # the next member may start anywhere after this one's header, even before
                # the place the corruption was noticed
                member_start, pending = self._resync(member_start + 1)
                if not pending:
                    # what was inflated just before the corruption was noticed may be garbage:
                    # the reader drops the record it is in, as for a cut file
                    yield TRUNCATED
                    return
                member = zlib.decompressobj(wbits=31)
                started = False
                yield BREAK
                continue
            started = True
            if data:
                self._account(data, self.read_until - len(member.unconsumed_tail))
                yield data
            if member.eof:
                # the next member (appended chunks), or trailing bytes to try as one
                pending = member.unused_data
                member_start = self.read_until - len(pending)
                member = zlib.decompressobj(wbits=31)
                started = broken = False
            else:
                pending = member.unconsumed_tail
        if started and not member.eof:
            data = member.flush()
            if data:
                self._account(data, self.read_until)
                yield data
            yield TRUNCATED

    def _past_padding(self, pending: bytes) -> bytes | None:
        """``pending`` unless it is NUL padding; then the first later read that is not, or
        ``None`` when NUL bytes run to the end of the file."""
        rest = pending
        while not rest.strip(b"\0"):
            rest = self._read()
            if not rest:
                return None
        return rest

    def _salvage(
        self, member: zlib._Decompress, pending: bytes, start: int
    ) -> Generator[bytes, None, int]:
        """Inflate ``pending`` in small steps up to where it breaks, yielding what it held;
        returns the offset of the break in ``pending`` (to the byte)."""
        pos = 0
        step = 256
        while pos < len(pending):
            probe = member.copy()
            piece = pending[pos : pos + step]
            try:
                data = probe.decompress(piece)
            except zlib.error:
                if step == 1:
                    return pos
                step = 1  # the break is in this piece: find its byte
                continue
            member = probe
            pos += len(piece)
            if data:
                self._account(data, start + pos)
                yield data
            if member.eof:
                break
        return pos

    def _resync(self, offset: int) -> tuple[int, bytes]:
        """(file offset, bytes from there) of the first gzip member header at or after
        ``offset``; ``(offset, b"")`` when there is none."""
        self.raw.seek(offset)
        window = b""
        base = offset  # file offset of window[0]
        while True:
            more = self.raw.read(BLOCK)
            if not more:
                self.read_until = base + len(window)
                return offset, b""
            window += more
            found = window.find(_MEMBER_HEADER)
            if found >= 0:
                self.read_until = base + len(window)
                return base + found, window[found:]
            # keep two bytes: a header may straddle the reads
            base += len(window) - 2
            window = window[-2:]

    def _account(self, data: bytes, consumed: int) -> None:
        """Add ``data`` to the inflated total; past a limit, the import stops."""
        self.inflated += len(data)
        limits = self.limits
        if self.inflated > limits.max_inflated_bytes:
            raise CaptureError(
                f"{printable(str(self.path))}: byte {consumed}: inflates past "
                f"{size_text(limits.max_inflated_bytes)} (--max-inflated-size)"
            )
        if self.inflated > limits.ratio_floor_bytes and self.inflated > limits.max_ratio * max(
            consumed, 1
        ):
            raise CaptureError(
                f"{printable(str(self.path))}: byte {consumed}: inflates {size_text(consumed)} "
                f"to {size_text(self.inflated)}, more than {limits.max_ratio:g} times "
                "(a gzip bomb? raise --max-ratio if the file is genuine)"
            )


class InflatedStream(io.RawIOBase):
    """The content of a capture file (inflated when gzip) as a readable binary stream.

    It ends at the first corruption or truncation (a format without record markers cannot
    resume after a gap); ``cut`` then says so, and the reader counts the record cut short.
    """

    def __init__(
        self,
        path: Path,
        skips: SkipLog,
        limits: InputLimits = DEFAULT_LIMITS,
        progress: Progress | None = None,
    ) -> None:
        super().__init__()
        self._blocks = blocks(path, skips, limits, progress)
        self._rest = memoryview(b"")
        self.cut = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._rest:
            block = next(self._blocks, None)
            if block is None:
                return 0
            if block is BREAK or block is TRUNCATED:
                self.cut = True
                self._blocks.close()
                return 0
            self._rest = memoryview(block)
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n

    def close(self) -> None:
        self._blocks.close()
        super().close()
