"""What a capture file holds: counts, duration, rate, sessions, routes, skips, redactions, links.

The summary is computed by streaming the few columns it needs, so it works on captures larger
than memory. It never reads headers or bodies, nor a link's value, so it cannot show a secret;
links are grouped by kind, source and target place (:mod:`harness.capture.linkgroups`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc

from harness.capture.joins import JoinReport
from harness.capture.linkgroups import LinkGroup, link_groups
from harness.capture.links import LinkReport
from harness.capture.routelearn import LearnedRoute
from harness.capture.store import iter_capture, open_capture

_NS = 1_000_000_000


@dataclass
class CaptureSummary:
    """The numbers ``harness capture inspect`` shows (``--json`` prints :meth:`to_json`)."""

    path: str
    format_version: int
    requests: int
    responses: int
    duration_s: float
    sessions: int
    mean_per_s: float
    peak_per_s: int
    routes: list[tuple[str, int]]
    methods: dict[str, int]
    statuses: dict[str, int]
    skipped: dict[str, int]
    filtered: dict[str, int]
    redaction_enabled: bool
    redactions: dict[str, int]
    #: ``pseudonym``, ``mask`` or ``off``
    redaction_mode: str = "mask"
    sources: list[str] = field(default_factory=list)
    route_count: int = 0
    #: how sessions were found: "credential", "header NAME", "cookie NAME" (None: not recorded)
    sessions_found_by: str | None = None
    sessions_by: dict[str, int] = field(default_factory=dict)
    #: sessions joined by value (None: not tried, or a file from before)
    joins: JoinReport | None = None
    links: LinkReport = field(default_factory=LinkReport)
    link_groups: list[LinkGroup] = field(default_factory=list)
    learned_routes: list[LearnedRoute] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The JSON document of ``inspect --json``."""
        return {
            "path": self.path,
            "format_version": self.format_version,
            "requests": self.requests,
            "responses": self.responses,
            "duration_s": self.duration_s,
            "sessions": self.sessions,
            "rate": {"mean_per_s": self.mean_per_s, "peak_per_s": self.peak_per_s},
            "routes": [{"route": r, "count": n} for r, n in self.routes],
            "route_count": self.route_count,
            "learned_routes": [r.model_dump() for r in self.learned_routes],
            "methods": self.methods,
            "statuses": self.statuses,
            "skipped": self.skipped,
            "filtered": self.filtered,
            "redaction_enabled": self.redaction_enabled,
            "redaction_mode": self.redaction_mode,
            "redactions": self.redactions,
            "sources": self.sources,
            "sessions_found_by": self.sessions_found_by,
            "sessions_by": self.sessions_by,
            "joins": self.joins.model_dump() if self.joins is not None else None,
            "links": {
                "enabled": self.links.enabled,
                "links": self.links.links,
                "requests": self.links.requests,
                "by_kind": self.links.by_kind,
                "ambiguous": self.links.ambiguous,
                "dropped": self.links.dropped,
                "groups": [g.to_json() for g in self.link_groups],
            },
        }


def summarize(path: Path, top: int = 10) -> CaptureSummary:
    """Summarise the capture file ``path`` (raises ``CaptureError`` if it is not one)."""
    _, meta = open_capture(path)
    columns = ["offset_ns", "session", "route", "method", "orig_status"]
    routes: Counter[str] = Counter()
    methods: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    per_second: Counter[int] = Counter()
    sessions: set[str] = set()
    requests = responses = 0
    last_offset = 0
    for batch in iter_capture(path, columns):
        requests += batch.num_rows
        offsets = batch.column("offset_ns")
        last_offset = max(last_offset, pc.max(offsets).as_py() or 0)
        seconds = pc.divide(offsets, _NS)  # integer division of int64 by int64
        for key, counter in ((seconds, per_second), (batch.column("route"), routes)):
            for item in pc.value_counts(key).to_pylist():
                counter[item["values"]] += item["counts"]
        for item in pc.value_counts(batch.column("method")).to_pylist():
            methods[item["values"]] += item["counts"]
        status = batch.column("orig_status")
        responses += len(status) - status.null_count
        for item in pc.value_counts(status.drop_null()).to_pylist():
            statuses[str(item["values"])] += item["counts"]
        sessions.update(pc.unique(batch.column("session")).to_pylist())
    duration_s = last_offset / _NS
    return CaptureSummary(
        path=str(path),
        format_version=meta.format_version,
        requests=requests,
        responses=responses,
        duration_s=duration_s,
        sessions=len(sessions),
        mean_per_s=round(requests / duration_s, 3) if duration_s > 0 else float(requests),
        peak_per_s=max(per_second.values(), default=0),
        routes=routes.most_common(top),
        route_count=len(routes),
        methods=dict(methods.most_common()),
        statuses=dict(sorted(statuses.items())),
        skipped=meta.skipped,
        filtered=meta.filtered,
        redaction_enabled=meta.redaction.enabled,
        redactions=meta.redaction.rules,
        redaction_mode=meta.redaction.mode,
        sources=[s.path for s in meta.sources],
        sessions_found_by=meta.sessions.found_by if meta.sessions is not None else None,
        sessions_by=meta.sessions.requests_by if meta.sessions is not None else {},
        joins=meta.sessions.joins if meta.sessions is not None else None,
        links=meta.links,
        link_groups=link_groups(path) if meta.links.links else [],
        learned_routes=meta.learned_routes,
    )
