"""Start the replay's Locust processes (the orchestrator's side; no gevent here).

Three shapes, all Locust runners (:mod:`harness.replay.user` runs in each worker):

- **one process** (``--processes 1``): ``harness.replay.worker``, a Locust ``LocalRunner``;
  the orchestrator tells it t0 on its stdin once it is ready;
- **local processes** (``--processes N``): ``harness.replay.master`` (a Locust
  ``MasterRunner`` on a free loopback port) and N ``harness.replay.remote`` workers (Locust
  ``WorkerRunner``) that write their part files straight into the run's work folder;
- **distributed** (``--master``): the master alone; ``harness worker`` processes on other
  machines join it.

The process that aggregates Locust's stats (the single process or the master) serves the web UI
and writes Locust's CSV and HTML; every Locust process imports the user's locustfile.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

from harness.replay.model import ReplayOptions
from harness.replay.processes import WorkerGroup
from harness.replay.spec import ShardSpec

#: how long workers may take to load the capture and open connections
READY_TIMEOUT_S = 120.0
#: t0 is at least this far after the last worker reported ready
READY_MARGIN_NS = 200_000_000


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (for a local master)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_single(
    group: WorkerGroup,
    template: ShardSpec,
    options: ReplayOptions,
    t0_ns: int | None,
    work: Path,
    *,
    stop: threading.Event | None,
) -> int | None:
    """Start the one-process replay; returns t0. Unless the caller fixed t0, it is chosen once
    the process is ready (capture loaded, connections open), and at least ``start_delay_s``
    after the start, so a slow start does not show up as send lag. ``None``: not ready."""
    started = time.time_ns()
    spec = replace(template, shard=0, t0_ns=t0_ns or 0, part=str(work / "part-0.parquet"))
    path = work / "worker-0.json"
    path.write_text(spec.to_json())
    args = ["harness.replay.worker", str(path), "--worker", "0", *options.locust.args(True)]
    group.start("worker 0", args, work / "worker-0.log", stdin=t0_ns is None)
    if t0_ns is not None:
        return t0_ns
    if not group.wait_ready(READY_TIMEOUT_S, stop):
        group.send_t0(0)  # no start: the process exits
        return None
    t0 = max(time.time_ns() + READY_MARGIN_NS, started + int(options.start_delay_s * 1e9))
    group.send_t0(t0)
    return t0


def start_master(
    group: WorkerGroup,
    template: ShardSpec,
    options: ReplayOptions,
    t0_ns: int | None,
    work: Path,
) -> float:
    """Start a Locust master, and its local workers unless the replay is distributed; returns
    how long the master may wait for its workers before t0."""
    master = options.master
    if master is None:
        host, port, expect, wait_s = "127.0.0.1", free_port(), template.shards, READY_TIMEOUT_S
    else:
        host, port, expect, wait_s = (
            master.bind_host,
            master.port,
            master.expect_workers,
            master.wait_s,
        )
    path = work / "master.json"
    path.write_text(template.to_json())
    args = [
        "harness.replay.master", str(path),
        "--bind-host", host,
        "--port", str(port),
        "--expect-workers", str(expect),
        "--wait", str(wait_s),
        "--start-delay", str(options.start_delay_s),
        "--parts", str(work),
        *options.locust.args(True),
    ]  # fmt: skip
    if t0_ns is not None:
        args += ["--t0-ns", str(t0_ns)]
    group.start("master", args, work / "master.log")
    if master is None:
        for k in range(expect):
            worker = [
                "harness.replay.remote",
                "--master-host", "127.0.0.1",
                "--master-port", str(port),
                "--wait", str(wait_s),
                "--part-dir", str(work),
                *options.locust.args(False),
            ]  # fmt: skip
            group.start(f"worker {k}", worker, work / f"worker-{k}.log")
    return wait_s
