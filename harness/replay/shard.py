"""A worker's shard, loaded before t0: its schedule and its requests ready to send.

No sockets and no greenlets here (only geventhttpclient's header type), so a worker can load
its shard in a thread while its Locust runner keeps answering heartbeats. Each worker plans
again from the same capture and options to find its own shard (:mod:`harness.replay.plan`), then
reads only its own rows and rebuilds each request once per target (Host, hop-by-hop headers,
headers that name the captured site, injected headers).

The connection maximum per target is chosen here: by default the most requests of this shard
ever due within one request timeout, so the pool never binds on the captured traffic (a request
holds its connection for at most the timeout); ``max_connections`` of the spec caps it.
"""

from __future__ import annotations

import math
import resource
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
from geventhttpclient.header import Headers

from harness.replay.exchange import ReplayRequest
from harness.replay.locations import LocationRoutes
from harness.replay.origin import SiteRewrite, own_host, target_host_header
from harness.replay.plan import (
    PLAN_COLUMNS,
    REQUEST_COLUMNS,
    ShardSchedule,
    plan_replay,
    read_capture,
    read_rows,
)
from harness.replay.rebuild import rebuild_headers
from harness.replay.spec import ShardSpec

#: the fewest connections a target's pool gets
MIN_CONNECTIONS = 8


@dataclass(frozen=True)
class Shard:
    """One worker's part of the replay."""

    schedule: ShardSchedule
    requests: dict[int, ReplayRequest]
    """by position in the capture (the schedule's ``rows``)"""
    connections: int
    """connection maximum per target in this worker"""
    peak_in_flight: int
    """most requests due within one timeout: what the pools must hold not to bind"""
    locations: LocationRoutes = field(default_factory=lambda: LocationRoutes(()))
    """routes of replayed redirects' ``Location``, in the capture's route names"""


def fd_budget() -> int:
    """Raise the open-files limit to its hard maximum; return what is usable for sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return max(64, (soft if soft != resource.RLIM_INFINITY else 65536) - 128)


def peak_in_flight(schedule: ShardSchedule, window_s: float) -> int:
    """The most requests of ``schedule`` due within any ``window_s`` seconds."""
    due = schedule.due_ns
    if len(due) == 0:
        return 0
    ends = np.searchsorted(due, due + int(window_s * 1e9), side="left")
    return int((ends - np.arange(len(due))).max())


def connection_maximum(spec: ShardSpec, peak: int, budget: int) -> int:
    """The per-target pool size of one worker: the peak plus a margin, the user's maximum
    (split over the workers) when given, within the open-files budget."""
    size = max(MIN_CONNECTIONS, math.ceil(peak * 1.1) + 2)
    if spec.max_connections is not None:
        size = max(1, math.ceil(spec.max_connections / spec.shards))
    return max(1, min(size, budget // max(1, len(spec.targets))))


def load_shard(spec: ShardSpec) -> Shard:
    """Plan, pick this worker's rows and prepare every request for every target."""
    capture = Path(spec.capture)
    table = read_capture(capture, PLAN_COLUMNS)
    plan = plan_replay(table, spec.shards, spec.speed, spec.duration_s, spec.loop)
    del table
    schedule = plan.shards[spec.shard]
    peak = peak_in_flight(schedule, spec.timeout_s)
    return Shard(
        schedule=schedule,
        requests=_prepare(spec, capture, schedule),
        connections=connection_maximum(spec, peak, fd_budget()),
        peak_in_flight=peak,
        locations=LocationRoutes(_routes(capture)),
    )


def _routes(capture: Path) -> list[str]:
    """Every route template of the capture (requests and their redirects' targets)."""
    table = read_capture(capture, ["route", "orig_location_route"])
    found: set[str] = set()
    for name in table.column_names:
        found.update(v for v in pc.unique(table.column(name)).to_pylist() if v)
    return sorted(found)


def _prepare(spec: ShardSpec, capture: Path, schedule: ShardSchedule) -> dict[int, ReplayRequest]:
    wanted = sorted(set(schedule.rows.tolist()))
    hosts = [target_host_header(t.url) for t in spec.targets]
    columns = ["idx", "session", "orig_latency_ns", "host", *REQUEST_COLUMNS]
    sub = read_rows(capture, wanted, columns).to_pylist() if wanted else []
    prepared: dict[int, ReplayRequest] = {}
    sites: dict[tuple[str, str], SiteRewrite | None] = {}
    for row, rec in zip(wanted, sub, strict=True):
        captured = [(h["name"], h["value"]) for h in rec["headers"] or []]
        own = own_host(captured, rec["host"])
        headers = []
        for target, host in zip(spec.targets, hosts, strict=True):
            key = (own, target.url)
            site = sites[key] if key in sites else sites.setdefault(key, SiteRewrite.of(*key))
            hdr = Headers()
            for name, value in rebuild_headers(captured, host, target.headers, site):
                hdr.add(name, value)
            headers.append(hdr)
        prepared[row] = ReplayRequest(
            idx=rec["idx"],
            route=rec["route"],
            method=rec["method"],
            path=rec["path"] or "/",
            body=rec["body"] or b"",
            headers=headers,
            session=rec["session"],
            orig_status=rec["orig_status"],
            orig_location_route=rec["orig_location_route"],
            links=rec["links"] or [],
            orig_latency_ns=rec["orig_latency_ns"],
        )
    return prepared
