"""Benchmark: analysis of a run directory with N request rows (default 5 million).

Builds a synthetic run (baseline + candidate, 10 routes, one 15 s database kill, a probe
counter) with pyarrow, then measures, in a fresh child process so that building the data does
not count: loading the run (`load_run`), judging it with the demo gates (`judge`), and writing
the reports (`write_reports`: verdict.json, junit.xml, summary.md, report.html with charts).
Prints wall time per step and the child's peak RSS.

    .venv/bin/python benchmarks/analysis.py --rows 5000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from harness.rundir import PROBES_SCHEMA, RunDir, requests_table

ROUTES = [f"/route{i}" for i in range(8)] + ["/health", "/catalog"]
GATES = {
    "error_rate": {"max_increase_pp": 1.0},
    "latency_p99": {"max_ratio": 1.25},
    "retry_amplification": {"max_ratio": 1.5},
    "recovery_time": {"max": "10s"},
    "cascade": {"max_error_rate": 0.01},
    "response_diff": {"max_share": 0.05},
}


def build(root: Path, rows: int, seconds: float = 600.0) -> None:
    """A run of ``rows`` requests split over two targets, fault at 40% of the run for 15 s."""
    rng = np.random.default_rng(0)
    per_target = rows // 2
    due = np.sort(rng.integers(0, int(seconds * 1e9), per_target)).astype(np.int64)
    route = rng.integers(0, len(ROUTES), per_target)
    fault_start, fault_end = int(seconds * 0.4e9), int((seconds * 0.4 + 15) * 1e9)
    during = (due >= fault_start) & (due < fault_end)
    dependent = route < 8
    hashes = pa.array([hashlib.sha256(str(i).encode()).hexdigest() for i in range(1000)])
    # Same request, same body on both builds (paired by idx), unless it failed.
    bodies = hashes.take(pa.array(rng.integers(0, 1000, per_target))).to_numpy(zero_copy_only=False)
    tables = []
    for name, fault_error, slow in (("baseline", 1.0, 1.0), ("candidate", 1.0, 1.1)):
        failed = (during & dependent & (rng.random(per_target) < fault_error)) | (
            rng.random(per_target) < 0.002
        )
        latency = rng.lognormal(3.0, 0.5, per_target) * slow
        status = np.where(failed, 503, 200).astype(np.int32)
        body = pa.array(np.where(failed, None, bodies))
        tables.append(
            requests_table(
                {
                    "target": pa.array([name] * per_target).dictionary_encode().cast(pa.string()),
                    "idx": np.arange(per_target, dtype=np.int64),
                    "route": pa.array(np.array(ROUTES)[route]),
                    "method": pa.array(["GET"] * per_target),
                    "due_ns": due,
                    "sent_ns": due + 400_000,
                    "lag_ms": np.full(per_target, 0.4),
                    "latency_ms": latency - 0.4,
                    "latency_corrected_ms": latency,
                    "status": status,
                    "error": pa.array(["none"] * per_target),
                    "bytes": np.full(per_target, 200, dtype=np.int64),
                    "body_sha256": body,
                }
            )
        )
    paths = RunDir(root)
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.concat_tables(tables), paths.requests)
    seconds_axis = np.arange(int(seconds) + 1)
    probes = []
    for name, attempts in (("baseline", 1.0), ("candidate", 1.2)):
        counts = np.searchsorted(due, seconds_axis * 1_000_000_000) * attempts
        probes.append(
            pa.table(
                {
                    "t_ns": (seconds_axis * 1_000_000_000).astype(np.int64),
                    "target": [name] * len(seconds_axis),
                    "probe": ["postgres_attempts"] * len(seconds_axis),
                    "value": counts.astype(np.float64),
                },
                schema=PROBES_SCHEMA,
            )
        )
    pq.write_table(pa.concat_tables(probes), paths.probes)
    fault = {
        "id": "f1",
        "label": "postgres down",
        "kind": "down",
        "dependency": "postgres",
        "targets": ["baseline", "candidate"],
        "at_s": seconds * 0.4,
        "for_s": 15.0,
    }
    events = [
        {"t_ns": fault_start, "kind": "fault_applied", "fault": fault},
        {"t_ns": fault_end, "kind": "fault_reverted", "fault": fault},
    ]
    paths.events.write_text("".join(json.dumps(e) + "\n" for e in events))
    manifest = {
        "format_version": 1,
        "run_id": "bench",
        "t0_ns": 0,
        "status": "complete",
        "targets": {
            "baseline": {"url": "http://127.0.0.1:1", "role": "baseline"},
            "candidate": {"url": "http://127.0.0.1:2", "role": "candidate"},
        },
        "scenario": {
            "name": "bench",
            "independent_routes": ["/health", "/catalog"],
            "gates": GATES,
        },
        "validity": {"valid": True, "reasons": []},
    }
    paths.manifest.write_text(json.dumps(manifest))


def measure(root: Path) -> dict[str, float]:
    """Run in the child process: time each step, report peak RSS."""
    from harness.analysis.frames import load_run
    from harness.analysis.verdict import judge
    from harness.report.render import write_reports

    times = {}
    start = time.perf_counter()
    run = load_run(root)
    times["load_s"] = time.perf_counter() - start
    start = time.perf_counter()
    verdict = judge(run)
    times["judge_s"] = time.perf_counter() - start
    start = time.perf_counter()
    write_reports(verdict, run, root / "out")
    times["reports_s"] = time.perf_counter() - start
    times["total_s"] = sum(times.values())
    times["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times["rows"] = float(len(run.requests))
    times["status_" + verdict.status] = 1.0
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as tmp:
        root = Path(tmp) / "run"
        start = time.perf_counter()
        build(root, args.rows)
        print(f"built {args.rows:,} rows in {time.perf_counter() - start:.1f}s", file=sys.stderr)
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(root)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(child.stdout)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
