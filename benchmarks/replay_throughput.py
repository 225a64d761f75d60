"""Throughput side by side: the harness against raw Locust FastHttpUser, in one run.

    .venv/bin/python benchmarks/replay_throughput.py [--seconds 8] [--rates 2000,3000,...]
        [--pin] [--scale] [--ordering schedule|session]

One target, the fast fixed-response server of replay_fastserver.py in its own process. With
``--pin`` the server runs on core 1 and every generator (the harness's Locust processes, raw
Locust) on core 0 (``taskset``), so the two do not take each other's core.

1. The harness (one Locust process) replays steady captures at rising rates until a step
   is not held (send lag p99 above 10 ms or the achieved rate 3 % short).
2. Raw Locust FastHttpUser (``replay_raw_locustfile.py``: closed loop, no schedule, no rows,
   ``-u 64``, one process) runs against the same server right after.
3. CPU per request is measured the same way for both: the CPU time of the generator's processes
   (sampled from /proc every 0.25 s) over the same kind of window, the middle of the run (1 s
   after the first request to 1 s before the last), divided by the requests sent in it.
4. ``--scale``: both again with two processes, unpinned (two cores for server and generators).

Prints one JSON line per step and a Markdown table with the load average before and after.
Goal (issue 11): sustained rate >= 0.8 of raw FastHttpUser.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
from replay_common import ROOT, fast_server, load_average, pin_to, steady_capture

from harness.replay import ReplayOptions, ReplayTarget, replay

LOCUSTFILE = ROOT / "benchmarks" / "replay_raw_locustfile.py"


class CpuSampler:
    """CPU seconds of a process tree over time (every ``every`` s, in a thread)."""

    def __init__(self, root: int, every: float = 0.25, only: str = "") -> None:
        self.root, self.every, self.only = root, every, only
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_cpu(self) -> float:
        try:
            parent = psutil.Process(self.root)
            procs = [parent, *parent.children(recursive=True)]
            if self.only:  # only the processes whose command line says so
                procs = [p for p in procs if self.only in " ".join(p.cmdline())]
        except psutil.NoSuchProcess:
            return self.samples[-1][1] if self.samples else 0.0
        total = 0.0
        for proc in procs:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self._tree_cpu()))
            self._stop.wait(self.every)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds spent between two epoch times (nearest samples)."""
        inside = [(t, c) for t, c in self.samples if start <= t <= end]
        if len(inside) < 2:
            return float("nan")
        (t1, c1), (t2, c2) = inside[0], inside[-1]
        return (c2 - c1) * (end - start) / (t2 - t1)


def harness_step(
    url: str, tmp: Path, rate: float, seconds: float, processes: int, ordering: str
) -> dict:
    import os

    capture = steady_capture(tmp / f"c-{rate:g}.parquet", rate, seconds)
    run_dir = tmp / f"run-{rate:g}-{processes}"
    # the Locust processes of the replay (not the orchestrator, which idles, nor the server)
    with CpuSampler(os.getpid(), only="harness.replay.") as sampler:
        result = replay(
            capture,
            [ReplayTarget("server", url)],
            run_dir,
            ReplayOptions(processes=processes, lag_bound_ms=1000, ordering=ordering),
        )
    sent = pq.read_table(run_dir / "requests.parquet", columns=["sent_ns"]).column("sent_ns")
    sent_s = sorted(result.t0_ns / 1e9 + s / 1e9 for s in sent.to_pylist())
    start, end = sent_s[0] + 1.0, sent_s[-1] - 1.0
    in_window = sum(1 for s in sent_s if start <= s <= end)
    cpu = sampler.cpu_between(start, end)
    return {
        "tool": "harness",
        "ordering": ordering,
        "rate": rate,
        "processes": processes,
        "achieved_rate_per_s": round(result.achieved_rate_per_s, 1),
        "lag_p50_ms": round(result.lag_p50_ms, 3),
        "lag_p99_ms": round(result.lag_p99_ms, 3),
        "window_rate_per_s": round(in_window / (end - start), 1),
        "cpu_ms_per_request": round(cpu * 1000 / max(1, in_window), 4),
        "cpu_cores": round(cpu / (end - start), 3),
        "errors": result.targets["server"].errors,
        "held": result.lag_p99_ms <= 10 and result.achieved_rate_per_s >= 0.97 * rate,
    }


