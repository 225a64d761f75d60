"""CPU per request of the harness's replay in two source trees, alternating, at one fixed rate.

    .venv/bin/python benchmarks/replay_cpu_ab.py --before TREE --after TREE
        [--rate 6000] [--pairs 8] [--seconds 10] [--ordering schedule|session]

On this virtual machine the CPU per request of the same code moves by up to 40 % between runs
minutes apart, so one run of each tree says little: this runs ``--pairs`` pairs, each the
``before`` tree then the ``after`` tree, and reports the medians and the paired differences.
Each run is one step of ``replay_throughput.py`` (its ``harness_step``: a steady capture at
``--rate`` for ``--seconds``, replayed by one pinned worker process on core 0 against the fast
server on core 1, CPU per request over the middle of the run), in a fresh process that imports
the tree's own ``harness`` and ``benchmarks`` (a tree is a checkout or worktree of this
repository: ``git worktree add /tmp/before <commit>``).

Prints one JSON line per run, then a Markdown table with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def step(tree: Path, rate: float, seconds: float, ordering: str) -> dict:
    """One harness step of ``tree`` (run in a process of its own, see :func:`main`)."""
    sys.path.insert(0, str(tree / "benchmarks"))
    import replay_throughput as rt  # the tree's own (its replay_common puts the tree first)
    from replay_common import fast_server

    rt.raise_open_files()
    config = {"name": "1p", "processes": 1, "pinned": True}
    args = argparse.Namespace(seconds=seconds, ordering=ordering, max_connections=256)
    with tempfile.TemporaryDirectory() as tmp_name, fast_server(core=1) as url:
        rt.generator_cores(True)
        return rt.harness_step(url, Path(tmp_name), rate, args, config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="the tree measured first in each pair")
    parser.add_argument("--after", type=Path, help="the tree measured second in each pair")
    parser.add_argument("--rate", type=float, default=6000.0, help="requests per second")
    parser.add_argument("--pairs", type=int, default=8, help="pairs of runs")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--ordering", choices=("schedule", "session"), default="schedule")
    parser.add_argument("--step", type=Path, help=argparse.SUPPRESS)  # internal: one run
    args = parser.parse_args()
    if args.step is not None:
        print(json.dumps(step(args.step, args.rate, args.seconds, args.ordering)), flush=True)
        return
    if args.before is None or args.after is None:
        parser.error("--before and --after are required")
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for pair in range(1, args.pairs + 1):
        for name, tree in trees.items():
            command = [
                sys.executable, __file__, "--step", str(tree), "--rate", str(args.rate),
                "--seconds", str(args.seconds), "--ordering", args.ordering,
            ]  # fmt: skip
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run(
                command, cwd=tree, env=env, capture_output=True, text=True, check=False
            )
            if out.returncode != 0:
                sys.exit(f"run of {tree} failed: {out.stderr.strip().splitlines()[-1:]}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result.update(pair=pair, tree=name)
            runs[name].append(result)
            print(json.dumps(result), flush=True)
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(_table(runs, args, load_before, load_after))


def _table(runs: dict[str, list[dict]], args: argparse.Namespace, before: str, after: str) -> str:
    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    diffs = [
        a["cpu_ms_per_request"] - b["cpu_ms_per_request"]
        for b, a in zip(runs["before"], runs["after"], strict=True)
    ]
    lines = [
        f"{args.pairs} pairs at {args.rate:g} req/s, {args.seconds:g} s each, "
        f"{args.ordering} order, pinned; load average before {before}, after {after}",
        "",
        "| tree | CPU / req min-max | median | lag p99 median | held (p99 <= 10 ms) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name in ("before", "after"):
        cpu = [r["cpu_ms_per_request"] for r in runs[name]]
        held = sum(1 for r in runs[name] if r["held"])
        lines.append(
            f"| {name} | {min(cpu):.4f}-{max(cpu):.4f} ms | {med(name, 'cpu_ms_per_request'):.4f}"
            f" ms | {med(name, 'lag_p99_ms'):.2f} ms | {held} of {len(cpu)} |"
        )
    lower = sum(1 for d in diffs if d < 0)
    lines += [
        "",
        f"after - before, paired: median {statistics.median(diffs):+.4f} ms; after lower in "
        f"{lower} of {len(diffs)} pairs",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
