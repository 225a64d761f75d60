"""Throughput side by side: the harness against raw Locust FastHttpUser, in one run.

    .venv/bin/python benchmarks/replay_throughput.py [--seconds 10] [--configs 1,1p,2,2p]
        [--low 2000] [--high 14000] [--steps 5] [--retries 1] [--max-connections 256]
        [--ordering schedule|session]

One target, the fast fixed-response server of replay_fastserver.py in its own process (its
open-files limit raised to the hard maximum, keep-alive connections). Each configuration of
``--configs`` is a number of generator processes, ``p`` for pinned: the server on core 1 and
every generator process (the harness's Locust workers, raw Locust's) on core 0 (``taskset``), so
server and generators do not take each other's core; unpinned, the kernel places all of them on
the machine's cores. For each configuration:

1. The harness replays steady captures with that many processes, the rate searched by bisection
   between ``--low`` and ``--high`` (``--steps`` steps of ``--seconds`` each, rates rounded to
   250/s): a step is held when the send lag p99 is at most 10 ms and the achieved rate is at
   least 97 % of the scheduled one. A step that is not held is run again, up to ``--retries``
   times, and counts as held when one of its runs is (``attempt`` in its JSON line): on this
   virtual machine a single stall of 40-100 ms, which takes 1 % of a raw closed loop's
   requests, puts the p99 of a whole step over 10 ms, and one such step ends the bisection's
   upper half. The pool of the target is bounded (``--max-connections``
   over all workers), so a server that falls behind makes sends wait for a connection (late,
   not held) instead of opening thousands of connections.
2. Raw Locust FastHttpUser (``replay_raw_locustfile.py``: closed loop, no schedule, no rows,
   ``-u 64``) with the same number of processes runs against the same server right after; each
   of its processes counts its requests every 0.25 s (``RAW_COUNTS``), so its rate is read over
   the same kind of window as the harness's, also with several processes.
3. CPU per request is measured the same way for both: the CPU time of the generator's processes
   (sampled from /proc every 0.25 s) over the same kind of window, the middle of the run (1 s
   after the first request to 1 s before the last), divided by the requests sent in it.

Prints one JSON line per step and a Markdown table per run with the load average before and
after. Goal (issue 11): sustained rate >= 0.8 of raw FastHttpUser with the same processes.
``--pin`` and ``--scale`` (older command lines) mean ``--configs 1p`` and ``--configs 1,2``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
from replay_common import ROOT, fast_server, load_average, steady_capture

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


def raise_open_files() -> None:
    """Open files up to the hard limit (the children started from here inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def generator_cores(pinned: bool) -> None:
    """This process and those it starts from now on: core 0 when pinned, else every core."""
    os.sched_setaffinity(0, {0} if pinned else set(range(os.cpu_count() or 1)))


def harness_step(
    url: str, tmp: Path, rate: float, args: argparse.Namespace, config: dict, attempt: int = 1
) -> dict:
    processes = config["processes"]
    capture = steady_capture(tmp / f"c-{rate:g}.parquet", rate, args.seconds)
    run_dir = tmp / f"run-{rate:g}-{config['name']}-{attempt}"
    options = ReplayOptions(
        processes=processes,
        lag_bound_ms=1000,
        ordering=args.ordering,
        max_connections=args.max_connections,
    )
    # the Locust processes of the replay (not the orchestrator, which idles, nor the server)
    with CpuSampler(os.getpid(), only="harness.replay.") as sampler:
        result = replay(capture, [ReplayTarget("server", url)], run_dir, options)
    sent = pq.read_table(run_dir / "requests.parquet", columns=["sent_ns"]).column("sent_ns")
    sent_s = sorted(result.t0_ns / 1e9 + s / 1e9 for s in sent.to_pylist())
    start, end = sent_s[0] + 1.0, sent_s[-1] - 1.0
    in_window = sum(1 for s in sent_s if start <= s <= end)
    cpu = sampler.cpu_between(start, end)
    return {
        "tool": "harness",
        "config": config["name"],
        "ordering": args.ordering,
        "rate": rate,
        "processes": processes,
        "pinned": config["pinned"],
        "achieved_rate_per_s": round(result.achieved_rate_per_s, 1),
        "lag_p50_ms": round(result.lag_p50_ms, 3),
        "lag_p99_ms": round(result.lag_p99_ms, 3),
        "window_rate_per_s": round(in_window / (end - start), 1),
        "cpu_ms_per_request": round(cpu * 1000 / max(1, in_window), 4),
        "cpu_cores": round(cpu / (end - start), 3),
        "errors": result.targets["server"].errors,
        "held": result.lag_p99_ms <= 10 and result.achieved_rate_per_s >= 0.97 * rate,
    }


def raw_locust(url: str, tmp: Path, seconds: float, users: int, config: dict) -> dict:
    """Raw FastHttpUser, closed loop: its rate and CPU per request in the middle window."""
    processes = config["processes"]
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
        "--headless", "-u", str(users), "-r", str(users), "-t", f"{int(seconds)}s",
        "-H", url, "--only-summary",
        "--loglevel", "WARNING",
    ]  # fmt: skip
    if processes > 1:
        command += ["--processes", str(processes)]
    counts = tmp / f"counts-{config['name']}"
    counts.mkdir()
    environment = {**os.environ, "RAW_COUNTS": str(counts)}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=environment)
    with CpuSampler(process.pid) as sampler:
        process.wait()
    series = [_read_counts(path) for path in sorted(counts.glob("*.tsv"))]
    series = [points for points in series if points and points[-1][1] > 0]
    first = min(next(t for t, c in points if c > 0) for points in series)
    last = max(_last_increase(points) for points in series)
    start, end = first + 1.0, last - 1.0
    requests = sum(_count_at(p, end) - _count_at(p, start) for p in series)
    window = end - start
    cpu = sampler.cpu_between(start, end)
    return {
        "tool": "raw FastHttpUser",
        "config": config["name"],
        "processes": processes,
        "pinned": config["pinned"],
        "window_rate_per_s": round(requests / window, 1),
        "cpu_ms_per_request": round(cpu * 1000 / max(1, requests), 4),
        "cpu_cores": round(cpu / window, 3),
    }


