"""One worker's replay of its shard: a dispatcher greenlet that sends each request on time.

Runs only in worker processes, after ``gevent.monkey.patch_all()``. The dispatcher sleeps until
``t0 + due`` and spawns one greenlet per request and target; it never waits for a response before
sending the next request (open workload). Each target has its own connection pool (Locust's
FastHttpUser client, geventhttpclient), sized from the shard's peak rate times the latency the
pools must absorb, so a slow target gets more connections instead of delaying later requests.
"""

from __future__ import annotations

import gc
import hashlib
import math
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import gevent.pool
import pyarrow as pa
from geventhttpclient import HTTPClient
from geventhttpclient.header import Headers
from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError

from harness.replay.plan import (
    PLAN_COLUMNS,
    REQUEST_COLUMNS,
    plan_replay,
    read_capture,
    read_rows,
)
from harness.replay.rebuild import rebuild_headers, target_host_header
from harness.replay.results import BATCH_ROWS, PartWriter, RowBuffer
from harness.replay.spec import ShardSpec

Report = Callable[..., None]
"""``report(kind, **data)``: sends one protocol line (see :mod:`harness.replay.spec`)."""

#: when the dispatcher is behind, it yields to the senders after this many spawns
_BURST = 16


class _RequestTimeout(Exception):
    """The per-request timeout fired (our own class, so no library catches it by accident)."""


@dataclass(frozen=True)
class _Prepared:
    idx: int
    route: str | None
    method: str
    path: str
    body: bytes
    headers: list[Headers]
    """one per target"""
    session: str | None
    orig_status: int | None
    orig_location_route: str | None


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, _RequestTimeout | TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "reset"
    if isinstance(exc, HTTPConnectionClosed):
        return "reset"
    if isinstance(exc, HTTPParseError) and "closed" in str(exc):
        return "reset"
    return "other"


