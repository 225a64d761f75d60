"""The replay engine's public types: targets, options, progress and the result of a replay.

Pure data (no locust, no gevent): the orchestrating process, the CLI and ``harness run`` use them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ReplayTarget:
    """One build to replay to, e.g. ``ReplayTarget("baseline", "http://127.0.0.1:8001")``.

    ``headers`` are staging credentials already resolved from environment variables by the
    caller; they are injected into every request, replacing headers of the same name.
    """

    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MasterOptions:
    """Distributed mode: this process runs a Locust master and waits for ``expect_workers``.

    Workers are started elsewhere with ``harness worker --master-host H --master-port P``.
    """

    bind_host: str = "127.0.0.1"
    port: int = 5557
    expect_workers: int = 1
    #: how long to wait for the expected workers to connect before giving up
    wait_s: float = 60.0


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay: speed factor, cut-off, looping, processes, timeouts and validity bounds.

    ``speed=2.0`` sends each request at ``offset / 2``; ``duration_s`` cuts the schedule off;
    ``loop`` repeats the capture until ``duration_s``. ``pool_latency_s`` is the latency the
    connection pools are sized for (peak rate x latency; default: ``timeout_s``, so a target
    that answers slowly gets more connections instead of delaying later requests).
    """

    speed: float = 1.0
    duration_s: float | None = None
    loop: bool = False
    processes: int | None = None
    timeout_s: float = 10.0
    lag_bound_ms: float = 10.0
    start_delay_s: float = 2.0
    cpu_bound: float = 0.95
    pool_latency_s: float | None = None
    allow_original_host: bool = False
    master: MasterOptions | None = None
    #: result rows a worker buffers before writing them to its part file
    flush_rows: int = 50_000

    @property
    def process_count(self) -> int:
        """Worker processes on this machine (``processes`` or the number of cores)."""
        return self.processes if self.processes is not None else (os.cpu_count() or 1)


@dataclass(frozen=True)
class TargetProgress:
    """Live counters of one target, summed over workers."""

    sent: int = 0
    done: int = 0
    errors: int = 0
    lag_p99_ms: float = 0.0
    rate_per_s: float = 0.0


@dataclass(frozen=True)
class ReplayProgress:
    """What the workers reported so far (about once a second)."""

    elapsed_s: float
    total: int
    """requests scheduled per target"""
    targets: dict[str, TargetProgress]
    workers: int


@dataclass(frozen=True)
class TargetCounts:
    """Final counts of one target: scheduled, sent, answered and errors by kind."""

    scheduled: int
    sent: int
    answered: int
    errors: dict[str, int]
    achieved_rate_per_s: float


@dataclass(frozen=True)
class ReplayResult:
    """What a replay did: counts per target, send lag, rates, validity and where it wrote."""

    run_dir: Path
    requests_path: Path
    manifest_path: Path
    t0_ns: int
    targets: dict[str, TargetCounts]
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    scheduled_rate_per_s: float
    achieved_rate_per_s: float
    valid: bool
    reasons: list[str]
    interrupted: bool
    workers: int
    cpu_ratio_max: float