def _read_counts(path: Path) -> list[tuple[float, int]]:
    points = []
    for line in path.read_text().splitlines():
        at, count = line.split("\t")
        points.append((float(at), int(count)))
    return points


def _last_increase(points: list[tuple[float, int]]) -> float:
    """When the count last grew (the end of that process's sending)."""
    final = points[-1][1]
    return next(t for t, c in points if c == final)


def _count_at(points: list[tuple[float, int]], at: float) -> float:
    """Requests counted by ``at``, interpolated between the samples around it."""
    before = [(t, c) for t, c in points if t <= at]
    after = [(t, c) for t, c in points if t > at]
    if not before:
        return 0.0
    if not after:
        return float(before[-1][1])
    (t1, c1), (t2, c2) = before[-1], after[0]
    return c1 + (c2 - c1) * (at - t1) / (t2 - t1)


def search(url: str, tmp: Path, args: argparse.Namespace, config: dict) -> dict | None:
    """The highest held rate found by bisection between ``--low`` and ``--high``."""
    low, high, best = args.low, args.high, None
    for _ in range(args.steps):
        rate = float(round((low + high) / 2 / 250) * 250)
        for attempt in range(1, args.retries + 2):
            step = harness_step(url, tmp, rate, args, config, attempt)
            step["attempt"] = attempt
            print(json.dumps(step), flush=True)
            if step["held"]:
                break
        if step["held"]:
            low, best = rate, step
        else:
            high = rate
    return best


