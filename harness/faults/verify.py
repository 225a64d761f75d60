"""Checks that a fault really took effect, measured from the client side of the proxy.

- ``down``: a connect to the proxy's listen address is accepted and then cut (reset or closed)
  before a PostgreSQL ``SSLRequest`` gets an answer; reverted: the request is answered again.
  With ``refuse: true`` (the proxy disabled): a connect is refused; reverted: accepted.
- ``partition``: a connect succeeds, but a PostgreSQL ``SSLRequest`` gets no answer in 300 ms.
- ``latency``: the round trip of an ``SSLRequest`` through the proxy to the database (the
  server answers one byte, ``N`` or ``S``: a cheap real round trip) is measured and compared with
  the latency asked for.
- every other toxic: it is listed on the proxy.

Each check opens at most one connection through the proxy (toxiproxy logs it as accepted, so
the ``accepted_connections`` probe counts it too: one per check, next to a run's thousands).
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass

#: A PostgreSQL SSLRequest: length 8, code 80877103. Any PostgreSQL server answers one byte.
SSL_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x2f"

Address = tuple[str, int]


@dataclass(frozen=True)
class Verification:
    """The result of one check, as recorded in the event's ``verified``."""

    check: str
    ok: bool
    detail: str
    measured_ms: float | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"check": self.check, "ok": self.ok, "detail": self.detail}
        if self.measured_ms is not None:
            out["measured_ms"] = round(self.measured_ms, 3)
        return out


def parse_listen(listen: str, fallback_host: str = "127.0.0.1") -> Address:
    """``"127.0.0.1:21001"`` -> ``("127.0.0.1", 21001)``; a wildcard host becomes
    ``fallback_host`` (the toxiproxy server's host)."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = fallback_host
    return host, int(port)


def connect_refused(address: Address, within_s: float = 1.0) -> Verification:
    """Ok when a connect to ``address`` is refused (retried for ``within_s``)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            with socket.create_connection(address, timeout=1.0):
                pass
        except ConnectionRefusedError:
            return Verification("connect_refused", True, f"connect to {_fmt(address)} refused")
        except OSError as exc:
            return Verification("connect_refused", False, f"{_fmt(address)}: {exc}")
        if time.monotonic() >= deadline:
            return Verification(
                "connect_refused", False, f"connect to {_fmt(address)} still accepted"
            )
        time.sleep(0.05)


def connect_accepted(address: Address, within_s: float = 1.0) -> Verification:
    """Ok when a connect to ``address`` succeeds (retried for ``within_s``)."""
    deadline = time.monotonic() + within_s
    error: OSError | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(address, timeout=1.0):
                return Verification("connect_accepted", True, f"connect to {_fmt(address)} ok")
        except OSError as exc:
            error = exc
            time.sleep(0.05)
    return Verification("connect_accepted", False, f"{_fmt(address)}: {error}")


def connect_cut(address: Address, within_s: float = 1.0) -> Verification:
    """Ok when a connect to ``address`` is accepted and cut before an ``SSLRequest`` is answered.

    That is a dead database seen through a proxy that still accepts: the client's attempt is
    made (and counted) but fails at once. Retried for ``within_s`` (a refused connect while the
    proxy restarts its listener is not the end state).
    """
    deadline = time.monotonic() + within_s
    detail = ""
    while True:
        outcome = _ask(address, timeout_s=within_s)
        if outcome in ("closed", "reset"):
            return Verification("connect_cut", True, f"connect to {_fmt(address)} {outcome}")
        detail = f"{_fmt(address)}: {outcome}"
        if time.monotonic() >= deadline:
            return Verification("connect_cut", False, detail)
        time.sleep(0.05)


def answered(address: Address, within_s: float = 1.0) -> Verification:
    """Ok when an ``SSLRequest`` through ``address`` gets its one-byte answer (retried)."""
    deadline = time.monotonic() + within_s
    while True:
        outcome = _ask(address, timeout_s=within_s)
        if outcome == "answered":
            return Verification("answered", True, f"{_fmt(address)} answered")
        if time.monotonic() >= deadline:
            return Verification("answered", False, f"{_fmt(address)}: {outcome}")
        time.sleep(0.05)


