"""The in-memory form of one captured HTTP exchange, and the tally of records that were skipped.

Readers (:mod:`~harness.capture.gor`, :mod:`~harness.capture.mitm`, :mod:`~harness.capture.har`)
turn their input into :class:`Exchange` objects in (nearly) timestamp order. A record that cannot
be used is never dropped silently: the reader adds it to a :class:`SkipLog` with a reason, and the
reason counts end up in the capture file's metadata.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.capture.response import Response

#: Skip reasons shared by several readers (one place, so the counts line up across formats).
SKIP_BAD_HEADER = "bad record header"
SKIP_BAD_REQUEST_LINE = "invalid request line"
SKIP_ORPHAN_RESPONSE = "response without request"
SKIP_REPLAYED_RESPONSE = "replayed response (type 3)"
SKIP_TRUNCATED = "truncated input"
SKIP_WEBSOCKET_MESSAGE = "websocket message"
SKIP_TCP_FLOW = "tcp flow"
SKIP_UDP_FLOW = "udp flow"
SKIP_DNS_FLOW = "dns flow"
SKIP_OTHER_FLOW = "other flow type"
SKIP_NO_REQUEST = "har entry without request"

#: How many example locations (``file:record``) are kept per reason.
EXAMPLES_PER_REASON = 5


@dataclass(slots=True)
class Exchange:
    """One HTTP request, with what was captured of its original response.

    ``head`` holds the header lines in wire order, ``Name: value`` joined by ``\\n`` (a line may
    keep the ``\\r`` it had on the wire; decoded as latin-1, as HTTP/1.1 allows). One string
    instead of a list of pairs keeps the per-record cost low; the capture writer splits it into
    name/value pairs a whole batch at a time.
    ``path`` includes the query string; ``client`` is the client address when the format has one;
    ``conn`` is a connection or record key the format offers (GoReplay id) for session fallback.
    ``orig_body_sha256`` hashes the response body as recorded: the bytes on the wire for GoReplay
    and mitmproxy (still content-encoded), the text a HAR exporter stored (usually decoded);
    redaction keys it (:mod:`harness.capture.bodyhash`) before the row is written.
    ``response`` is that response itself while the import learns from it; it is not stored.
    """

    ts_ns: int
    method: str
    scheme: str
    host: str
    path: str
    http_version: str
    head: str
    body: bytes
    source: str
    client: str | None = None
    conn: str | None = None
    orig_status: int | None = None
    orig_latency_ns: int | None = None
    orig_body_sha256: str | None = None
    session: str = ""
    route: str = ""
    #: route template of the captured response's ``Location`` (redirects), else ``None``
    orig_location_route: str | None = None
    #: session links whose value this request sends: dicts with the fields of
    #: :data:`harness.capture.schema.LINK_TYPE` (``src_idx``, ``src``, ``dst``, ``value``,
    #: ``encoding``, ``kind``); ``None`` when there are none
    links: list[dict[str, object]] | None = None
    #: the original response as captured, for the link learner only (never stored)
    response: Response | None = None


@dataclass
class SkipLog:
    """Records that could not be used: a count per reason and a few ``file:record`` examples."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, where: str, n: int = 1) -> None:
        """Count ``n`` records skipped for ``reason``; ``where`` is ``file:record``."""
        self.counts[reason] += n
        seen = self.examples.setdefault(reason, [])
        if len(seen) < EXAMPLES_PER_REASON:
            seen.append(where)

    @property
    def total(self) -> int:
        """All skipped records."""
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line: ``reason xN (file:record, ...); ...``."""
        parts = [
            f"{reason} x{n} ({', '.join(self.examples.get(reason, []))})"
            for reason, n in self.counts.most_common()
        ]
        return "; ".join(parts) if parts else "nothing skipped"


def join_headers(pairs: Iterable[tuple[str, str]]) -> str:
    """The ``head`` text of header pairs (line breaks inside values become spaces)."""
    return "\n".join(
        f"{name}: {value}".replace("\r", " ").replace("\n", " ") for name, value in pairs
    )


def split_headers(head: str) -> list[tuple[str, str]]:
    """Header pairs of a ``head`` text (the inverse of :func:`join_headers`)."""
    pairs = []
    for line in head.split("\n") if head else ():
        name, _, value = line.partition(":")
        pairs.append((name, value.strip(" \t\r")))
    return pairs


def header_value(head: str, name: str) -> str | None:
    """The value of the first header ``name`` (case-insensitive) in ``head``, or ``None``."""
    low = "\n" + head.lower()
    key = "\n" + name.lower() + ":"
    start = low.find(key)
    if start < 0:
        return None
    end = low.find("\n", start + 1)
    # low is head with one leading character more: positions shift by one
    return head[start + len(key) - 1 : None if end < 0 else end - 1].strip(" \t\r")
