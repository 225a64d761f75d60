"""Redaction of header lines and paths a batch of requests at a time (the GoReplay batch path).

The per-record path sends every header line through
:meth:`Redactor.line <harness.capture.redact.Redactor.line>` and every path through
:meth:`Redactor.path_result <harness.capture.redact.Redactor.path_result>`. Here the same
functions run once per **distinct** line or path of a batch: the lines (``name\\nvalue``,
with a flag for lines without a colon) and the paths are dictionary-encoded in Arrow, each
distinct one is redacted once (the redactor also remembers them across batches), its rules are
counted once per occurrence, and the new names, values and paths are put in place. Real traffic
repeats most header lines (``User-Agent``, ``Accept``, a session's ``Cookie``), so the Python
work follows the number of distinct lines, not of requests; and since every line and path goes
through the per-record functions, both paths write the same rows and count the same rules
(``tests/capture/test_batch.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harness.capture.redact import Redactor
from harness.capture.store import HeaderLines

#: What redacting one distinct item gives: (its new fields, its rules).
Outcome = tuple[tuple[str, ...], tuple[str, ...]]


class HeaderRedaction:
    """Redacts the header lines and paths of a batch as the per-record code would."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def redact(self, lines: HeaderLines) -> tuple[pa.Array, pa.Array]:
        """(names, values) of ``lines`` redacted; the rules are counted in the redactor."""
        names, values = lines.names, lines.values
        if not len(names):
            return names, values
        # "1\nname\nvalue", "0" for a line without colon: no name or value holds a line break
        colon: pa.Array | str = (
            "1" if lines.has_colon is None else pc.if_else(lines.has_colon, "1", "0")
        )
        joined = pc.binary_join_element_wise(colon, names, values, "\n")
        line = self._redactor.line

        def one(text: str) -> Outcome:
            flag, _, rest = text.partition("\n")
            name, _, value = rest.partition("\n")
            new_name, new_value, rules = line(name, value, flag == "1")
            if new_name == name and new_value == value:
                return (), rules
            return (new_name, new_value), rules

        changed, new = _distinct(joined, one, self._redactor.counts)
        if changed is None:
            return names, values
        mask = pa.array(changed)
        names = pc.replace_with_mask(names, mask, pa.array([n[0] for n in new], pa.string()))
        values = pc.replace_with_mask(values, mask, pa.array([n[1] for n in new], pa.string()))
        return names, values

    def redact_paths(self, paths: list[str]) -> list[str]:
        """``paths`` redacted (an unchanged path is the same object); rules counted."""
        result = self._redactor.path_result

        def one(path: str) -> Outcome:
            new, rules = result(path)
            return ((new,) if new is not path else ()), rules

        changed, new = _distinct(pa.array(paths, pa.string()), one, self._redactor.counts)
        if changed is None:
            return paths
        out = list(paths)
        for i, fields in zip(np.flatnonzero(changed).tolist(), new, strict=True):
            out[i] = fields[0]
        return out


def _distinct(
    column: pa.Array, redact: Callable[[str], Outcome], counts: Counter[str]
) -> tuple[np.ndarray | None, list[tuple[str, ...]]]:
    """Run ``redact`` once per distinct string of ``column``; count its rules per occurrence.

    Returns (where the column changed, or ``None`` if nowhere; the new fields there, in order).
    """
    encoded = column.dictionary_encode()
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    outcomes = [redact(text) for text in encoded.dictionary.to_pylist()]
    occurrences = np.bincount(indices, minlength=len(outcomes))
    tally: Counter[str] = Counter()
    for (_, rules), n in zip(outcomes, occurrences.tolist(), strict=True):
        for rule in rules:
            tally[rule] += n
    counts.update(tally)
    changed_kinds = np.array([bool(fields) for fields, _ in outcomes], dtype=bool)
    if not changed_kinds.any():
        return None, []
    changed = changed_kinds[indices]
    new = [outcomes[i][0] for i in indices[changed].tolist()]
    return changed, new