def _ask(address: Address, timeout_s: float) -> str:
    """``answered``, ``closed``, ``reset``, ``refused``, ``no answer`` or an error's text."""
    try:
        conn = socket.create_connection(address, timeout=timeout_s)
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        return f"connect failed: {exc}"
    try:
        conn.settimeout(timeout_s)
        conn.sendall(SSL_REQUEST)
        return "answered" if conn.recv(1) else "closed"
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return "no answer"
    except OSError as exc:
        return str(exc)
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def no_answer(address: Address, wait_s: float = 0.3) -> Verification:
    """Ok when a connect succeeds but an ``SSLRequest`` gets no answer within ``wait_s``."""
    try:
        conn = socket.create_connection(address, timeout=1.0)
    except OSError as exc:
        return Verification("no_answer", False, f"connect to {_fmt(address)} failed: {exc}")
    started = time.monotonic()
    try:
        conn.settimeout(wait_s)
        conn.sendall(SSL_REQUEST)
        data = conn.recv(1)
    except TimeoutError:
        waited = (time.monotonic() - started) * 1000
        return Verification(
            "no_answer", True, f"connected; no answer in {waited:.0f} ms", measured_ms=waited
        )
    except OSError as exc:
        return Verification("no_answer", False, f"{_fmt(address)}: {exc}")
    finally:
        with contextlib.suppress(OSError):
            conn.close()
    got = f"answer {data!r}" if data else "the connection was closed"
    return Verification("no_answer", False, f"{_fmt(address)}: {got}")


def round_trip_ms(address: Address, timeout_s: float = 5.0) -> float:
    """Milliseconds from sending an ``SSLRequest`` to its one-byte answer (connect excluded).

    Raises ``OSError`` (``TimeoutError`` included) when there is no answer.
    """
    with socket.create_connection(address, timeout=timeout_s) as conn:
        conn.settimeout(timeout_s)
        started = time.perf_counter()
        conn.sendall(SSL_REQUEST)
        data = conn.recv(1)
        elapsed = (time.perf_counter() - started) * 1000
    if not data:
        raise ConnectionResetError(f"{_fmt(address)} closed the connection without an answer")
    return elapsed


def latency_added(
    address: Address, expected_ms: float, *, before_ms: float | None, toxicity: float = 1.0
) -> Verification:
    """Measure a round trip through the proxy; ok when it is at least ~``expected_ms``.

    ``before_ms`` (the round trip measured before the fault) is recorded for comparison. With
    ``toxicity < 1`` a single connection may be spared, so a short round trip is not a failure.
    """
    try:
        measured = round_trip_ms(address, timeout_s=max(1.0, expected_ms / 1000 * 2))
    except OSError as exc:
        return Verification("round_trip", False, f"{_fmt(address)}: no round trip: {exc}")
    before = f", {before_ms:.1f} ms before" if before_ms is not None else ""
    detail = f"round trip {measured:.1f} ms (expected >= {expected_ms:.0f} ms{before})"
    ok = measured >= expected_ms * 0.8 or toxicity < 1.0
    return Verification("round_trip", ok, detail, measured_ms=measured)


def toxics_listed(proxy: str, present: set[str], wanted: set[str]) -> Verification:
    """Ok when every toxic in ``wanted`` is listed on ``proxy``."""
    missing = wanted - present
    if missing:
        return Verification("toxic_listed", False, f"{proxy}: missing {sorted(missing)}")
    return Verification("toxic_listed", True, f"{proxy}: {', '.join(sorted(wanted))} listed")


def toxics_gone(proxy: str, present: set[str], removed: set[str]) -> Verification:
    """Ok when none of ``removed`` is still listed on ``proxy``."""
    left = removed & present
    if left:
        return Verification("toxic_removed", False, f"{proxy}: still listed {sorted(left)}")
    return Verification("toxic_removed", True, f"{proxy}: {', '.join(sorted(removed))} removed")


def _fmt(address: Address) -> str:
    return f"{address[0]}:{address[1]}"
