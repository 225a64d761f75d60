"""Credential values a capture sent, remembered for a while (the ``path-credential`` rule).

A value that an exchange sends **as a credential** is a secret wherever it appears: a
redactor gives it the same pseudonym in a path segment as in the header, cookie or query field
that sent it (:mod:`harness.capture.urlsecrets`), even when the segment reads like a word
(``/tokens/abcdefgh``) and no other path rule would take it. What counts as sent:

- the values the credential rules replace one by one: ``Authorization`` and
  ``Proxy-Authorization`` credentials (the token after the scheme; user and password of
  ``Basic``; each parameter of a list), every ``Cookie`` and ``Set-Cookie`` value, the value of
  an API-key header and of a header taken as a random token (rules ``authorization``,
  ``cookie``, ``set-cookie``, ``api-key``, ``header-entropy``);
- values under a secret name in the request's own query string or fragment
  (``?access_token=...``);

and of those only values a path can hold without absurd replacements
(:func:`remembered`): at least :data:`MIN_LENGTH` characters (so ``lang=en``, ``theme=dark`` or
``pin=1234`` never replace a segment), and not a number of up to 10 digits (a row id, as the
``path-token`` rule also keeps it). Body fields, URLs in headers (``Referer``) and user info do
not count.

**How long.** A value is known in the exchange that sends it (its own path included) and in
the :data:`WINDOW` exchanges after the last exchange that sent it: a session's token stays
known while the session is active. Every :data:`SWEEP` exchanges the values past
that window are forgotten, and if more than :data:`LIMIT` remain, only the ``LIMIT // 2`` most
recently sent are kept: memory stays bounded on a capture of millions of requests.

The memory is defined exchange by exchange (:meth:`SentCredentials.open`,
:meth:`~SentCredentials.knows`, :meth:`~SentCredentials.close`: the per-record path); the batch
path (:mod:`harness.capture.redact_batch`) brings it forward a range of rows at a time
(:meth:`~SentCredentials.advance`) and gets the same answers, because forgetting happens only
at fixed exchange numbers and is decided by the numbers of the last exchanges that sent each
value, never by the order of work within a range.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from operator import itemgetter

from harness.capture import credentials
from harness.capture.credentials import Secret

#: Shortest value remembered: as for a free value a session link follows
#: (:data:`harness.capture.linkvalues.MIN_FREE_LENGTH`); a token generator that draws
#: 8 characters draws at least 8.
MIN_LENGTH = 8
#: Exchanges after the last exchange that sent a value in which it is still known.
WINDOW = 16_384
#: Exchanges between two sweeps of the values past the window.
SWEEP = 1024
#: Values kept at most after a sweep (a sweep that finds more keeps the newest half).
LIMIT = 65_536

#: Longest number taken as a row id (as the ``path-token`` rule takes it).
_ROW_ID_DIGITS = 10


def remembered(value: str) -> bool:
    """Whether a credential value is one a path segment is compared with (see the module
    docstring): :data:`MIN_LENGTH` characters or more, and not a row id."""
    n = len(value)
    return n >= MIN_LENGTH and not (n <= _ROW_ID_DIGITS and value.isdigit() and value.isascii())


class SentCredentials:
    """The credential values recently sent in one capture, with the exchange that last sent
    each (see the module docstring)."""

    def __init__(self, window: int = WINDOW, sweep: int = SWEEP, limit: int = LIMIT) -> None:
        if not 0 < sweep <= window:
            raise ValueError("a sweep must come at least once per window")
        self.window = window
        self.sweep = sweep
        self.limit = limit
        #: value -> number of the last exchange that sent it, oldest first
        self.last: OrderedDict[str, int] = OrderedDict()
        #: number of the next exchange (exchanges closed so far)
        self.exchanges = 0

    def __len__(self) -> int:
        return len(self.last)

    def open(self, *values: Iterable[str]) -> int:
        """Start the next exchange: note the values it sends (each already
        :func:`remembered`); returns its number (for :meth:`knows`)."""
        n = self.exchanges
        last = self.last
        for group in values:
            for value in group:
                last.pop(value, None)
                last[value] = n
        return n

    def knows(self, value: str, n: int) -> bool:
        """Whether ``value`` counts as a credential in exchange ``n`` (the one open)."""
        sent = self.last.get(value)
        return sent is not None and n - sent <= self.window

    def close(self) -> None:
        """End the exchange that :meth:`open` started."""
        self.advance({}, 1)

    def advance(self, last: Mapping[str, int], count: int) -> None:
        """Bring the memory past ``count`` exchanges at once: ``last`` maps each value they
        sent to the number of the last of them that sent it.

        The same as :meth:`open` and :meth:`close` for each of them as long as no sweep
        among them drops values over :data:`LIMIT` (:meth:`may_overflow`); a caller that
        cannot rule that out advances up to each sweep in turn (:meth:`next_sweep`).
        """
        before = self.exchanges
        known = self.last
        for value, n in sorted(last.items(), key=itemgetter(1)):
            known.pop(value, None)
            known[value] = n
        self.exchanges = now = before + count
        boundary = now - now % self.sweep
        if boundary > before:
            self._sweep(boundary)

    def next_sweep(self, after: int) -> int:
        """The number of exchanges closed when the first sweep after ``after`` runs."""
        return after - after % self.sweep + self.sweep

    def may_overflow(self, new: int) -> bool:
        """Whether a sweep could find more than :data:`LIMIT` values if ``new`` values that
        are not known yet were sent before it."""
        return len(self.last) + new > self.limit

    def _sweep(self, boundary: int) -> None:
        # a value last sent at or before the horizon is known to no exchange from here on
        horizon = boundary - self.window - 1
        last = self.last
        while last and next(iter(last.values())) <= horizon:
            last.popitem(last=False)
        if len(last) > self.limit:
            # the newest half; ties in a fixed order (the same whatever order they came in)
            newest = sorted(last.items(), key=_number_and_value)[-(self.limit // 2) :]
            self.last = OrderedDict(newest)


def _number_and_value(item: tuple[str, int]) -> tuple[int, str]:
    return item[1], item[0]


def credential_values(rule: str, value: str) -> list[str]:
    """The parts of credential ``value`` that rule ``rule`` replaces one by one (each cookie
    value, the token after an auth scheme, user and password of ``Basic``, ...), those
    :func:`remembered`: the values whose pseudonyms the header or field gets."""
    return replace_credential(rule, value, _same)[1]


def replace_credential(rule: str, value: str, secret: Secret) -> tuple[str, list[str]]:
    """(``value`` with each part that rule ``rule`` replaces replaced by ``secret``, the
    parts :func:`remembered`): ``cookie`` and ``set-cookie`` by
    :mod:`~harness.capture.credentials`' cookie functions, any other rule as credentials
    after an optional auth scheme (``authorization``, ``api-key``, ``header-entropy``,
    ``secret-field``)."""
    found: list[str] = []

    def note(raw: str) -> str:
        if remembered(raw):
            found.append(raw)
        return secret(raw)

    if rule == "cookie":
        new = credentials.cookies(value, note)
    elif rule == "set-cookie":
        new = credentials.set_cookie(value, note)
    else:
        new = credentials.credentials(value, note)
    return new, found


def _same(raw: str) -> str:
    return raw
