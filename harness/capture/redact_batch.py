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

The one rule that depends on more than the path is ``path-credential``: a path part equal to a
credential the row or a row before it sent (:mod:`harness.capture.sentcredentials`). Each
distinct line notes what it sends, each distinct path which of its parts may be one; only the
paths with a part that is, or in this batch becomes, a known credential are looked at row by
row, and the memory is brought past the batch's rows in ranges that end where its sweeps
run, so every row gets the answer exchange-by-exchange redaction gives it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pyarrow as pa

from harness.capture.headerlines import HeaderLines
from harness.capture.redact import PathEntry, Redactor
from harness.capture.routes import RouteTemplater
from harness.capture.sentcredentials import SentCredentials
from harness.capture.urlsecrets import Unit, secret_segments_as

#: What the ``path-credential`` rule makes of a row: (new path, its route, the rules it adds).
Credited = tuple[str, str, tuple[str, ...]]


class HeaderRedaction:
    """Redacts the header lines and paths of a batch as the per-record code would."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        #: the credential values each distinct line of the last :meth:`redact` sends
        #: (:meth:`Redactor.sent_in_line <harness.capture.redact.Redactor.sent_in_line>`)
        self.sent: list[tuple[str, ...]] = []

    def redact(self, lines: HeaderLines) -> tuple[pa.Array, pa.Array]:
        """(names, values) of ``lines`` redacted; the rules are counted in the redactor."""
        self.sent = []
        if not len(lines):
            return lines.names, lines.values
        distinct = lines.distinct
        names = distinct.names.to_pylist()
        values = distinct.values.to_pylist()
        colons = (
            [True] * len(names) if distinct.has_colon is None else distinct.has_colon.to_pylist()
        )
        line = self._redactor.line
        sent_in = self._redactor.sent_in_line
        occurrences = np.bincount(
            lines.indices.to_numpy(zero_copy_only=False), minlength=len(names)
        ).tolist()
        tally: Counter[str] = Counter()
        changed = renamed = False
        new_names, new_values = list(names), list(values)
        sent: list[tuple[str, ...]] = [()] * len(names)
        for i, (name, value, colon, n) in enumerate(
            zip(names, values, colons, occurrences, strict=True)
        ):
            new_name, new_value, rules = line(name, value, colon)
            if rules:
                for rule in rules:
                    tally[rule] += n
                if colon:
                    sent[i] = sent_in(value, rules)
            if new_name != name or new_value != value:
                changed = True
                renamed = renamed or new_name != name
                new_names[i], new_values[i] = new_name, new_value
        self._redactor.counts.update(tally)
        self.sent = sent
        if not changed:
            return lines.names, lines.values
        # most changes are values only: the names column is taken anew when it must
        new = pa.array(new_names, pa.string()).take(lines.indices) if renamed else lines.names
        return new, pa.array(new_values, pa.string()).take(lines.indices)

    def redact_paths(
        self,
        paths: list[str],
        routes: list[str],
        templater: RouteTemplater,
        lines: HeaderLines | None = None,
    ) -> tuple[list[str], list[str]]:
        """``paths`` redacted, and the ``routes`` of the changed ones templated again with the
        placeholder where a secret was; rules counted. Unchanged lists are returned as they are.

        The rows are the next exchanges of the redactor's
        :attr:`~harness.capture.redact.Redactor.sent` (in order); their header lines are
        ``lines``, which :meth:`redact` saw last (``None``: none sends a credential).
        """
        redactor = self._redactor
        placeholder = templater.placeholder
        encoded = pa.array(paths, pa.string()).dictionary_encode()
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        distinct: list[str] = encoded.dictionary.to_pylist()
        entries = [redactor.path_entry(path) for path in distinct]
        occurrences = np.bincount(indices, minlength=len(entries)).tolist()
        tally: Counter[str] = Counter()
        for entry, n in zip(entries, occurrences, strict=True):
            for rule in entry.rules:
                tally[rule] += n
        credited = _Credited(redactor, templater, distinct, entries)
        line_sent = self.sent if lines is not None else []
        rows = credited.rows(redactor.sent, indices, lines, line_sent)
        changed_kinds = np.array([entry.new is not None for entry in entries], dtype=bool)
        if not changed_kinds.any() and not rows:
            redactor.counts.update(tally)
            return paths, routes
        new_paths, new_routes = list(paths), list(routes)
        if changed_kinds.any():
            changed = changed_kinds[indices]
            outcomes: dict[int, tuple[str, str]] = {}
            for i, row in zip(
                np.flatnonzero(changed).tolist(), indices[changed].tolist(), strict=True
            ):
                outcome = outcomes.get(row)
                if outcome is None:
                    new = entries[row].new
                    assert new is not None
                    route = templater.route(secret_segments_as(distinct[row], new, placeholder))
                    outcome = outcomes[row] = (new, route)
                new_paths[i], new_routes[i] = outcome
        for i, (new, route, more) in rows.items():
            new_paths[i], new_routes[i] = new, route
            tally.update(more)
        redactor.counts.update(tally)
        return new_paths, new_routes


class _Credited:
    """The rows of a batch whose path holds a credential sent in it or before it (rule
    ``path-credential``): the batch form of
    :meth:`Redactor.exchange_path <harness.capture.redact.Redactor.exchange_path>`."""

    def __init__(
        self,
        redactor: Redactor,
        templater: RouteTemplater,
        distinct: list[str],
        entries: list[PathEntry],
    ) -> None:
        self._redactor = redactor
        self._templater = templater
        self._distinct = distinct
        self._entries = entries
        self._outcomes: dict[tuple[int, tuple[Unit, ...]], Credited] = {}

    def rows(
        self,
        memory: SentCredentials,
        indices: np.ndarray,
        lines: HeaderLines | None,
        line_sent: Sequence[tuple[str, ...]],
    ) -> dict[int, Credited]:
        """The rows that ``path-credential`` changes, with what it makes of them; brings
        ``memory`` past the rows (``indices``: the distinct path of each row)."""
        entries = self._entries
        n = len(indices)
        # who sends what: header lines (by distinct line) and query strings (by distinct path)
        sources: list[tuple[np.ndarray, np.ndarray, Sequence[tuple[str, ...]]]] = []
        senders: list[tuple[str, ...]] = []  # the values of each sender
        sending = [i for i, sent in enumerate(line_sent) if sent]
        if sending and lines is not None:
            senders += (line_sent[i] for i in sending)
            line_indices = lines.indices.to_numpy(zero_copy_only=False)
            where = np.zeros(len(line_sent), dtype=bool)
            where[sending] = True
            at = np.flatnonzero(where[line_indices])
            at_rows = np.searchsorted(lines.offsets.to_numpy(), at, side="right") - 1
            sources.append((at_rows, line_indices[at], line_sent))
        querying = [p for p, entry in enumerate(entries) if entry.sent]
        if querying:
            path_sent = [entry.sent for entry in entries]
            senders += (path_sent[p] for p in querying)
            where = np.zeros(len(entries), dtype=bool)
            where[querying] = True
            at_rows = np.flatnonzero(where[indices])
            sources.append((at_rows, indices[at_rows], path_sent))
        if not senders and not memory.last:
            memory.advance({}, n)
            return {}
        # the distinct paths with a part that may be a credential: their rows, in order
        candidates: dict[int, tuple[Unit, ...]] = {}
        if any(entry.units for entry in entries):
            values = set().union(*senders)
            known = memory.last
            for p, entry in enumerate(entries):
                if entry.units:
                    units = tuple(u for u in entry.units if u[3] in values or u[3] in known)
                    if units:
                        candidates[p] = units
        rows_of: dict[int, np.ndarray] = {}
        if candidates:
            order = np.argsort(indices, kind="stable")  # the rows of each path, in order
            ends = np.cumsum(np.bincount(indices, minlength=len(entries))).tolist()
            for p in candidates:
                rows_of[p] = order[(ends[p - 1] if p else 0) : ends[p]]
        # forgetting runs every memory.sweep exchanges; when it may drop values over the
        # limit, each run must see exactly the values sent before it: the rows go in ranges
        base = memory.exchanges
        cuts = [0]
        if n > memory.window or memory.may_overflow(sum(map(len, senders))):
            boundary = memory.next_sweep(base)
            while boundary < base + n:
                cuts.append(boundary - base)
                boundary += memory.sweep
        cuts.append(n)
        out: dict[int, Credited] = {}
        for a, c in pairwise(cuts):
            first, last = _sent_in_range(sources, a, c, n, base, bool(candidates))
            if candidates:
                self._look_up(memory, candidates, rows_of, first, a, c, out)
            memory.advance(last, c - a)
        return out

    def _look_up(  # noqa: PLR0917 - one call per range of rows
        self,
        memory: SentCredentials,
        candidates: dict[int, tuple[Unit, ...]],
        rows_of: dict[int, np.ndarray],
        first: dict[str, int],
        a: int,
        c: int,
        out: dict[int, Credited],
    ) -> None:
        """The rows ``a`` to ``c`` (exclusive) whose path holds a known credential, into
        ``out``: a value is known in row ``r`` when a row of the range up to ``r`` sends it,
        or, as :meth:`SentCredentials.knows` says, it was sent before the range."""
        known = memory.last
        window = memory.window
        base = memory.exchanges  # the number of row a
        for p, units in candidates.items():
            rows = rows_of[p]
            lo, hi = np.searchsorted(rows, [a, c]).tolist()
            for r in rows[lo:hi].tolist():
                n = base + r - a
                found = tuple(
                    unit
                    for unit in units
                    if first.get(unit[3], c) <= r
                    or ((sent := known.get(unit[3])) is not None and n - sent <= window)
                )
                if found:
                    out[r] = self._outcome(p, found)

    def _outcome(self, p: int, units: tuple[Unit, ...]) -> Credited:
        key = (p, units)
        outcome = self._outcomes.get(key)
        if outcome is None:
            entry = self._entries[p]
            path = self._distinct[p]
            new, more = self._redactor.credential_path(
                path if entry.new is None else entry.new, units
            )
            templater = self._templater
            route = templater.route(secret_segments_as(path, new, templater.placeholder))
            outcome = self._outcomes[key] = (new, route, more)
        return outcome


def _sent_in_range(  # noqa: PLR0917 - one call per range of rows
    sources: list[tuple[np.ndarray, np.ndarray, Sequence[tuple[str, ...]]]],
    a: int,
    c: int,
    n: int,
    base: int,
    firsts: bool,
) -> tuple[dict[str, int], dict[str, int]]:
    """(first row, number of the last exchange) that sends each value among rows ``a`` to
    ``c`` (exclusive; row 0 is exchange ``base``); the first rows only if ``firsts``.
    ``sources``: (rows in order, the sender of each, the values of each sender)."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for all_rows, all_senders, sent in sources:
        rows, senders = all_rows, all_senders
        if a or c < n:
            lo, hi = np.searchsorted(all_rows, [a, c]).tolist()
            rows, senders = all_rows[lo:hi], all_senders[lo:hi]
        if not len(rows):
            continue
        latest = np.full(len(sent), -1, dtype=np.int64)
        np.maximum.at(latest, senders, rows)
        present = np.flatnonzero(latest >= 0)
        for i, number in zip(present.tolist(), (latest[present] + base).tolist(), strict=True):
            for value in sent[i]:
                if last.get(value, -1) < number:
                    last[value] = number
        if firsts:
            earliest = np.full(len(sent), n, dtype=np.int64)
            np.minimum.at(earliest, senders, rows)
            for i, row in zip(present.tolist(), earliest[present].tolist(), strict=True):
                for value in sent[i]:
                    if first.get(value, n) > row:
                        first[value] = row
    return first, last
