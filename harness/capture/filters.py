"""Filters (which records are kept) and transforms (how kept records change) of an import.

Every dropped record is counted by reason (``method``, ``route``, ``time window``, ``sample``);
these counts go to the capture metadata next to the skipped ones. Sampling is consistent: it
keeps or drops whole sessions by their hash, so a kept client keeps all its requests.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter

from harness.capture.config import FilterConfig
from harness.capture.record import Exchange, join_headers, split_headers

_NS = 1_000_000_000


class Filters:
    """Decides per record; ``counts`` says how many were dropped, by reason."""

    def __init__(self, config: FilterConfig | None = None) -> None:
        c = config or FilterConfig()
        self.config = c
        self.counts: Counter[str] = Counter()
        self._allow_methods = frozenset(m.upper() for m in c.methods)
        self._deny_methods = frozenset(m.upper() for m in c.deny_methods)
        self._allow_routes = _globs(c.routes)
        self._deny_routes = _globs(c.deny_routes)
        self._since = None if c.since_s is None else int(c.since_s * _NS)
        self._until = None if c.until_s is None else int(c.until_s * _NS)
        self._sample = int(c.sample * (1 << 32))
        self._remove = frozenset(h.lower() for h in c.remove_headers) | {
            h.lower() for h in c.set_headers
        }
        if c.host is not None:
            self._remove |= {"host"}
        self._active = c != FilterConfig()

    def keep(self, exchange: Exchange, since_first_ns: int) -> bool:
        """Whether ``exchange`` (``since_first_ns`` after the first request read) is kept."""
        if not self._active:
            return True
        reason = self._drop_reason(exchange, since_first_ns)
        if reason is None:
            return True
        self.counts[reason] += 1
        return False

    def _drop_reason(self, exchange: Exchange, since_first_ns: int) -> str | None:
        method = exchange.method
        if (self._allow_methods and method not in self._allow_methods) or (
            method in self._deny_methods
        ):
            return "method"
        route = exchange.route
        if (self._allow_routes is not None and not self._allow_routes.match(route)) or (
            self._deny_routes is not None and self._deny_routes.match(route)
        ):
            return "route"
        if (self._since is not None and since_first_ns < self._since) or (
            self._until is not None and since_first_ns > self._until
        ):
            return "time window"
        if self._sample < (1 << 32) and int(exchange.session[:8], 16) >= self._sample:
            return "sample"
        return None

    def transform(self, exchange: Exchange) -> None:
        """Remove and set headers, rewrite the host."""
        c = self.config
        if not self._active or not (self._remove or c.set_headers):
            return
        kept = [
            (n, v) for n, v in split_headers(exchange.head) if n.strip().lower() not in self._remove
        ]
        if c.host is not None:
            exchange.host = c.host
            kept.insert(0, ("Host", c.host))
        kept.extend(c.set_headers.items())
        exchange.head = join_headers(kept)


def _globs(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))
