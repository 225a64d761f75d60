"""The probe sampler: reads every probe of every target at its interval into ``probes.parquet``.

One thread per target (a target that stops answering cannot delay the others' samples).
The ``postgres: attempts`` probe (``postgres_attempts``, added to every scenario that faults
postgres) is the sum of two counters read in the same tick: the connections the target's proxy
accepted (toxiproxy's log; a ``down`` fault keeps accepting and resets, so attempts made while
the database is "down" count too) and the transactions of the target's own database
(``xact_commit + xact_rollback``), less the probe's own reads. It needs no metric of the app. Ticks
are aligned to the run's t0 (``t0 + k * interval``), samples before t0 are kept (a counter's
value before the replay is its baseline), and each probe has its own interval (default the
scenario's ``probe_interval``). A probe that cannot be read records nothing for that tick and is
counted; it never stops the run. A sampling thread that dies of a bug does: ``failed`` is set
and ``failure`` holds its :class:`~harness.errors.InternalError` (a run whose probe sources
cannot be read at all is stopped before any traffic by :mod:`harness.probes.preflight`). On
:meth:`ProbeSampler.stop` one last sample is taken, the table is written (schema
:data:`harness.rundir.PROBES_SCHEMA`, ``t_ns`` from t0) and the failures go into a
``probes_failed`` event.

>>> with ProbeSampler(scenario.probes, targets, run.probes, t0_ns=t0, events=log) as sampler:
...     replay(...)                                            # doctest: +SKIP
>>> sampler.result.failures                                    # doctest: +SKIP
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.faults.events import EventLog
from harness.probes.postgres import DatabaseStats
from harness.probes.prometheus import MetricNotFound, MetricsScraper, metric_value
from harness.scenario.model import PostgresProbe, Probe, PrometheusProbe, ToxiproxyProbe

#: Connections one proxy accepted so far (:class:`harness.probes.toxiproxy.AcceptedConnections`).
AcceptedCounter = Callable[[str], int]


@dataclass(frozen=True)
class ProbeTarget:
    """Where one target's probes read from.

    ``url``: the target's base URL (Prometheus probes); ``dsn``: its own database, DIRECT to
    the server, not through the proxy; ``proxy``: the name of its toxiproxy proxy.
    """

    name: str
    url: str | None = None
    dsn: str | None = None
    proxy: str | None = None


@dataclass
class ProbeResult:
    """Samples taken and failures counted, per ``(target, probe)``."""

    samples: int = 0
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    last_error: dict[tuple[str, str], str] = field(default_factory=dict)

    def failure_report(self) -> list[dict[str, object]]:
        return [
            {"target": t, "probe": p, "failures": n, "last_error": self.last_error.get((t, p))}
            for (t, p), n in sorted(self.failures.items())
        ]


class ProbeSampler:
    """Samples ``probes`` for each of ``targets`` from :meth:`start` until :meth:`stop`."""

    def __init__(
        self,
        probes: Sequence[Probe],
        targets: Sequence[ProbeTarget],
        out: Path,
        *,
        t0_ns: int,
        interval_s: float = 1.0,
        events: EventLog | None = None,
        accepted_connections: AcceptedCounter | None = None,
        read_timeout_s: float | None = None,
    ) -> None:
        self.probes = list(probes)
        self.targets = list(targets)
        self.out = out
        self.t0_ns = t0_ns
        self.interval_s = interval_s
        self.events = events
        self.accepted_connections = accepted_connections
        self.read_timeout_s = read_timeout_s or min(2.0, max(0.2, interval_s / 2))
        self.result = ProbeResult()
        self._rows: list[tuple[int, str, str, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._written = False
        #: Set when a sampling thread died of a bug; ``failure`` is its InternalError (exit 70).
        self.failed = threading.Event()
        self.failure: HarnessError | None = None

    def interval_of(self, probe: Probe) -> float:
        return probe.interval if probe.interval is not None else self.interval_s

    def start(self) -> None:
        """Start one sampling thread per target and record ``probes_started``."""
        if not self.probes:
            return
        for target in self.targets:
            thread = threading.Thread(
                target=self._sample_target, args=(target,), name=f"probes-{target.name}"
            )
            thread.daemon = True  # a stuck read must not keep the process alive at exit
            thread.start()
            self._threads.append(thread)
        if self.events is not None:
            self.events.emit(
                "probes_started",
                probes=[p.name for p in self.probes],
                targets=[t.name for t in self.targets],
                interval_s=self.interval_s,
            )

    def stop(self) -> ProbeResult:
        """Take a last sample, write ``probes.parquet`` and report failures (idempotent)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.read_timeout_s * 4 + 5)
        self._threads = []
        if not self._written:
            self._written = True
            self._write()
            if self.result.failures and self.events is not None:
                self.events.emit("probes_failed", failures=self.result.failure_report())
        return self.result

    def __enter__(self) -> ProbeSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- sampling ---------------------------------------------------------------------------

    def _sample_target(self, target: ProbeTarget) -> None:
        try:
            self._sample(target)
        except Exception as exc:  # a bug: handed to the run, never lost with the thread
            from harness.crashes import internal_error

            where = f"thread {threading.current_thread().name}"
            error = internal_error(exc, self.out.parent, where=where)
            with self._lock:
                if self.failure is None:
                    self.failure = error
            self.failed.set()

    def _sample(self, target: ProbeTarget) -> None:
        readers = _Readers(target, self.read_timeout_s, self.accepted_connections)
        try:
            due = {p.name: self._first_tick(p) for p in self.probes}
            while not self._stop.is_set():
                now = time.time_ns()
                ready = [p for p in self.probes if due[p.name] <= now]
                if ready:
                    self._read(target, readers, ready)
                    now = time.time_ns()
                    for probe in ready:
                        step = int(self.interval_of(probe) * 1e9)
                        while due[probe.name] <= now:  # skip ticks missed by a slow read
                            due[probe.name] += step
                wait_ns = min(due.values()) - time.time_ns()
                self._stop.wait(max(0.0, wait_ns / 1e9))
            self._read(target, readers, self.probes)  # the value at the end of the run
        finally:
            readers.close()

    def _first_tick(self, probe: Probe) -> int:
        """The aligned tick just before now: the first read is immediate (a counter's baseline),
        later ones fall on ``t0 + k * interval``."""
        step = int(self.interval_of(probe) * 1e9)
        k = math.floor((time.time_ns() - self.t0_ns) / step)
        return self.t0_ns + k * step

    def _read(self, target: ProbeTarget, readers: _Readers, probes: Sequence[Probe]) -> None:
        values, errors = readers.read(probes)
        t_ns = time.time_ns() - self.t0_ns
        with self._lock:
            for name, value in values.items():
                self._rows.append((t_ns, target.name, name, value))
                self.result.samples += 1
            for name, message in errors.items():
                key = (target.name, name)
                self.result.failures[key] = self.result.failures.get(key, 0) + 1
                self.result.last_error[key] = message

    def _write(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from harness.rundir import PROBES_SCHEMA

        with self._lock:
            rows = sorted(self._rows)
        columns: list[tuple[object, ...]] = (
            list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
        )
        table = pa.Table.from_arrays(
            [
                pa.array(list(col), type=f.type)
                for col, f in zip(columns, PROBES_SCHEMA, strict=True)
            ],
            schema=PROBES_SCHEMA,
        )
        self.out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, self.out)


