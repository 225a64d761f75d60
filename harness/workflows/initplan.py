"""What ``harness init`` proposes from a capture: name, health path, independent routes, timing.

Everything here reads the capture (streaming its few small columns) and decides; nothing is
written. The proposals are what a user would pick after reading ``capture inspect``:

- the **health path**: a GET route named like one (``/health``, ``/healthz``, ``/ready``...)
  that answered 2xx in the capture, else the busiest GET route without a parameter that did;
- **independent routes** (they must keep working while the database is down, the cascade
  gate's routes): health and liveness routes, ``/metrics``, and static files, among those the
  capture has; the user confirms them (``harness init`` asks, or takes ``--independent-route``);
- the **timing** of the ``db-kill`` scenario: the capture at its own pace (production's rate),
  cut at 90 s, the database down from 30 % of the run for 25 % of it (at least 5 s), at least
  22 s after it (a 10 s recovery phase, 12 s after that); a capture shorter than that is
  looped. Where the capture's rate (or that of its independent routes) puts fewer than 45
  requests in a phase, the fault (up to 30 s, where that holds 30), the time before it and the
  run grow until it holds them, looped past the capture's end: a gate needs 30 a side to pass,
  and with fewer even an unchanged build is "inconclusive"; init warns when the fault still
  holds fewer.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc

from harness.analysis.gates import MIN_SAMPLES
from harness.capture.store import capture_metadata, iter_capture

#: Paths that are health or liveness checks, most specific first.
HEALTH_NAMES: tuple[str, ...] = (
    "/health",
    "/healthz",
    "/health/live",
    "/health/ready",
    "/livez",
    "/readyz",
    "/ready",
    "/live",
    "/ping",
    "/status",
    "/_health",
    "/api/health",
    "/api/healthz",
    "/api/ping",
)
_HEALTHISH = re.compile(
    r"(^|/)(health|healthz|healthcheck|livez?|readyz?|liveness|readiness|ping|metrics|version)$"
)
_STATIC = re.compile(
    r"\.(css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|woff2?|ttf|eot|txt|html?)$", re.IGNORECASE
)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_RUN_S = 90.0
MIN_RUN_S = 30.0
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class CaptureFacts:
    """What ``harness init`` needs to know of a capture."""

    path: Path
    requests: int
    duration_s: float
    hosts: Counter[str] = field(default_factory=Counter)
    #: (method, route) -> requests, and how many of them answered 2xx in the capture
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    ok: Counter[tuple[str, str]] = field(default_factory=Counter)
    routes: list[str] = field(default_factory=list)
    learned: list[str] = field(default_factory=list)

    @property
    def loopback(self) -> bool:
        """Whether the traffic was recorded against a loopback host (as the targets are)."""
        host = _hostname(self.hosts.most_common(1)[0][0]) if self.hosts else ""
        return host in _LOOPBACK or host.startswith("127.")

    def get_ok(self) -> list[str]:
        """GET routes that answered 2xx at least once, busiest first."""
        return [r for (m, r), n in self.ok.most_common() if m == "GET" and n > 0]


def read_facts(path: Path) -> CaptureFacts:
    """Read the facts of the capture file ``path`` (raises ``CaptureError`` if it is not one)."""
    meta = capture_metadata(path)
    facts = CaptureFacts(path=path, requests=0, duration_s=0.0)
    last = 0
    routes: set[str] = set()
    for batch in iter_capture(path, ["offset_ns", "host", "method", "route", "orig_status"]):
        facts.requests += batch.num_rows
        last = max(last, pc.max(batch.column("offset_ns")).as_py() or 0)
        for item in pc.value_counts(batch.column("host")).to_pylist():
            facts.hosts[item["values"]] += item["counts"]
        methods = batch.column("method").to_pylist()
        route_values = batch.column("route").to_pylist()
        statuses = batch.column("orig_status").to_pylist()
        for method, route, status in zip(methods, route_values, statuses, strict=True):
            facts.calls[(method, route)] += 1
            if status is not None and 200 <= status < 300:
                facts.ok[(method, route)] += 1
            routes.add(route)
    facts.duration_s = last / 1e9
    facts.routes = sorted(routes)
    facts.learned = [r.template for r in meta.learned_routes]
    return facts


def propose_health(facts: CaptureFacts) -> str | None:
    """The health path to check targets with (None when the capture suggests none)."""
    answered = facts.get_ok()
    for name in HEALTH_NAMES:
        if name in answered:
            return name
    plain = [r for r in answered if "{" not in r]
    return plain[0] if plain else None


def propose_independent(facts: CaptureFacts) -> list[str]:
    """Routes that should keep working while the database is down (for the user to confirm)."""
    found = []
    for route in sorted({r for (m, r) in facts.calls if m == "GET"}):
        if "{" in route:
            continue
        if _HEALTHISH.search(route) or _STATIC.search(route):
            found.append(route)
    return found


def propose_name(facts: CaptureFacts, fallback: str) -> str:
    """A stack name: the first label of the traffic's host name (not an address), else
    ``fallback``."""
    host = _hostname(facts.hosts.most_common(1)[0][0]) if facts.hosts else ""
    named = host and not host[0].isdigit() and ":" not in host and host not in _LOOPBACK
    return safe_name(host.split(".")[0] if named else fallback)


def _hostname(host: str) -> str:
    """``api.example.com:8080`` -> ``api.example.com``; ``[::1]:80`` -> ``::1``."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def safe_name(text: str) -> str:
    """``text`` as a stack name (letters, digits, ``_.-``; 40 characters at most)."""
    name = _NAME.sub("-", text).strip("-._")[:40].lower()
    return name if name and name[0].isalnum() else f"service-{name}".strip("-")


