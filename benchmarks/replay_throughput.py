"""Throughput: the highest rate one worker process holds with send lag p99 <= 10 ms.

    .venv/bin/python benchmarks/replay_throughput.py [--seconds 8] [--rates 2000,3000,...]

Steps the scheduled rate up (one ``harness`` worker process, one target: the fast fixed-response
server of replay_fastserver.py in its own process) until p99 send lag exceeds 10 ms or the
achieved rate falls 3 % short, then runs raw Locust FastHttpUser (no schedule, no result rows,
``-u 64``, one process) against the same server in the same run and prints the ratio.
Goal (issue 4): >= 0.8 of raw. ``--scale`` also replays at twice the best rate with 2 processes.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from replay_common import ROOT, fast_server, steady_capture

from harness.replay import ReplayOptions, ReplayTarget, replay

LOCUSTFILE = ROOT / "benchmarks" / "replay_raw_locustfile.py"


def harness_step(url: str, tmp: Path, rate: float, seconds: float, processes: int) -> dict:
    capture = steady_capture(tmp / f"c-{rate:g}.parquet", rate, seconds)
    result = replay(
        capture,
        [ReplayTarget("server", url)],
        tmp / f"run-{rate:g}-{processes}",
        ReplayOptions(processes=processes),
    )
    return {
        "rate": rate,
        "processes": processes,
        "achieved_rate_per_s": round(result.achieved_rate_per_s, 1),
        "lag_p50_ms": round(result.lag_p50_ms, 3),
        "lag_p99_ms": round(result.lag_p99_ms, 3),
        "lag_max_ms": round(result.lag_max_ms, 3),
        "cpu_ratio": round(result.cpu_ratio_max, 3),
        # CPU the worker spent per request: comparable even when the shared machine starves us
        "cpu_ms_per_request": round(result.cpu_ratio_max * 1000 / rate, 4),
        "errors": result.targets["server"].errors,
        "valid": result.valid,
    }


def raw_locust(url: str, tmp: Path, seconds: float, users: int) -> tuple[float, float]:
    """Requests per second of raw FastHttpUser, and its CPU ms per request."""
    prefix = tmp / "raw"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
            "--headless", "-u", str(users), "-r", str(users), "-t", f"{int(seconds)}s",
            "-H", url, "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with (tmp / "raw_stats.csv").open() as stats:
        for row in csv.DictReader(stats):
            if row["Name"] == "Aggregated":
                return float(row["Requests/s"]), cpu_s * 1000 / int(row["Request Count"])
    raise RuntimeError("no Aggregated row in locust stats")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rates", default="2000,3000,4000,5000,6000,7000,8000")
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--scale", action="store_true")
    args = parser.parse_args()
    steps = []
    with tempfile.TemporaryDirectory() as tmp_name, fast_server() as url:
        tmp = Path(tmp_name)
        best = 0.0
        for rate in (float(r) for r in args.rates.split(",")):
            step = harness_step(url, tmp, rate, args.seconds, 1)
            steps.append(step)
            print(json.dumps(step), flush=True)
            if step["lag_p99_ms"] > 10 or step["achieved_rate_per_s"] < 0.97 * rate:
                break
            best = rate
        raw, raw_cpu_ms = raw_locust(url, tmp, max(10.0, args.seconds), args.users)
        scaled = harness_step(url, tmp, 2 * best, args.seconds, 2) if args.scale and best else None
    summary = {
        "best_rate_one_process": best,
        "raw_fasthttpuser_rate": round(raw, 1),
        "ratio_to_raw": round(best / raw, 3) if raw else None,
        "raw_cpu_ms_per_request": round(raw_cpu_ms, 4),
        "harness_cpu_ms_per_request": steps[0]["cpu_ms_per_request"] if steps else None,
        "two_processes_at_twice_best": scaled,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