class _Readers:
    """The open connections of one target's probes; reads a set of probes in one go."""

    def __init__(
        self, target: ProbeTarget, timeout_s: float, accepted: AcceptedCounter | None
    ) -> None:
        self.target = target
        self.accepted = accepted
        self.scraper = MetricsScraper(target.url, timeout_s) if target.url else None
        self.stats = DatabaseStats(target.dsn, timeout_s) if target.dsn else None
        self.reads = 0
        self.highest: dict[str, float] = {}

    def read(self, probes: Sequence[Probe]) -> tuple[dict[str, float], dict[str, str]]:
        values: dict[str, float] = {}
        errors: dict[str, str] = {}
        pages: dict[str, str | HarnessError] = {}  # one scrape per path and tick
        wanted_stats = [p for p in probes if isinstance(p, PostgresProbe)]
        if wanted_stats:
            self._read_stats(wanted_stats, values, errors)
        for probe in probes:
            try:
                if isinstance(probe, PrometheusProbe):
                    values[probe.name] = self._prometheus(probe, pages)
                elif isinstance(probe, ToxiproxyProbe):
                    values[probe.name] = self._accepted()
            except (HarnessError, MetricNotFound, OSError, ValueError) as exc:
                errors[probe.name] = str(exc)
        return values, errors

    def _prometheus(self, probe: PrometheusProbe, pages: dict[str, str | HarnessError]) -> float:
        if self.scraper is None:
            raise ValueError(f"target {self.target.name} has no URL to scrape")
        path = probe.prometheus.path
        if path not in pages:
            try:
                pages[path] = self.scraper.fetch(path)
            except HarnessError as exc:
                pages[path] = exc
        page = pages[path]
        if isinstance(page, HarnessError):
            raise page
        return metric_value(page, probe.prometheus.metric, probe.prometheus.labels)

    def _read_stats(
        self, probes: Sequence[PostgresProbe], values: dict[str, float], errors: dict[str, str]
    ) -> None:
        if self.stats is None:
            for probe in probes:
                errors[probe.name] = f"target {self.target.name} has no database DSN"
            return
        try:
            stats = self.stats.read(sorted({p.postgres for p in probes}))
        except HarnessError as exc:
            for probe in probes:
                errors[probe.name] = str(exc)
            return
        # Each read is one transaction of its own on the target's database: not the app's.
        own_reads, self.reads = self.reads, self.reads + 1
        for probe in probes:
            if probe.postgres != "attempts":
                values[probe.name] = stats[probe.postgres]
                continue
            try:
                accepted = self._accepted()
            except (HarnessError, OSError, ValueError) as exc:
                errors[probe.name] = f"connections through the proxy: {exc}"
                continue
            # A counter never goes down: the database publishes its counters up to a second
            # late, so less the reads made so far it can dip by one; keep the highest value.
            value = accepted + max(stats["attempts"] - own_reads, 0.0)
            self.highest[probe.name] = max(value, self.highest.get(probe.name, 0.0))
            values[probe.name] = self.highest[probe.name]

    def _accepted(self) -> float:
        if self.accepted is None or self.target.proxy is None:
            raise ValueError(
                f"no toxiproxy log to count connections of target {self.target.name} "
                "(an external toxiproxy's log is not readable)"
            )
        return float(self.accepted(self.target.proxy))

    def close(self) -> None:
        if self.scraper is not None:
            self.scraper.close()
        if self.stats is not None:
            self.stats.close()
