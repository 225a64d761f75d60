"""Benchmark of route learning: what learning parameters costs the import.

Three imports of the same number of GoReplay requests (the DataDog fixture's records, as in
``benchmarks/ingest.py``), each in a fresh subprocess, CPU seconds and peak RSS:

- ``fixture``: the records as they are (17 routes, nothing to learn): the ingest benchmark's
  traffic, so the figure compares with its own;
- ``users``: every request's path rewritten to ``/api/profiles/<one of 50,000 user names>`` (or
  its ``/follow``): a parameter from the first row group on, one route value per user;
- ``late``: the same user paths, but only in the second half: the first row groups are written
  before the parameter exists, so the writer maps the routes again at the end (a rewrite).

Each import runs with learning on and off (``routes.learn: false``), back to back, and the
figures are the differences. Also, in process, the learner alone on a column of routes.

Usage::

    .venv/bin/python benchmarks/routes.py                    # 250,000 requests
    .venv/bin/python benchmarks/routes.py --size 50000       # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import SEP, fixture_records

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
src, out, learn = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "on"
from harness.capture.config import CaptureConfig, RoutesConfig
from harness.capture.ingest import import_capture
from harness.capture.store import capture_metadata, read_capture
config = CaptureConfig(routes=RoutesConfig(learn=learn))
cpu = time.process_time()
meta = import_capture([src], out, config=config)
cpu = time.process_time() - cpu
routes = len(set(read_capture(out, ["route"]).column("route").to_pylist()))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": meta.counts.written, "cpu_s": cpu, "routes": routes,
                  "maxrss_mb": rss / 1024}))
"""


def build(path: Path, n: int, kind: str) -> None:
    """N requests of the fixture; ``users``/``late`` rewrite their paths to per-user ones."""
    records = fixture_records()
    first, last = records[0][1], records[-1][1]
    span = last - first + 1_000_000_000
    rng = random.Random(1)
    with path.open("wb", buffering=1 << 22) as out:
        for i in range(n):
            rid, ts, payload = records[i % len(records)]
            cycle = i // len(records)
            if kind == "users" or (kind == "late" and i >= n // 2):
                line, _, rest = payload.partition(b"\r\n")
                method, _target, version = line.split(b" ")
                user = f"user{rng.randrange(50_000)}x".encode()
                target = b"/api/profiles/" + user + rng.choice([b"", b"/follow"])
                payload = b" ".join((method, target, version)) + b"\r\n" + rest
            out.write(b"1 %s%08x %d\n" % (rid[:32], cycle, ts + cycle * span))
            out.write(payload)
            out.write(SEP)


def measure(src: Path, out: Path, learn: str) -> dict[str, float]:
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(src), str(out), learn],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    result: dict[str, float] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def learner_alone(n: int) -> dict[str, float]:
    """CPU seconds of observe + apply per row group, without the import around it."""
    import pyarrow as pa

    from harness.capture.config import RoutesConfig
    from harness.capture.routelearn import RouteLearner

    rng = random.Random(1)
    out = {}
    for kind in ("few", "users"):
        if kind == "few":
            routes = [rng.choice(["/products", "/cart", "/", "/t/mugs"]) for _ in range(n)]
        else:
            routes = [f"/api/profiles/user{rng.randrange(100_000)}x" for _ in range(n)]
        columns = [pa.array(routes[i : i + 32_768]) for i in range(0, n, 32_768)]
        learner = RouteLearner(RoutesConfig())
        cpu = time.process_time()
        for column in columns:
            learner.observe(column)
            learner.apply(column)
        out[kind] = time.process_time() - cpu
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=250_000)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    alone = learner_alone(args.size)
    print(
        f"learner alone, {args.size:,} routes: {alone['few']:.3f} CPU-s (4 routes), "
        f"{alone['users']:.3f} CPU-s (one per user, 100,000 users)"
    )
    print("| traffic | requests | routes | CPU s learning off | CPU s on | cost | peak RSS MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="routes-bench-") as tmp:
        for kind in ("fixture", "users", "late"):
            src = Path(tmp) / f"{kind}.gor"
            build(src, args.size, kind)
            off = measure(src, Path(tmp) / "off.parquet", "off")
            on = measure(src, Path(tmp) / "on.parquet", "on")
            cost = (on["cpu_s"] - off["cpu_s"]) / off["cpu_s"] * 100
            print(
                f"| {kind} | {int(on['rows']):,} | {int(off['routes']):,} -> {int(on['routes'])} "
                f"| {off['cpu_s']:.2f} | {on['cpu_s']:.2f} | {cost:+.0f} % "
                f"| {off['maxrss_mb']:.0f} / {on['maxrss_mb']:.0f} |",
                flush=True,
            )
            src.unlink()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
