"""Fidelity: a capture scheduled at 2,000 req/s for 30 s, replayed by one worker process.

    .venv/bin/python benchmarks/replay_fidelity.py [--rate 2000] [--seconds 30] [--processes 1]

Reports send lag p50/p99/max (sent - due, measured by the worker) and achieved vs scheduled
rate, against the fast fixed-response server of replay_fastserver.py in its own process.
Goal (issue 4): p99 <= 2 ms.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from replay_common import fast_server, steady_capture

from harness.replay import ReplayOptions, ReplayTarget, replay


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--flush-rows", type=int, default=ReplayOptions.flush_rows)
    parser.add_argument("--keep", type=Path, default=None, help="keep the run directory here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fast_server() as url:
        capture = steady_capture(Path(tmp) / "steady.capture.parquet", args.rate, args.seconds)
        result = replay(
            capture,
            [ReplayTarget("server", url)],
            args.keep or Path(tmp) / "run",
            ReplayOptions(processes=args.processes, flush_rows=args.flush_rows),
        )
    counts = result.targets["server"]
    figures = {
        "scheduled_rate_per_s": round(result.scheduled_rate_per_s, 1),
        "achieved_rate_per_s": round(result.achieved_rate_per_s, 1),
        "sent": counts.sent,
        "answered": counts.answered,
        "errors": counts.errors,
        "lag_p50_ms": round(result.lag_p50_ms, 3),
        "lag_p99_ms": round(result.lag_p99_ms, 3),
        "lag_max_ms": round(result.lag_max_ms, 3),
        "worker_cpu_ratio": round(result.cpu_ratio_max, 3),
        "valid": result.valid,
        "reasons": result.reasons,
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
