"""Redaction of header lines a batch of requests at a time (the GoReplay batch path).

The per-record :meth:`Redactor.redact_head <harness.capture.redact.Redactor.redact_head>` first
masks the credential headers of a head, then runs the JWT, e-mail and card rules only when
cheap pre-checks find ``eyJ``, ``@``, ``%40`` or 13 digits in the masked text. Here the same
two steps run on the split lines of a whole batch:

1. :class:`HeaderMasker` finds the credential lines in Arrow (name before the colon, trailing
   blanks dropped, any case) and masks each value with
   :func:`~harness.capture.redact.mask_named_header`, the per-record code itself;
2. :func:`value_secret_lines` runs the pre-checks once over the batch's masked names and values
   and returns the lines where one may fire (a superset: a false hit costs time, never a
   secret); :func:`redact_values` runs the per-record rules on the name and the value of those
   lines, and only those.

No match of these rules spans a colon or a line break, so a line that passes step 2 would have
had nothing more done to it by the per-record code, and the rules give the same text on one
name or value as on the whole head: both paths write the same lines and count the same
redactions.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harness.capture.redact import MASK, Redactor, mask_named_header
from harness.capture.store import HeaderLines

_VALUE_SECRET_HINTS = (b"eyJ", b"@", b"%40")
# the card pre-check deletes spaces and dashes, maps digits to "0" and looks for 13 zeros; with
# spaces and dashes mapped to "0" too (positions kept), 13 zeros are a superset of its hits
_CARD_CHARS_TO_ZERO = bytes.maketrans(b"0123456789 -", b"000000000000")
_THIRTEEN = b"0" * 13
# header names the masker compares as plain strings (exactly what the per-record regex matches)
_PLAIN_NAME = re.compile(r"[!-9;-~]+")


class MaskedLines:
    """Header lines with credential values masked; ``rules`` are the rules of masked lines."""

    def __init__(self, names: pa.Array, values: pa.Array, lines: np.ndarray, rules: list[str]):
        self.names = names
        self.values = values
        self.lines = lines  # indices of the masked lines
        self.rules = rules


class HeaderMasker:
    """Masks the credential headers of a batch's :class:`HeaderLines` as ``redactor`` would."""

    def __init__(self, redactor: Redactor) -> None:
        self._names = pa.array(sorted(redactor.header_names), pa.string())

    @staticmethod
    def supports(redactor: Redactor) -> bool:
        """Whether the masker matches ``redactor`` exactly (no extra patterns, plain names)."""
        return not redactor.has_extra_patterns and all(
            _PLAIN_NAME.fullmatch(name) for name in redactor.header_names
        )

    def mask(self, lines: HeaderLines) -> MaskedLines:
        """``lines`` with every credential value masked (not counted: see ``rules``)."""
        names, values = lines.names, lines.values
        none = np.empty(0, dtype=np.int64)
        if not len(names):
            return MaskedLines(names, values, none, [])
        key = pc.ascii_lower(pc.ascii_rtrim(names, " \t"))
        named = pc.is_in(key, value_set=self._names)
        if lines.has_colon is not None:
            named = pc.and_(named, lines.has_colon)
        where = np.flatnonzero(named.to_numpy(zero_copy_only=False))
        if not where.size:
            return MaskedLines(names, values, none, [])
        take = pa.array(where)
        sub_names = pc.ascii_rtrim(names.take(take), " \t")
        # the value as the per-record code cuts it: blanks after the colon, one CR at the end
        raw = pc.ascii_ltrim(lines.raw_values.take(take), " \t")
        raw = pc.ascii_rtrim(pc.replace_substring_regex(raw, r"\r$", ""), " \t")
        masks, rules = _masks(pc.equal(key.take(take), "cookie"), sub_names, raw)
        # the capture writer trims values: a mask is written as "Name: mask", then trimmed
        trimmed = pc.ascii_trim(masks, " \t\r")
        if not pc.all(pc.equal(sub_names, names.take(take))).as_py():
            names = pc.replace_with_mask(names, named, sub_names)  # blanks before the colon
        return MaskedLines(
            names,
            pc.replace_with_mask(values, named, trimmed),
            where,
            rules,
        )


def _masks(cookie: pa.Array, names: pa.Array, values: pa.Array) -> tuple[pa.Array, list[str]]:
    """The masks of named-header ``values`` and their rules (cookie lines marked in ``cookie``).

    Cookies that are all ``name=value`` pairs (by far the most) are masked in Arrow; any other
    line goes through :func:`mask_named_header`, the per-record code.
    """
    n = len(values)
    rules = ["cookie"] * n
    done: list[np.ndarray] = []
    masks: list[pa.Array] = []
    is_cookie = cookie.to_numpy(zero_copy_only=False)
    in_python = np.flatnonzero(~is_cookie)
    if is_cookie.any():
        rows = np.flatnonzero(is_cookie)
        masked, pairs = _mask_cookie_pairs(values.take(pa.array(rows)))
        done.append(rows[pairs])
        masks.append(masked.filter(pa.array(pairs)))
        in_python = np.sort(np.concatenate((in_python, rows[~pairs])))
    if in_python.size:
        picked = pa.array(in_python)
        by_python: list[str] = []
        for i, name, value in zip(
            in_python.tolist(),
            names.take(picked).to_pylist(),
            values.take(picked).to_pylist(),
            strict=True,
        ):
            rules[i], new = mask_named_header(name, value)
            by_python.append(new)
        done.append(in_python)
        masks.append(pa.array(by_python, pa.string()))
    if len(masks) == 1 and len(done[0]) == n:
        return masks[0], rules  # one kind of line only: already in line order
    order = np.concatenate(done)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    return pa.concat_arrays(masks).take(pa.array(position)), rules


