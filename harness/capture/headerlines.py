"""Header lines of a batch of request heads, split in Arrow once per distinct line.

:class:`HeaderLines` cuts the ``head`` texts of a batch (one string per request, lines joined by
``\\n``) into lines, and each line into a name (the text before its first colon, as is) and a
value (the text after it). Real traffic repeats most lines (``User-Agent``, ``Accept``, a
client's ``Cookie``), so the lines are dictionary-encoded first: the colon split, the trimming,
the batch redaction (:mod:`harness.capture.redact_batch`) and the credential lookup
(:mod:`harness.capture.learning`) work on the **distinct** lines, and the per-line ``names`` and
``values`` columns are taken from them once, when asked for. The line split itself reads the
heads' own data buffer (offsets at each ``\\n``, no copy); a line keeps its separator there,
and the colon split leaves it out.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harness.capture.schema import HEADER_TYPE


class DistinctLines:
    """The distinct header lines of a batch, split: ``names``, ``raw_values`` (after the
    colon), ``values`` (those trimmed of spaces, tabs and CR) and ``has_colon`` (``None`` when
    every line has one; a line without colon is a name with an empty value)."""

    def __init__(self, lines: pa.Array) -> None:
        self.names, self.raw_values, self.has_colon = _split_at_colon(lines)
        # ascii_trim is safe on UTF-8: the bytes of space, tab and CR never occur inside a
        # multibyte character, and it is three times faster than utf8_trim
        self.values: pa.Array = pc.ascii_trim(self.raw_values, " \t\r")


class HeaderLines:
    """The header lines of a batch of ``head`` texts, split into names and values in Arrow.

    ``names`` are the text before the first colon (as is), ``raw_values`` the text after it,
    ``values`` those trimmed of spaces, tabs and CR; a line without colon is a name with an empty
    value (``has_colon`` is false there). ``offsets`` say which lines belong to which row. The
    same for each distinct line is ``distinct``; ``indices`` say which distinct line each line is.
    """

    def __init__(self, heads: pa.Array) -> None:
        flat, self.offsets = _split_lines(heads)
        encoded = flat.dictionary_encode()
        self.indices: pa.Array = encoded.indices
        self.distinct = DistinctLines(encoded.dictionary)
        self._names: pa.Array | None = None
        self._values: pa.Array | None = None

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def names(self) -> pa.Array:
        """Each line's name."""
        if self._names is None:
            self._names = self.distinct.names.take(self.indices)
        return self._names

    @property
    def values(self) -> pa.Array:
        """Each line's value, trimmed."""
        if self._values is None:
            self._values = self.distinct.values.take(self.indices)
        return self._values

    @property
    def raw_values(self) -> pa.Array:
        """Each line's text after its first colon, as is (empty without colon)."""
        return self.distinct.raw_values.take(self.indices)

    @property
    def has_colon(self) -> pa.Array | None:
        """Whether each line has a colon; ``None`` when all have."""
        has = self.distinct.has_colon
        return None if has is None else has.take(self.indices)

    def column(self, names: pa.Array, values: pa.Array) -> pa.Array:
        """The ``headers`` column from (possibly changed) ``names`` and ``values``."""
        pairs = pa.StructArray.from_arrays([names, values], fields=list(HEADER_TYPE.value_type))
        return pa.ListArray.from_arrays(self.offsets, pairs, type=HEADER_TYPE)


def _int32(values: np.ndarray) -> pa.Array:
    """An Arrow int32 array over a numpy int32 array (no copy)."""
    return pa.Array.from_buffers(pa.int32(), len(values), [None, pa.py_buffer(values)])


def _split_lines(heads: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(every line of every head, list offsets of each head's lines); a null head has none.

    Lines are cut at each ``\\n`` of the heads' data buffer; a line keeps the ``\\n`` that ends
    it (the last line of a head has none). The general kernel serves heads it cannot read so
    (a null head with data under it), without separators.
    """
    n = len(heads)
    buffers = heads.buffers()
    if not n or heads.type != pa.string() or buffers[2] is None:
        return _split_lines_kernel(heads)
    data = buffers[2]
    offs = np.frombuffer(buffers[1], dtype=np.int32)[heads.offset : heads.offset + n + 1]
    valid = (
        np.ones(n, dtype=bool)
        if not heads.null_count
        else np.asarray(heads.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    )
    if heads.null_count and (np.diff(offs)[~valid] != 0).any():
        return _split_lines_kernel(heads)
    start, end = int(offs[0]), int(offs[-1])
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8)[start:end] == 10) + start
    # lines per head: its newlines + 1; a null head: none
    inside = np.diff(np.searchsorted(newlines, offs))
    count = np.where(valid, inside + 1, 0)
    list_offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(count, out=list_offsets[1:])
    total = int(list_offsets[-1])
    # a head's first line starts at the head, every other line just past a newline
    bounds = np.empty(total + 1, dtype=np.int32)
    first = np.zeros(total, dtype=bool)
    first[list_offsets[:-1][valid]] = True
    bounds[:total][first] = offs[:-1][valid]
    bounds[:total][~first] = newlines + 1
    bounds[total] = end
    flat = pa.Array.from_buffers(pa.string(), total, [None, pa.py_buffer(bounds), data])
    return flat, _int32(list_offsets)


def _split_lines_kernel(heads: pa.Array) -> tuple[pa.Array, pa.Array]:
    lines = pc.split_pattern(heads, "\n")
    return lines.flatten(), lines.offsets


def _bools(values: np.ndarray) -> pa.Array:
    """An Arrow boolean array of a numpy one."""
    bits = np.packbits(values, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def _split_at_colon(lines: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array | None]:
    """(text before the first colon, text after it, whether there is a colon: ``None`` when
    every line has one) of each line, leaving out a final ``\\n``. A line without colon is all
    name, with an empty value.

    The lines' own data buffer read as four pieces per line (name, colon, value, newline: new
    offsets, no copy), then the first and third piece of each taken: one copy of each line.
    """
    n = len(lines)
    if not n:
        return lines, lines, None
    if lines.null_count:  # not from _split_lines, which gives no null line
        lines = lines.fill_null("")
    colon = np.asarray(pc.find_substring(lines, ":").to_numpy(), dtype=np.int32)
    data = lines.buffers()[2]
    if data is None or not data.size:  # only empty lines
        data = pa.py_buffer(b"\0")
    raw = np.frombuffer(data, dtype=np.uint8)
    bounds = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + n + 1]
    start, end = bounds[:-1], bounds[1:]
    # a line ends before its newline; an empty line has none (its end byte is another line's)
    cut = end - ((end > start) & (raw[np.maximum(end - 1, 0)] == 10)).astype(np.int32)
    found = colon >= 0
    at = np.where(found, start + colon, cut)
    pieces = np.empty(4 * n + 1, dtype=np.int32)
    pieces[0:-1:4] = start
    pieces[1:-1:4] = at
    pieces[2:-1:4] = np.where(found, at + 1, cut)
    pieces[3:-1:4] = cut
    pieces[-1] = bounds[-1]
    split = pa.Array.from_buffers(pa.string(), 4 * n, [None, pa.py_buffer(pieces), data])
    names = split.take(_int32(np.arange(0, 4 * n, 4, dtype=np.int32)))
    values = split.take(_int32(np.arange(2, 4 * n, 4, dtype=np.int32)))
    return names, values, None if found.all() else _bools(found)
