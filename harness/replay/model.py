"""The replay engine's public types: targets, options, progress and the result of a replay.

Pure data (no locust, no gevent): the orchestrating process, the CLI and ``harness run`` use them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.scenario.auth import AuthSpec

#: sends a second one worker process is given by default (it holds about 2-3x that)
SENDS_PER_PROCESS = 2000


@dataclass(frozen=True)
class ReplayTarget:
    """One build to replay to, e.g. ``ReplayTarget("baseline", "http://127.0.0.1:8001")``.

    ``headers`` are staging credentials already resolved from environment variables by the
    caller; they are injected into every request, replacing headers of the same name.
    """

    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    #: staging identities from the stack file (``auth:``), where they are written
    #: (``stack.yaml:LINE``, for errors) and the stack file's directory (relative paths)
    auth: AuthSpec | None = None
    auth_where: str = ""
    stack_dir: Path | None = None


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
class LocustOptions:
    """What the replay does with Locust besides running it: the user's locustfile (imported in
    every Locust process: its event listeners and plugins apply, its User classes are not run),
    the web UI (``web="127.0.0.1:8089"``), Locust's CSV files and HTML report."""

    locustfile: str | None = None
    web: str | None = None
    csv_prefix: str | None = None
    html: str | None = None

    def args(self, aggregating: bool) -> list[str]:
        """These options on a replay process's command line (the web UI, CSV and HTML belong
        to the process that aggregates the stats)."""
        out = ["--locustfile", self.locustfile] if self.locustfile else []
        if aggregating:
            out += ["--web", self.web] if self.web else []
            out += ["--csv", self.csv_prefix] if self.csv_prefix else []
            out += ["--html", self.html] if self.html else []
        return out


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay: speed factor, cut-off, looping, processes, timeouts and validity bounds.

    ``speed=2.0`` sends each request at ``offset / 2``; ``duration_s`` cuts the schedule off;
    ``loop`` repeats the capture until ``duration_s``. ``max_connections`` caps the connections
    to each target over all workers (default: as many as the schedule can have in flight within
    one timeout, so the pools never delay a send); ``keep_response_bytes`` > 0 keeps each
    response's status, headers and that many bytes of body in ``responses.parquet``.
    """

    speed: float = 1.0
    duration_s: float | None = None
    loop: bool = False
    processes: int | None = None
    timeout_s: float = 10.0
    #: send lag p99 above this (ms) makes the run invalid; ``None``: a bound that scales with the
    #: captured timing and the fault windows, at least 10 ms (:mod:`harness.replay.validity`)
    lag_bound_ms: float | None = None
    start_delay_s: float = 2.0
    cpu_bound: float = 0.95
    max_connections: int | None = None
    keep_response_bytes: int = 0
    locust: LocustOptions = field(default_factory=LocustOptions)
    #: ``session``: a request waits for its session's previous answer from the same target
    #: (:mod:`harness.replay.ordering`); ``schedule``: the strict schedule
    ordering: str = "session"
    allow_original_host: bool = False
    #: (start, end) of each fault in seconds from t0: the validity bound scales with them
    fault_windows_s: tuple[tuple[float, float], ...] = ()
    master: MasterOptions | None = None
    #: result rows a worker buffers before writing them to its part file
    flush_rows: int = 50_000

    def process_count(self, sends_per_s: int) -> int:
        """Worker processes on this machine: ``processes``, or one per
        :data:`SENDS_PER_PROCESS` sends a second at the captured peak, at most one per core
        (each process beyond what the rate needs only takes a core from the targets)."""
        if self.processes is not None:
            return self.processes
        needed = max(1, -(-sends_per_s // SENDS_PER_PROCESS))
        return min(needed, os.cpu_count() or 1)


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
    #: sends that waited for a pooled connection (more than 1 ms), and the longest wait
    pool_waits: int = 0
    pool_wait_max_ms: float = 0.0


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
    #: valid but worth saying (e.g. uniformly a few ms late), and the send-lag bound applied
    warnings: list[str] = field(default_factory=list)
    lag_bound_ms: float = 0.0
    #: every worker ran at a raised CPU priority (harness.replay.priority)
    priority_raised: bool = False