def _mask_cookie_pairs(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Cookie values with every ``name=value`` made ``name=REDACTED``, and where that is exact.

    Exact where every ``;``-separated part has an ``=``: then there are more ``=`` than ``;``,
    and the per-record code does the same, ``re.sub("=[^;]*", "=REDACTED")``.
    """
    parts = pc.split_pattern(values, ";")
    flat = parts.flatten()
    # each part read as two pieces of its own buffer: "name=" and the rest (new offsets, no
    # copy); taking the first pieces is one copy, where splitting at "=" and picking the first
    # element makes two
    n = len(flat)
    bounds = np.frombuffer(flat.buffers()[1], dtype=np.int32)[flat.offset : flat.offset + n + 1]
    eq = pc.find_substring(flat, "=").to_numpy()
    has_eq = eq >= 0
    pieces = np.empty(2 * n + 1, dtype=np.int32)
    pieces[0:-1:2] = bounds[:-1]
    pieces[1:-1:2] = np.where(has_eq, bounds[:-1] + eq + 1, bounds[1:])
    pieces[-1] = bounds[-1]
    split = pa.Array.from_buffers(
        pa.string(), 2 * n, [None, pa.py_buffer(pieces), flat.buffers()[2]]
    )
    # "name=" of a part with "=", the whole part without
    keys = split.take(pa.array(np.arange(0, 2 * n, 2)))
    masked_parts = pc.binary_join_element_wise(keys, MASK, "")
    if not has_eq.all():
        masked_parts = pc.if_else(pa.array(has_eq), masked_parts, keys)
    masked = pc.binary_join(pa.ListArray.from_arrays(parts.offsets, masked_parts), ";")
    # a value always has at least one part, so no list is empty
    starts = parts.offsets.to_numpy()[:-1]
    exact = np.minimum.reduceat(has_eq, starts)
    return masked, exact.astype(bool)


def value_secret_lines(masked: MaskedLines) -> np.ndarray:
    """Lines (sorted, unique) where a value-rule pre-check may fire, in the name or the value."""
    return np.union1d(_lines_with_hints(masked.names), _lines_with_hints(masked.values))


def redact_values(
    masked: MaskedLines, lines: np.ndarray, redactor: Redactor
) -> tuple[pa.Array, pa.Array]:
    """(names, values) of ``masked`` with ``lines`` redacted by the per-record value rules.

    :meth:`Redactor.redact_values` runs on the name and on the value of each line, and counts
    its hits; a line where nothing matched keeps its text.
    """
    names, values = masked.names, masked.values
    if not lines.size:
        return names, values
    take = pa.array(lines)
    where = np.zeros(len(names), dtype=bool)
    where[lines] = True
    mask = pa.array(where)
    redact = redactor.redact_values
    columns = []
    for column in (names, values):
        old = column.take(take).to_pylist()
        new = [redact(text) for text in old]
        changed = new != old
        columns.append(
            pc.replace_with_mask(column, mask, pa.array(new, pa.string())) if changed else column
        )
    return columns[0], columns[1]


def _lines_with_hints(column: pa.Array) -> np.ndarray:
    """Lines of a string column whose text may hold a JWT, an e-mail or a card number."""
    if not len(column):
        return np.empty(0, dtype=np.int64)
    buffers = column.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32)[
        column.offset : column.offset + len(column) + 1
    ]
    start, end = int(offsets[0]), int(offsets[-1])
    # the values end to end, without separator: a hit across two lines is only a false hit
    data = buffers[2].to_pybytes()[start:end] if end > start else b""
    hits: list[int] = []
    for hint in _VALUE_SECRET_HINTS:
        hits += _positions(data, hint)
    # a run of 13 may start on one line and go on into the next (the search does not look for
    # overlapping runs): every line a run touches is flagged, so a card on the next is not missed
    runs = _positions(data.translate(_CARD_CHARS_TO_ZERO), _THIRTEEN)
    hits += runs
    hits += [run + len(_THIRTEEN) - 1 for run in runs]
    if not hits:
        return np.empty(0, dtype=np.int64)
    lines = np.searchsorted(offsets, np.array(hits) + start, side="right") - 1
    if runs:
        first = lines[-2 * len(runs) : -len(runs)]
        last = lines[-len(runs) :]
        spans = [np.arange(a + 1, b) for a, b in zip(first.tolist(), last.tolist(), strict=True)]
        lines = np.concatenate([lines, *spans])
    return lines


def _positions(data: bytes, needle: bytes) -> list[int]:
    """Start of every (non-overlapping) occurrence of ``needle`` in ``data``."""
    found = []
    pos = data.find(needle)
    while pos >= 0:
        found.append(pos)
        pos = data.find(needle, pos + len(needle))
    return found
