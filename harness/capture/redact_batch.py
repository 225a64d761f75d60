"""Redaction of header lines and paths a batch of requests at a time (the GoReplay batch path).

The per-record path sends every header line through
:meth:`Redactor.line <harness.capture.redact.Redactor.line>` and every path through
:meth:`Redactor.path_result <harness.capture.redact.Redactor.path_result>`. Here the same
functions run once per **distinct** line or path of a batch: the lines are those of
:class:`~harness.capture.headerlines.HeaderLines` (split once per distinct line), the paths are
dictionary-encoded in Arrow, each distinct one is redacted once (the redactor also remembers
them across batches), its rules are counted once per occurrence, and the new names, values and
paths are put in place. Real traffic repeats most header lines (``User-Agent``, ``Accept``, a
session's ``Cookie``), so the Python work follows the number of distinct lines, not of
requests; and since every line and path goes through the per-record functions, both paths
write the same rows and count the same rules (``tests/capture/test_batch.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from harness.capture.headerlines import HeaderLines
from harness.capture.redact import Redactor
from harness.capture.routes import RouteTemplater
from harness.capture.urlsecrets import secret_segments_as

#: What redacting one distinct item gives: (its new fields, its rules).
Outcome = tuple[tuple[str, ...], tuple[str, ...]]


class HeaderRedaction:
    """Redacts the header lines and paths of a batch as the per-record code would."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def redact(self, lines: HeaderLines) -> tuple[pa.Array, pa.Array]:
        """(names, values) of ``lines`` redacted; the rules are counted in the redactor."""
        if not len(lines):
            return lines.names, lines.values
        distinct = lines.distinct
        names = distinct.names.to_pylist()
        values = distinct.values.to_pylist()
        colons = (
            [True] * len(names) if distinct.has_colon is None else distinct.has_colon.to_pylist()
        )
        line = self._redactor.line
        occurrences = np.bincount(
            lines.indices.to_numpy(zero_copy_only=False), minlength=len(names)
        ).tolist()
        tally: Counter[str] = Counter()
        changed = renamed = False
        new_names, new_values = list(names), list(values)
        for i, (name, value, colon, n) in enumerate(
            zip(names, values, colons, occurrences, strict=True)
        ):
            new_name, new_value, rules = line(name, value, colon)
            for rule in rules:
                tally[rule] += n
            if new_name != name or new_value != value:
                changed = True
                renamed = renamed or new_name != name
                new_names[i], new_values[i] = new_name, new_value
        self._redactor.counts.update(tally)
        if not changed:
            return lines.names, lines.values
        # most changes are values only: the names column is taken anew when it must
        new = pa.array(new_names, pa.string()).take(lines.indices) if renamed else lines.names
        return new, pa.array(new_values, pa.string()).take(lines.indices)

    def redact_paths(
        self, paths: list[str], routes: list[str], templater: RouteTemplater
    ) -> tuple[list[str], list[str]]:
        """``paths`` redacted, and the ``routes`` of the changed ones templated again with the
        placeholder where a secret was; rules counted. Unchanged lists are returned as they are."""
        result = self._redactor.path_result
        placeholder = templater.placeholder

        def one(path: str) -> Outcome:
            new, rules = result(path)
            if new is path:
                return (), rules
            return (new, templater.route(secret_segments_as(path, new, placeholder))), rules

        found = _distinct(pa.array(paths, pa.string()), one, self._redactor.counts)
        if found is None:
            return paths, routes
        changed, rows, outcomes = found
        new_paths, new_routes = list(paths), list(routes)
        for i, row in zip(np.flatnonzero(changed).tolist(), rows.to_pylist(), strict=True):
            new_paths[i], new_routes[i] = outcomes[row][0]
        return new_paths, new_routes


def _distinct(
    column: pa.Array, redact: Callable[[str], Outcome], counts: Counter[str]
) -> tuple[np.ndarray, pa.Array, list[Outcome]] | None:
    """Run ``redact`` once per distinct string of ``column``; count its rules per occurrence.

    Returns ``None`` when nothing changed, else (where the column changed, which distinct
    outcome each changed row takes, the outcomes of the distinct strings).
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
        return None
    changed = changed_kinds[indices]
    return changed, pa.array(indices[changed]), outcomes
