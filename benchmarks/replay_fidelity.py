"""Fidelity at the server: a capture scheduled at 2,000 req/s for 30 s, replayed by Locust.

    .venv/bin/python benchmarks/replay_fidelity.py [--rate 2000] [--seconds 30] [--processes 1]
        [--pin] [--keep DIR] [--ordering session|schedule] [--think exponential|fixed]

The fast fixed-response server of replay_fastserver.py (its own process) notes when each
request arrives; with one distinct path per request, each arrival is matched to its schedule:
``arrival - (t0 + i / rate)``. Reports that deviation at the server (p50/p99/max), next to what
the harness reports itself (send lag = sent - due, per request in requests.parquet), the
achieved rate and the load average before and after. ``--pin`` runs the server on core 1 and the
harness on core 0 (``taskset``). Goal (issue 11): p99 at the server <= 2 ms.

The load: one GET every ``1 / rate`` s from 200 clients (sessions), each answered in 1 ms in the
capture. In session order (``--ordering session``) every request of a client awaits that
client's previous answer, then its think time (mean 100 ms at 2,000 req/s); the fast server
answers in about as long as the capture says, so most requests are released by an answer rather
than by the schedule, and a client's schedule moves by its waits (``wait_ms``): the deviation at
the server is taken against that moved schedule. ``--think exponential`` (default) draws each
request's client at random (fixed seed): think times are exponential, as users' are.
``--think fixed`` gives request ``i`` to client ``i % 200``: the same 99 ms think time for
every client, so answers that come back together release the next requests together, cycle
after cycle (a lockstep no real traffic has; kept to compare with earlier figures).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from replay_common import fast_server, load_average, pin_to, server_deviations, steady_capture

from harness.replay import ReplayOptions, ReplayTarget, replay


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--pin", action="store_true", help="server on core 1, harness on core 0")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run directory here")
    parser.add_argument(
        "--ordering",
        choices=("schedule", "session"),
        default="schedule",
        help="default schedule; in session order the deviation is taken from each request's "
        "schedule moved by its session wait (wait_ms)",
    )
    parser.add_argument(
        "--think",
        choices=("exponential", "fixed"),
        default="exponential",
        help="clients' think times: exponential (default; clients drawn at random) or fixed "
        "(request i from client i %% 200, in lockstep)",
    )
    args = parser.parse_args()
    before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        arrivals = Path(tmp) / "arrivals.tsv"
        capture = steady_capture(
            Path(tmp) / "steady.capture.parquet",
            args.rate,
            args.seconds,
            unique=True,
            think=args.think,
        )
        with fast_server(arrivals, core=1 if args.pin else None) as url:
            pin_to(0 if args.pin else None)
            result = replay(
                capture,
                [ReplayTarget("server", url)],
                args.keep or Path(tmp) / "run",
                ReplayOptions(processes=args.processes, lag_bound_ms=1000, ordering=args.ordering),
            )
        run = args.keep or Path(tmp) / "run"
        rows = pq.read_table(run / "requests.parquet", columns=["idx", "wait_ms"]).to_pydict()
        moved = {i: w or 0.0 for i, w in zip(rows["idx"], rows["wait_ms"], strict=True)}
        at_server = server_deviations(arrivals, result.t0_ns, args.rate, moved)
    counts = result.targets["server"]
    figures = {
        "scheduled_rate_per_s": round(result.scheduled_rate_per_s, 1),
        "achieved_rate_per_s": round(result.achieved_rate_per_s, 1),
        "sent": counts.sent,
        "answered": counts.answered,
        "errors": counts.errors,
        **at_server,
        "lag_p50_ms": round(result.lag_p50_ms, 3),
        "lag_p99_ms": round(result.lag_p99_ms, 3),
        "lag_max_ms": round(result.lag_max_ms, 3),
        "ordering": args.ordering,
        "think": args.think,
        "wait_p50_ms": round(sorted(moved.values())[len(moved) // 2], 3) if moved else 0.0,
        "wait_p99_ms": round(sorted(moved.values())[int(0.99 * (len(moved) - 1))], 3)
        if moved
        else 0.0,
        "pool_waits": counts.pool_waits,
        "worker_cpu_ratio": round(result.cpu_ratio_max, 3),
        "processes": result.workers,
        "pinned": args.pin,
        "load_average_before": before,
        "load_average_after": load_average(),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
