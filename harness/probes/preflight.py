"""Probes that cannot start stop the run before any traffic: one read of each source first.

Before the replay, :func:`check_probes` reads every probe's source once per target: the
target's Prometheus page for each path the probes scrape, and its own database's statistics.
A source that exists but cannot be read (connection refused, HTTP 401/404, the database refusing
the probe's connection) will not start working under load either, so the run is stopped there
(exit 4) with a line naming the probe, the target and why, instead of going on to an
inconclusive or misleading retry-amplification gate. A transient failure gets ``attempts`` tries.

Tolerated, because they are no sign of a broken probe: a metric not exposed yet (client
libraries create labelled series on first use), and a source the target does not have (no
database for a target given by URL, no readable log of an external toxiproxy: documented as not
available, counted as failures by the sampler).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from harness.errors import HarnessError, InfrastructureError
from harness.probes.postgres import DatabaseStats
from harness.probes.prometheus import MetricsScraper
from harness.probes.sampler import ProbeTarget
from harness.scenario.model import PostgresProbe, Probe, PrometheusProbe


def check_probes(
    probes: Sequence[Probe],
    targets: Sequence[ProbeTarget],
    *,
    timeout_s: float = 2.0,
    attempts: int = 3,
    pause_s: float = 0.5,
) -> None:
    """Raise :class:`InfrastructureError` for the first probe whose source cannot be read."""
    for target in targets:
        problem: tuple[str, str] | None = None
        for attempt in range(attempts):
            problem = _first_problem(probes, target, timeout_s)
            if problem is None:
                break
            if attempt + 1 < attempts:
                time.sleep(pause_s)  # a retry, not a wait for a condition we could observe
        if problem is not None:
            name, why = problem
            raise InfrastructureError(
                f"probe {name} of target {target.name} cannot start: {why} "
                f"({attempts} attempt{'s' if attempts != 1 else ''})"
            )


def _first_problem(
    probes: Sequence[Probe], target: ProbeTarget, timeout_s: float
) -> tuple[str, str] | None:
    scraped = [p for p in probes if isinstance(p, PrometheusProbe)]
    if scraped and target.url:
        scraper = MetricsScraper(target.url, timeout_s)
        try:
            for path in dict.fromkeys(p.prometheus.path for p in scraped):
                try:
                    scraper.fetch(path)
                except HarnessError as exc:
                    first = next(p for p in scraped if p.prometheus.path == path)
                    return first.name, str(exc)
        finally:
            scraper.close()
    stats = [p for p in probes if isinstance(p, PostgresProbe)]
    if stats and target.dsn:
        reader = DatabaseStats(target.dsn, timeout_s)
        try:
            reader.read(sorted({p.postgres for p in stats}))
        except HarnessError as exc:
            return stats[0].name, str(exc)
        finally:
            reader.close()
    return None