def raw_locust(url: str, tmp: Path, seconds: float, users: int, processes: int) -> dict:
    """Raw FastHttpUser, closed loop: its rate and CPU per request in the middle window."""
    prefix = tmp / f"raw-{processes}"
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
        "--headless", "-u", str(users), "-r", str(users), "-t", f"{int(seconds)}s",
        "-H", url, "--csv", str(prefix), "--csv-full-history", "--only-summary",
        "--loglevel", "WARNING",
    ]  # fmt: skip
    if processes > 1:
        command += ["--processes", str(processes)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    with CpuSampler(process.pid) as sampler:
        process.wait()
    history = []
    with Path(f"{prefix}_stats_history.csv").open() as rows:
        for row in csv.DictReader(rows):
            if row["Name"] == "Aggregated" and int(row["Total Request Count"]) > 0:
                history.append((float(row["Timestamp"]), int(row["Total Request Count"])))
    first, last = history[0], history[-1]
    start = next(h for h in history if h[0] >= first[0] + 1.0)
    end = [h for h in history if h[0] <= last[0] - 1.0][-1]
    requests = end[1] - start[1]
    window = end[0] - start[0]
    cpu = sampler.cpu_between(start[0], end[0])
    return {
        "tool": "raw FastHttpUser",
        "processes": processes,
        "window_rate_per_s": round(requests / window, 1),
        "cpu_ms_per_request": round(cpu * 1000 / max(1, requests), 4),
        "cpu_cores": round(cpu / window, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rates", default="2000,3000,4000,5000,6000,7000,8000")
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--pin", action="store_true", help="server on core 1, generators on 0")
    parser.add_argument("--scale", action="store_true", help="then two processes, unpinned")
    parser.add_argument(
        "--ordering",
        choices=("schedule", "session"),
        default="schedule",
        help="the harness's ordering (default schedule: raw Locust has no session order; in "
        "session order each session of the synthetic capture waits for its previous answer plus "
        "the captured think time, so a target slower than the captured 1 ms moves the schedule)",
    )
    args = parser.parse_args()
    before = load_average()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with fast_server(core=1 if args.pin else None) as url:
            pin_to(0 if args.pin else None)
            best = None
            for rate in (float(r) for r in args.rates.split(",")):
                step = harness_step(url, tmp, rate, args.seconds, 1, args.ordering)
                rows.append(step)
                print(json.dumps(step), flush=True)
                if not step["held"]:
                    break
                best = step
            raw = raw_locust(url, tmp, max(10.0, args.seconds), args.users, 1)
            rows.append(raw)
            print(json.dumps(raw), flush=True)
        scaled = []
        if args.scale and best is not None:
            import os

            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
            with fast_server() as url:
                scaled.append(
                    harness_step(url, tmp, 2 * best["rate"], args.seconds, 2, args.ordering)
                )
                scaled.append(raw_locust(url, tmp, max(10.0, args.seconds), args.users, 2))
            for row in scaled:
                print(json.dumps(row), flush=True)
    after = load_average()
    held = best["rate"] if best else 0.0
    summary = {
        "pinned": args.pin,
        "ordering": args.ordering,
        "best_rate_one_process": held,
        "raw_fasthttpuser_rate": raw["window_rate_per_s"],
        "ratio_to_raw": round(held / raw["window_rate_per_s"], 3),
        "harness_cpu_ms_per_request": best["cpu_ms_per_request"] if best else None,
        "raw_cpu_ms_per_request": raw["cpu_ms_per_request"],
        "load_average_before": before,
        "load_average_after": after,
    }
    print(json.dumps(summary, indent=2))
    print(_table(rows + scaled, before, after))


def _table(rows: list[dict], before: str, after: str) -> str:
    lines = [
        f"load average before {before}, after {after}",
        "",
        "| tool | processes | scheduled | achieved (window) | lag p99 | CPU / request | cores |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        scheduled = f"{r['rate']:,.0f}" if "rate" in r else "closed loop"
        lag = f"{r['lag_p99_ms']:.2f} ms" if "lag_p99_ms" in r else "-"
        lines.append(
            f"| {r['tool']} | {r['processes']} | {scheduled} | {r['window_rate_per_s']:,.0f} | "
            f"{lag} | {r['cpu_ms_per_request']:.4f} ms | {r['cpu_cores']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