def _fd_budget() -> int:
    """Raise the open-files limit to its hard maximum; return what is usable for sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return max(64, (soft if soft != resource.RLIM_INFINITY else 65536) - 128)


class ShardRun:
    """Replays one shard of the capture to every target on the shared clock."""

    def __init__(self, spec: ShardSpec, report: Report, worker: int) -> None:
        self.spec = spec
        self.report = report
        self.worker = worker
        table = read_capture(Path(spec.capture), PLAN_COLUMNS)
        plan = plan_replay(table, spec.shards, spec.speed, spec.duration_s, spec.loop)
        del table
        self.schedule = plan.shards[spec.shard]
        self.names = [t.name for t in spec.targets]
        self.prepared = self._prepare(Path(spec.capture))
        pool = max(8, math.ceil(self.schedule.peak_rate_per_s * spec.pool_latency_s * 1.2))
        pool = min(pool, _fd_budget() // max(1, len(spec.targets)))
        self.clients = [
            HTTPClient.from_url(
                t.url,
                concurrency=pool,
                connection_timeout=spec.timeout_s,
                network_timeout=spec.timeout_s,
            )
            for t in spec.targets
        ]
        for client in self.clients:
            client.default_headers = Headers()  # no User-Agent of our own: replay the captured one
        self.buffer = RowBuffer()
        self.writer = PartWriter(Path(spec.part))
        self.senders = gevent.pool.Group()
        # counters per target for progress lines
        self.sent = [0] * len(self.names)
        self.done = [0] * len(self.names)
        self.errors = [0] * len(self.names)
        self.lags: list[list[int]] = [[] for _ in self.names]
        self._stopped = False
        self._dispatcher: gevent.Greenlet | None = None
        self._flush: Any = None
        self._batches: list[pa.RecordBatch] = []
        self._batched = 0
        self._batch_rows = min(BATCH_ROWS, spec.flush_rows)
        self._busy_since: tuple[float, float] | None = None
        self._last = (time.process_time(), time.monotonic())
        # the shared t0 is epoch ns; convert once and use the monotonic clock from then on
        self.t0_mono = spec.t0_ns - (time.time_ns() - time.monotonic_ns())

    def _prepare(self, capture: Path) -> dict[int, _Prepared]:
        wanted = sorted(set(self.schedule.rows.tolist()))
        hosts = [target_host_header(t.url) for t in self.spec.targets]
        columns = ["idx", "session", *REQUEST_COLUMNS]
        sub = read_rows(capture, wanted, columns).to_pylist() if wanted else []
        prepared: dict[int, _Prepared] = {}
        for row, rec in zip(wanted, sub, strict=True):
            captured = [(h["name"], h["value"]) for h in rec["headers"] or []]
            headers = []
            for target, host in zip(self.spec.targets, hosts, strict=True):
                hdr = Headers()
                for name, value in rebuild_headers(captured, host, target.headers):
                    hdr.add(name, value)
                headers.append(hdr)
            prepared[row] = _Prepared(
                idx=rec["idx"],
                route=rec["route"],
                method=rec["method"],
                path=rec["path"] or "/",
                body=rec["body"] or b"",
                headers=headers,
                session=rec["session"],
                orig_status=rec["orig_status"],
                orig_location_route=rec["orig_location_route"],
            )
        return prepared

    # -- running ---------------------------------------------------------------------------

    def warm_up(self, connections: int = 4) -> None:
        """Resolve each target and open a few connections before t0, so the first requests do
        not pay for the resolver's thread pool and the TCP handshakes."""
        for client in self.clients:
            pool = client._connection_pool
            socks = []
            try:
                for _ in range(min(connections, pool.size)):
                    socks.append(pool.get_socket())
            except Exception:  # an unreachable target shows up in the rows, not here
                pass
            for sock in socks:
                pool.return_socket(sock)

    def get_ready(self) -> None:
        """Warm up (see :meth:`warm_up`) and report ``ready``; call before t0."""
        if len(self.schedule):
            self.warm_up()
        # the prepared requests live for the whole run: keep the collector from rescanning them
        gc.collect()
        gc.freeze()
        # the part-file thread then holds the GIL for short slices only, not the default 5 ms
        sys.setswitchinterval(0.0005)
        self.report("ready", worker=self.worker, requests=len(self.schedule))

    def set_t0(self, t0_ns: int) -> None:
        """Fix the shared start (epoch ns), when it was not known at construction."""
        self.t0_mono = t0_ns - (time.time_ns() - time.monotonic_ns())

    def run(self) -> dict[str, Any]:
        """Replay the whole shard (or until :meth:`stop`); returns the summary line's data."""
        late_ms = (time.monotonic_ns() - self.t0_mono) / 1e6
        ticker = gevent.spawn(self._tick)
        self._dispatcher = gevent.spawn(self._dispatch)
        self._dispatcher.join()
        # CPU over the sending period only (from the first due request to the last)
        end_cpu, end_wall = time.process_time(), time.monotonic()
        start_cpu, start_wall = self._busy_since or (end_cpu, end_wall)
        wall = end_wall - start_wall
        cpu_ratio = (end_cpu - start_cpu) / wall if wall > 0.5 else 0.0
        self.senders.join(timeout=self.spec.timeout_s + 2.0)
        self.senders.kill(block=True, timeout=2.0)
        ticker.kill(block=True)
        self._tick_once()
        self._flush_rows(final=True)
        for client in self.clients:
            client.close()
        return {
            "worker": self.worker,
            "part": str(self.writer.path),
            "rows": self.writer.rows,
            "cpu_ratio": cpu_ratio,
            "stopped": self._stopped,
            "late_ms": late_ms,
        }

    def stop(self) -> None:
        """Stop sending; requests in flight finish (bounded by the timeout)."""
        self._stopped = True
        if self._dispatcher is not None:
            self._dispatcher.kill(block=False)

    def _dispatch(self) -> None:
        loop = gevent.get_hub().loop
        dues = self.schedule.due_ns.tolist()
        rows = self.schedule.rows.tolist()
        t0 = self.t0_mono
        spawn = self.senders.spawn
        burst = 0
        for due, row in zip(dues, rows, strict=True):
            at = t0 + due
            rem = at - time.monotonic_ns()
            if rem > 0:
                burst = 0
                while rem > 0:
                    # libev timers count from the loop's cached time: refresh it first
                    loop.update_now()
                    gevent.sleep(rem / 1e9)
                    rem = at - time.monotonic_ns()
            else:
                burst += 1
                if burst % _BURST == 0:
                    gevent.sleep(0)
            if self._stopped:
                return
            if self._busy_since is None:
                self._busy_since = (time.process_time(), time.monotonic())
            prepared = self.prepared[row]
            for k in range(len(self.clients)):
                spawn(self._send, k, prepared, due)
            if self.buffer.count >= self._batch_rows:
                self._batches.append(self.buffer.take())
                self._batched += self._batches[-1].num_rows
                if self._batched >= self.spec.flush_rows:
                    self._flush_rows()

    def _send(self, k: int, req: _Prepared, due: int) -> None:
        sent = time.monotonic_ns()
        self.sent[k] += 1
        status, error, size, digest = 0, "none", 0, None
        try:
            with gevent.Timeout(self.spec.timeout_s, _RequestTimeout):
                response = self.clients[k].request(
                    req.method, req.path, body=req.body, headers=req.headers[k]
                )
                body = response.read()
            status = response.status_code
            size = len(body)
            digest = hashlib.sha256(body).hexdigest()
        except (Exception, _RequestTimeout) as exc:
            error = _error_kind(exc)
        end = time.monotonic_ns()
        t0 = self.t0_mono
        self.buffer.append(
            self.names[k],
            req.idx,
            req.route,
            req.method,
            due,
            sent - t0,
            end - t0,
            status,
            error,
            size,
            digest,
            session=req.session,
            orig_status=req.orig_status,
            orig_location_route=req.orig_location_route,
        )
        self.done[k] += 1
        if error != "none":
            self.errors[k] += 1
        self.lags[k].append(sent - t0 - due)

    def _flush_rows(self, final: bool = False) -> None:
        # parquet encoding runs in a real thread (it releases the GIL) so the dispatcher keeps time
        if self._flush is not None:
            self._flush.get()
            self._flush = None
        if self.buffer.count:
            self._batches.append(self.buffer.take())
        batches, self._batches, self._batched = self._batches, [], 0
        if final:
            self.writer.write(batches)
            self.writer.close()
        else:
            self._flush = gevent.get_hub().threadpool.spawn(self.writer.write, batches)

    def _tick(self) -> None:
        parent = os.getppid()
        while True:
            gevent.sleep(1.0)
            self._tick_once()
            if os.getppid() != parent:  # orphaned: the orchestrator died, stop sending
                self.stop()

    def _tick_once(self) -> None:
        now_cpu, now_wall = time.process_time(), time.monotonic()
        last_cpu, last_wall = self._last
        self._last = (now_cpu, now_wall)
        p99 = {}
        for name, lags in zip(self.names, self.lags, strict=True):
            ordered = sorted(lags)
            p99[name] = ordered[int(0.99 * (len(ordered) - 1))] / 1e6 if ordered else 0.0
        self.lags = [[] for _ in self.names]
        self.report(
            "progress",
            worker=self.worker,
            sent=dict(zip(self.names, self.sent, strict=True)),
            done=dict(zip(self.names, self.done, strict=True)),
            errors=dict(zip(self.names, self.errors, strict=True)),
            lag_p99_ms=p99,
            cpu=(now_cpu - last_cpu) / max(1e-3, now_wall - last_wall),
        )
