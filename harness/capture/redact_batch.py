"""Redaction of header lines a batch of requests at a time (the GoReplay batch path).

The per-record path sends every header line through
:meth:`Redactor.redact_line <harness.capture.redact.Redactor.redact_line>`. Here the same
function runs on the lines of a whole batch, but only on the lines it could change, and once
per distinct line:

1. :class:`HeaderRedaction` picks the candidate lines in Arrow: credential headers (by name),
   URL headers, a ``Host`` with ``@``, non-standard headers whose value has 16+ characters
   (the random-token detector), and lines where a cheap pre-check may see a value rule's
   pattern in the name or the value (``eyJ``, ``@``, ``%40``, 13 digits, ``AKIA``...,
   ``-----BEGIN``); a superset: a false candidate costs time, never a secret;
2. the candidates are made distinct (``name\\nvalue``, dictionary-encoded in Arrow): each
   distinct line is redacted once (the redactor also remembers lines across batches), its
   rules counted once per occurrence, and the new names and values are put in place.

A line that is not a candidate would have come out of ``redact_line`` unchanged, so both paths
write the same lines and count the same rules (``tests/capture/test_batch.py``).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harness.capture.redact import Redactor
from harness.capture.secretnames import URL_HEADERS, benign_header
from harness.capture.store import HeaderLines

_VALUE_SECRET_HINTS = (
    b"eyJ", b"@", b"%40", b"-----BEGIN", b"AKIA", b"ASIA", b"AGPA", b"AIDA", b"AROA", b"ANPA",
    b"ANVA", b"AIPA", b"ABIA", b"ACCA",
)  # fmt: skip
# the card pre-check deletes blanks, dashes and pluses, maps digits to "0" and looks for 13
# zeros; with those mapped to "0" too (positions kept), 13 zeros are a superset of its hits
_CARD_CHARS_TO_ZERO = bytes.maketrans(b"0123456789 -+", b"0000000000000")
_THIRTEEN = b"0" * 13
#: What the random-token detector needs at least (``looks_random``).
_MIN_RANDOM = 16
# name categories
_NAMED, _HOST, _URL, _BENIGN, _OTHER = range(5)


class HeaderRedaction:
    """Redacts the header lines of a batch as ``redactor.redact_line`` would, line by line."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._kinds: dict[str, int] = {}

    @staticmethod
    def supports(redactor: Redactor) -> bool:
        """Whether the candidate pre-checks cover every rule of ``redactor`` (no extra
        patterns: a configured pattern may match anything)."""
        return not redactor.has_extra_patterns

    def redact(self, lines: HeaderLines) -> tuple[pa.Array, pa.Array]:
        """(names, values) of ``lines`` redacted; the rules are counted in the redactor."""
        names, values = lines.names, lines.values
        if not len(names):
            return names, values
        picked = self._candidates(lines)
        if not picked.size:
            return names, values
        take = pa.array(picked)
        # "1\nname\nvalue", "0" for a line without colon: no name or value holds a line break
        colon = (
            pa.array(np.full(len(picked), "1"), pa.string())
            if lines.has_colon is None
            else pc.if_else(lines.has_colon.take(take), "1", "0")
        )
        joined = pc.binary_join_element_wise(colon, names.take(take), values.take(take), "\n")
        encoded = joined.dictionary_encode()
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        line = self._redactor.line
        new_names: list[str] = []
        new_values: list[str] = []
        changed = np.zeros(len(encoded.dictionary), dtype=bool)
        occurrences = np.bincount(indices, minlength=len(encoded.dictionary))
        counts: Counter[str] = Counter()
        for i, text in enumerate(encoded.dictionary.to_pylist()):
            flag, _, rest = text.partition("\n")
            name, _, value = rest.partition("\n")
            new_name, new_value, rules = line(name, value, flag == "1")
            new_names.append(new_name)
            new_values.append(new_value)
            if new_name != name or new_value != value:
                changed[i] = True
            for rule in rules:
                counts[rule] += int(occurrences[i])
        self._redactor.counts.update(counts)
        hit = changed[indices]
        if not hit.any():
            return names, values
        where = np.zeros(len(names), dtype=bool)
        where[picked[hit]] = True
        mask = pa.array(where)
        rows = pa.array(indices[hit])
        for column, new in ((0, new_names), (1, new_values)):
            replacement = pa.array(new, pa.string()).take(rows)
            if column == 0:
                names = pc.replace_with_mask(names, mask, replacement)
            else:
                values = pc.replace_with_mask(values, mask, replacement)
        return names, values

    def _candidates(self, lines: HeaderLines) -> np.ndarray:
        """Indices (sorted, unique) of the lines ``redact_line`` could change."""
        names = lines.names
        trimmed = pc.ascii_rtrim(names, " \t")
        encoded = trimmed.dictionary_encode()
        kinds = np.array(
            [self._kind(name) for name in encoded.dictionary.to_pylist()], dtype=np.int8
        )
        kind = kinds[encoded.indices.to_numpy(zero_copy_only=False)]
        if lines.has_colon is not None:  # a line without colon is a name: patterns only
            kind = np.where(lines.has_colon.to_numpy(zero_copy_only=False), kind, _BENIGN)
        pick = (kind == _NAMED) | (kind == _URL)
        if (kind == _HOST).any():
            has_at = pc.match_substring(lines.values, "@").to_numpy(zero_copy_only=False)
            pick |= (kind == _HOST) & has_at
        if (kind == _OTHER).any():
            long = pc.greater_equal(pc.utf8_length(lines.values), _MIN_RANDOM)
            pick |= (kind == _OTHER) & long.to_numpy(zero_copy_only=False)
        flagged = np.union1d(_lines_with_hints(names), _lines_with_hints(lines.values))
        pick[flagged] = True
        return np.flatnonzero(pick)

    def _kind(self, name: str) -> int:
        kind = self._kinds.get(name)
        if kind is None:
            low = name.lower()
            if self._redactor.is_named_header(name):
                kind = _NAMED
            elif low == "host":
                kind = _HOST
            elif low in URL_HEADERS:
                kind = _URL
            elif benign_header(low):
                kind = _BENIGN
            else:
                kind = _OTHER
            if len(self._kinds) < 100_000:
                self._kinds[name] = kind
        return kind


def _lines_with_hints(column: pa.Array) -> np.ndarray:
    """Lines of a string column whose text may hold a value rule's pattern."""
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
