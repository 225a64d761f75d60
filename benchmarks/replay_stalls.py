"""Where a pinned worker falls behind: late windows of one step against CPU, steal and threads.

    .venv/bin/python benchmarks/replay_stalls.py [--rate 7000] [--seconds 10] [--steps 1]

Each step is one step of ``replay_throughput.py`` (its ``harness_step``: a steady capture at
``--rate``, one worker pinned to core 0, the fast server on core 1). Beside it, a sampler
process on core 1 reads every 20 ms ``/proc/stat`` (busy, idle and steal time per CPU) and the
CPU time of every thread of the benchmark's process tree. Afterwards the step's requests are cut
into windows of 100 ms by due time, and each window whose largest send lag is above 10 ms is
printed with what the samples saw in it and 100 ms either side: CPU 0's busy, idle and steal
jiffies, and the threads that used CPU. Then the whole step per thread and per second.

Steal time in the late windows means the hypervisor took the CPU; CPU 0 busy throughout with the
worker's main thread on top means the worker's own loop needed the whole core there; another
thread on top (the part-file writer, the benchmark process) means it took the core from the
loop.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from replay_common import fast_server, load_average

SAMPLE_S = 0.02
WINDOW_NS = 100_000_000
LATE_MS = 10.0


def cpu_times() -> dict[str, dict[str, int]]:
    """Jiffies per CPU from /proc/stat: busy (user, nice, system, irq, softirq), idle, steal."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3].isdigit():
            name, *fields = line.split()
            v = [int(x) for x in fields]
            out[name] = {
                "busy": v[0] + v[1] + v[2] + v[5] + v[6],
                "idle": v[3] + v[4],
                "steal": v[7],
            }
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    found = [pid]
    try:
        tasks = [t.name for t in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return found
    for tid in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += tree(int(child))
    return found


#: "pid/tid" -> the command line it was first seen with (an exiting process has none)
LABELS: dict[str, str] = {}


def thread_times(pids: list[int]) -> dict[str, int]:
    """CPU jiffies (user + system) of every thread of ``pids``, keyed "pid/tid command"."""
    out = {}
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            label = " ".join(a.decode(errors="replace") for a in command[1:3])
            tids = [t.name for t in Path(f"/proc/{pid}/task").iterdir()]
        except OSError:
            continue
        for tid in tids:
            try:
                stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            key = f"{pid}/{tid}"
            name = LABELS.setdefault(key, f"{key} {label[-40:]}") if label else LABELS.get(key)
            out[name or key] = int(fields[11]) + int(fields[12])
    return out


def sample(root: int, seconds: float, out: Path) -> None:
    """The sampler process: every 20 ms for ``seconds``, deltas of CPUs and threads."""
    pids, scanned = tree(root), time.monotonic()
    cpus, threads = cpu_times(), thread_times(pids)
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(SAMPLE_S)
        if time.monotonic() - scanned > 0.5:
            pids, scanned = tree(root), time.monotonic()
        now_cpus, now_threads = cpu_times(), thread_times(pids)
        samples.append(
            {
                "t": time.time(),
                "cpus": {
                    c: {k: now_cpus[c][k] - cpus[c][k] for k in now_cpus[c]} for c in now_cpus
                },
                "threads": {
                    k: v - threads.get(k, 0)
                    for k, v in now_threads.items()
                    if v - threads.get(k, 0) > 0
                },
            }
        )
        cpus, threads = now_cpus, now_threads
    out.write_text(json.dumps(samples))


def one_step(url: str, tmp: Path, rate: float, seconds: float, number: int) -> None:
    import replay_throughput as rt

    samples = tmp / f"samples-{number}.json"
    os.sched_setaffinity(0, {1})  # the sampler starts on the server's core, not the worker's
    sampler = subprocess.Popen(
        [sys.executable, __file__, "--sample", str(os.getpid()), str(seconds + 8), str(samples)]
    )
    rt.generator_cores(True)
    args = argparse.Namespace(seconds=seconds, ordering="schedule", max_connections=256)
    config = {"name": "1p", "processes": 1, "pinned": True}
    step = rt.harness_step(url, tmp, rate, args, config, attempt=number)
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    sampler.wait()
    run = tmp / f"run-{rate:g}-1p-{number}"
    report(step, run, json.loads(samples.read_text()))


def report(step: dict, run: Path, samples: list[dict]) -> None:
    t0_s = json.loads((run / "manifest.json").read_text())["t0_ns"] / 1e9
    table = pq.read_table(run / "requests.parquet", columns=["due_ns", "lag_ms", "latency_ms"])
    due = table.column("due_ns").to_numpy()
    lag = table.column("lag_ms").to_numpy()
    latency = table.column("latency_ms").to_numpy()
    print(
        json.dumps(
            {k: step[k] for k in ("rate", "lag_p99_ms", "cpu_ms_per_request", "cpu_cores", "held")}
        )
    )
    late = lag > LATE_MS
    print(
        f"requests {len(lag)}, later than {LATE_MS:g} ms: {int(late.sum())}; latency p50 "
        f"over the step {np.median(latency):.2f} ms; steal jiffies over the step: "
        + ", ".join(
            f"{c} {sum(s['cpus'][c]['steal'] for s in samples)}" for c in samples[0]["cpus"]
        )
    )
    windows = due // WINDOW_NS
    for window in np.unique(windows[late]):
        inside = windows == window
        if lag[inside].max() <= LATE_MS:
            continue
        start = t0_s + window * WINDOW_NS / 1e9 - 0.1
        end = start + 0.3
        near = [s for s in samples if start <= s["t"] <= end + SAMPLE_S]
        cpu0 = {k: sum(s["cpus"]["cpu0"][k] for s in near) for k in ("busy", "idle", "steal")}
        threads: dict[str, int] = {}
        for s in near:
            for name, jiffies in s["threads"].items():
                threads[name] = threads.get(name, 0) + jiffies
        top = sorted(threads.items(), key=lambda kv: -kv[1])[:3]
        print(
            f"  {window * WINDOW_NS / 1e9:5.1f} s: max lag {lag[inside].max():6.1f} ms, "
            f"{int((lag[inside] > LATE_MS).sum())} late, latency p50 "
            f"{np.median(latency[inside]):.2f} ms; cpu0 busy {cpu0['busy']} idle {cpu0['idle']} "
            f"steal {cpu0['steal']} (jiffies, 0.3 s); threads {top}"
        )
    totals: dict[str, int] = {}
    for s in samples:
        for name, jiffies in s["threads"].items():
            totals[name] = totals.get(name, 0) + jiffies
    top = sorted(totals.items(), key=lambda kv: -kv[1])[:6]
    print("  whole step, jiffies per thread:", top)
    names = [name for name, _ in top[:3]]
    per_second: dict[int, list[int]] = {}
    for s in samples:
        second = int(np.floor(s["t"] - t0_s))
        row = per_second.setdefault(second, [0] * len(names))
        for i, name in enumerate(names):
            row[i] += s["threads"].get(name, 0)
    print("  per second from t0 (same threads):", dict(sorted(per_second.items())))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--sample":
        sample(int(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=7000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--steps", type=int, default=1)
    args = parser.parse_args()
    import replay_throughput as rt

    rt.raise_open_files()
    print("load average before", load_average())
    with tempfile.TemporaryDirectory() as name, fast_server(core=1) as url:
        for number in range(1, args.steps + 1):
            one_step(url, Path(name), args.rate, args.seconds, number)
    print("load average after", load_average())


if __name__ == "__main__":
    main()