@dataclass(frozen=True)
class Timing:
    """How the db-kill scenario replays the capture and when the database dies."""

    speed: float
    duration_s: float
    fault_at_s: float
    fault_for_s: float
    loop: bool = False


#: Requests a phase should hold a side: the gates' default ``min_samples`` (30) and half again,
#: as the edges of a fault (its apply and revert take a moment) cut some off.
PHASE_REQUESTS = MIN_SAMPLES * 3 // 2
#: Longest fault ``harness init`` proposes to reach :data:`PHASE_REQUESTS` on sparse routes.
MAX_FAULT_S = 30.0
#: Seconds after the fault: the recovery phase (the recovery-time gate's 10 s) and 12 s `after`
#: it, as the bundled db-kill scenario has. Database counters are dated late (a backend
#: publishes them a second or more after the fact, an idle one later), which an `after` phase of
#: a few seconds cannot absorb: a 3 s one made an unchanged build's attempts look doubled.
TAIL_S = 22.0


def propose_timing(
    duration_s: float, rate: float = 0.0, independent_rate: float | None = None
) -> Timing:
    """The capture at its own pace (production's rate), cut at :data:`MAX_RUN_S`; the database
    down from 30 % of the run for 25 % of it (at least 5 s).

    A capture shorter than :data:`MIN_RUN_S` is looped: a fault needs traffic before, during
    and after it. With the capture's request ``rate`` and the rate of its
    independent routes (requests a second), the phases are made long enough to hold
    :data:`PHASE_REQUESTS` requests each, or ``min_samples`` in a fault of :data:`MAX_FAULT_S`
    (routes sparser than that leave the fault as it was): a gate with fewer than
    ``min_samples`` requests in a phase can fail a build on exact evidence but not pass it, so a
    shorter fault leaves even an unchanged build "inconclusive". At least :data:`TAIL_S`
    follow the fault. The run then grows past the capture, looped.
    """
    if duration_s < MIN_RUN_S:
        base = Timing(speed=1.0, duration_s=MIN_RUN_S, fault_at_s=9.0, fault_for_s=8.0, loop=True)
    else:
        run_s = float(int(min(duration_s, MAX_RUN_S)))
        base = Timing(
            speed=1.0,
            duration_s=run_s,
            fault_at_s=float(round(run_s * 0.3)),
            fault_for_s=float(max(5, round(run_s * 0.25))),
        )
    fault_at, fault_for = base.fault_at_s, base.fault_for_s
    sparsest = min((r for r in (rate, independent_rate) if r and r > 0), default=0.0)
    if sparsest > 0:
        fault_for = float(math.ceil(PHASE_REQUESTS / sparsest))
        if fault_for > MAX_FAULT_S:
            # the longest fault proposed, where it makes a pass possible at all; else no use
            fault_for = MAX_FAULT_S if sparsest * MAX_FAULT_S >= MIN_SAMPLES else 0.0
        fault_for = max(fault_for, base.fault_for_s)
        if rate > 0:
            fault_at = max(base.fault_at_s, float(math.ceil(PHASE_REQUESTS / rate)))
    # the time after the fault shrinks first (not below TAIL_S) to keep within MAX_RUN_S
    after = base.duration_s - base.fault_at_s - base.fault_for_s
    tail = max(min(after, MAX_RUN_S - fault_at - fault_for), TAIL_S)
    run_s = fault_at + fault_for + tail
    return Timing(
        speed=1.0,
        duration_s=run_s,
        fault_at_s=fault_at,
        fault_for_s=fault_for,
        loop=base.loop or run_s > duration_s,
    )


def phase_rates(facts: CaptureFacts, independent: list[str]) -> tuple[float, float | None]:
    """Requests a second in the capture: all of them, and those of the ``independent`` routes
    (``None`` without any)."""
    if facts.duration_s <= 0:
        return 0.0, None
    wanted = set(independent)
    share = sum(n for (_, route), n in facts.calls.items() if route in wanted)
    rate = facts.requests / facts.duration_s
    return rate, (share / facts.duration_s if wanted else None)


def thin_phases(timing: Timing, rate: float, independent_rate: float | None) -> str | None:
    """A sentence when the proposed fault still holds fewer than ``min_samples`` (30) requests
    of the independent routes (or of all), else ``None``."""
    for what, r in (("its independent routes", independent_rate), ("it", rate)):
        if r is not None and 0 < r * timing.fault_for_s < MIN_SAMPLES:
            return (
                f"the capture sends {r:.2g} requests a second to {what}: about "
                f"{r * timing.fault_for_s:.0f} in the {timing.fault_for_s:g} s fault, fewer than "
                f"the {MIN_SAMPLES} a gate needs to pass (a build can still fail on them; an "
                "unchanged one is judged inconclusive): raise `speed` or the fault's `for` in "
                "the scenario"
            )
    return None