def parse_configs(text: str) -> list[dict]:
    configs = []
    for item in text.split(","):
        name = item.strip()
        configs.append(
            {"name": name, "processes": int(name.rstrip("p")), "pinned": name.endswith("p")}
        )
    return configs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each step")
    parser.add_argument(
        "--configs",
        default=None,
        help="generator processes per configuration, 'p' = pinned (default 1, or 1p with --pin)",
    )
    parser.add_argument("--low", type=float, default=2000.0, help="bisection: lowest rate")
    parser.add_argument("--high", type=float, default=14000.0, help="bisection: highest rate")
    parser.add_argument("--steps", type=int, default=5, help="bisection steps per configuration")
    parser.add_argument(
        "--retries", type=int, default=1, help="runs more of a step that is not held (0: none)"
    )
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument(
        "--max-connections", type=int, default=256, help="the harness's pool, over all workers"
    )
    parser.add_argument("--pin", action="store_true", help="(older) --configs 1p")
    parser.add_argument("--scale", action="store_true", help="(older) add 2 processes")
    parser.add_argument(
        "--ordering",
        choices=("schedule", "session"),
        default="schedule",
        help="the harness's ordering (default schedule: raw Locust has no session order; in "
        "session order each session of the synthetic capture waits for its previous answer plus "
        "the captured think time, so a target slower than the captured 1 ms moves the schedule)",
    )
    args = parser.parse_args()
    names = args.configs or ("1p" if args.pin else "1")
    if args.scale and not args.configs:
        names += ",2p" if args.pin else ",2"
    configs = parse_configs(names)
    raise_open_files()
    before = load_average()
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for pinned in (False, True):
            group = [c for c in configs if c["pinned"] == pinned]
            if not group:
                continue
            generator_cores(False)  # the server is not pinned to core 0 by inheritance
            with fast_server(core=1 if pinned else None) as url:
                generator_cores(pinned)
                for config in group:
                    best = search(url, tmp, args, config)
                    raw = raw_locust(url, tmp, max(6.0, args.seconds + 2), args.users, config)
                    print(json.dumps(raw), flush=True)
                    results.append((config, best, raw))
        generator_cores(False)
    after = load_average()
    summary = [
        {
            "config": config["name"],
            "held_rate": best["rate"] if best else None,
            "raw_rate": raw["window_rate_per_s"],
            "ratio_to_raw": round(best["rate"] / raw["window_rate_per_s"], 3) if best else None,
            "harness_cpu_ms_per_request": best["cpu_ms_per_request"] if best else None,
            "raw_cpu_ms_per_request": raw["cpu_ms_per_request"],
        }
        for config, best, raw in results
    ]
    print(json.dumps({"load_before": before, "load_after": after, "configs": summary}))
    print(_table(results, args, before, after))


def _table(results: list[tuple[dict, dict | None, dict]], args: argparse.Namespace,
           before: str, after: str) -> str:  # fmt: skip
    lines = [
        f"load average before {before}, after {after}; steps of {args.seconds:g} s, "
        f"bisection {args.low:g}-{args.high:g} in {args.steps} steps, a step not held run "
        f"again up to {args.retries} time(s)",
        "",
        "| processes | pinned | harness held | lag p99 | CPU / req | cores | raw FastHttpUser "
        "| CPU / req | cores | ratio |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for config, best, raw in results:
        pinned = "yes" if config["pinned"] else "no"
        if best is None:
            held = f"< {round((args.low + args.high) / 2 / 250) * 250:,.0f}"
            harness = f"{held} | - | - | -"
            ratio = "-"
        else:
            harness = (
                f"{best['rate']:,.0f} | {best['lag_p99_ms']:.2f} ms | "
                f"{best['cpu_ms_per_request']:.4f} ms | {best['cpu_cores']:.2f}"
            )
            ratio = f"{best['rate'] / raw['window_rate_per_s']:.2f}"
        lines.append(
            f"| {config['processes']} | {pinned} | {harness} | {raw['window_rate_per_s']:,.0f} | "
            f"{raw['cpu_ms_per_request']:.4f} ms | {raw['cpu_cores']:.2f} | {ratio} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
