"""Benchmark of capture ingest: GoReplay (.gor) import speed and memory, next to mitmproxy.io.

What it does, in one run:

1. builds ``.gor`` files of N requests by repeating the 101 real records of the DataDog fixture
   (``tests/capture/data/datadog-ecommerce-requests_0.gor``) with shifted timestamps and ids;
2. imports each with ``harness.capture.ingest.import_capture`` (pseudonyms, the default, or
   ``--redact mask|off``) in a fresh subprocess, and reports wall time, CPU time, requests/s,
   MB/s and peak RSS
   (``resource.getrusage(...).ru_maxrss`` of that subprocess) - two sizes show whether memory
   stays flat as the input grows;
3. writes the first M of the same requests as a mitmproxy flow file (``mitmproxy.io.FlowWriter``)
   and measures ``mitmproxy.io.FlowReader`` reading it, and the harness importing it;
4. with ``--stateful``, builds ``.gor`` files of N requests **with their responses** from the
   synthetic stateful traffic of ``tests/capture/stateful.py`` (API clients that log in and get
   a token in JSON, create articles and comments and use their slugs and ids, read listings;
   browsers that get CSRF forms and session cookies; some answers gzip-compressed or chunked),
   in waves of 100 clients, and imports them the same way: sessions by credential and link
   learning do real work there (the DataDog requests have no responses to learn from).

Usage::

    .venv/bin/python benchmarks/ingest.py                       # 250k and 1M requests, mitm 100k
    .venv/bin/python benchmarks/ingest.py --sizes 20000 --mitm 5000   # a quick smoke run
    .venv/bin/python benchmarks/ingest.py --sizes 250000 --mitm 0 --redact off   # no redaction
    .venv/bin/python benchmarks/ingest.py --sizes --mitm 0 --stateful 250000 1000000

Files go to a temporary directory that is removed at the end (about 1.3 GB at 1M requests).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.capture.stateful, the stateful traffic generator
FIXTURE = ROOT / "tests" / "capture" / "data" / "datadog-ecommerce-requests_0.gor"
SEP = "\n🐵🙈🙉\n".encode()


def fixture_records() -> list[tuple[bytes, int, bytes]]:
    """(id, ts_ns, payload) of every record of the DataDog fixture."""
    records = []
    for part in FIXTURE.read_bytes().split(SEP):
        if part.strip():
            header, _, payload = part.partition(b"\n")
            _, rid, ts = header.split()
            records.append((rid, int(ts), payload))
    return records


def build_gor(path: Path, n: int) -> None:
    """N requests: the fixture repeated, each copy shifted past the previous one in time."""
    records = fixture_records()
    first, last = records[0][1], records[-1][1]
    span = last - first + 1_000_000_000
    with path.open("wb", buffering=1 << 22) as out:
        for i in range(n):
            rid, ts, payload = records[i % len(records)]
            cycle = i // len(records)
            out.write(b"1 %s%08x %d\n" % (rid[:32], cycle, ts + cycle * span))
            out.write(payload)
            out.write(SEP)


def build_stateful_gor(path: Path, n: int) -> None:
    """N requests (and their responses) of stateful clients, in waves of 100 clients."""
    from tests.capture.gorfiles import SEP as GOR_SEP
    from tests.capture.stateful import T0, stateful_traffic

    written = wave = 0
    t0 = T0
    with path.open("wb", buffering=1 << 22) as out:
        while written < n:
            traffic = stateful_traffic(
                api=60, browsers=40, rounds=3, seed=wave, first_client=wave * 100 % 40_000, t0=t0
            )
            for record in traffic.records:
                if record.kind == 1:
                    if written == n:
                        break
                    written += 1
                out.write(record.encode())
                out.write(GOR_SEP)
            t0 = traffic.records[-1].ts + 1_000_000
            wave += 1


def build_flows(path: Path, n: int) -> None:
    """The first N requests of the same traffic as a mitmproxy flow file."""
    from mitmproxy import connection, http, io

    records = fixture_records()
    first, last = records[0][1], records[-1][1]
    span = last - first + 1_000_000_000
    with path.open("wb") as fo:
        writer = io.FlowWriter(fo)
        for i in range(n):
            _, ts, payload = records[i % len(records)]
            ts += (i // len(records)) * span
            head, _, body = payload.partition(b"\r\n\r\n")
            line, *lines = head.split(b"\r\n")
            method, target, version = line.split(b" ")
            headers = [tuple(x.split(b": ", 1)) for x in lines]
            host = dict(headers).get(b"Host", b"localhost").decode()
            request = http.Request(
                host.split(":")[0], int(host.split(":")[1]) if ":" in host else 80,
                method, b"http", host.encode(), target, version,
                http.Headers(headers), body, None, ts / 1e9, ts / 1e9 + 0.001,
            )  # fmt: skip
            client = connection.Client(
                peername=("10.0.0.1", 40000 + i % 1000), sockname=("10.0.0.2", 80),
                timestamp_start=ts / 1e9,
            )  # fmt: skip
            server = connection.Server(address=(host.split(":")[0], 80))
            flow = http.HTTPFlow(client, server)
            flow.request = request
            writer.add(flow)


CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, src, out, redact = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
# imports first: the figures are for reading, not for starting Python
from harness.capture.ingest import import_capture
from mitmproxy import io, http
wall, cpu = time.perf_counter(), time.process_time()
extra = {}
if mode == "import":
    kind = "pseudonym" if redact == "off" else redact
    meta = import_capture([src], out, redact=redact != "off", redact_mode=kind)
    count = meta.counts.written
    extra = {"links": meta.links.links, "sessions_by": meta.sessions.requests_by}
else:
    with src.open("rb") as fo:
        count = sum(1 for _ in io.FlowReader(fo).stream())
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"records": count, "wall_s": wall, "cpu_s": cpu, "maxrss_kb": rss, **extra}))
"""


def measure(mode: str, src: Path, out: Path, redact: str = "pseudonym") -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (so peak RSS is its own)."""
    load = os.getloadavg()[0]  # other work on the machine: note it with the figures
    run = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(src), str(out), redact],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    result["load_before"] = load
    result["load_after"] = os.getloadavg()[0]
    size = src.stat().st_size
    result["input_mb"] = size / 1e6
    result["per_s"] = result["records"] / result["wall_s"]
    result["per_cpu_s"] = result["records"] / result["cpu_s"]
    result["mb_per_s"] = size / 1e6 / result["wall_s"]
    return result


def row(label: str, r: dict[str, Any]) -> str:
    return (
        f"| {label} | {int(r['records']):,} | {r['input_mb']:,.0f} | {r['wall_s']:.1f} | "
        f"{r['cpu_s']:.1f} | {r['per_s']:,.0f} | {r['per_cpu_s']:,.0f} | {r['mb_per_s']:.1f} | "
        f"{r['maxrss_kb'] / 1024:,.0f} | {r['load_before']:.2f} / {r['load_after']:.2f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[250_000, 1_000_000])
    parser.add_argument(
        "--stateful", type=int, nargs="*", default=[], metavar="N",
        help="also import N requests of stateful traffic with responses (links, sessions)",
    )  # fmt: skip
    parser.add_argument("--mitm", type=int, default=100_000, help="requests in the flow file")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--redact", choices=("pseudonym", "mask", "off"), default="pseudonym",
        help="redaction of the imports (default pseudonym, the import's default)",
    )  # fmt: skip
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    lines = [
        "| input | requests | input MB | wall s | CPU s | req/s (wall) | req/CPU-s | MB/s "
        "| peak RSS MB | load avg before / after |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        folder = Path(tmp)
        for n in args.sizes:
            src = folder / f"traffic-{n}.gor"
            build_gor(src, n)
            r = measure("import", src, folder / f"traffic-{n}.capture.parquet", args.redact)
            results[f"gor-{n}"] = r
            lines.append(row(f"`.gor` import, {n:,} requests", r))
            print(lines[-1], flush=True)
            src.unlink()
        for n in args.stateful:
            src = folder / f"stateful-{n}.gor"
            build_stateful_gor(src, n)
            r = measure("import", src, folder / f"stateful-{n}.capture.parquet", args.redact)
            results[f"stateful-{n}"] = r
            lines.append(row(f"stateful `.gor` with responses, {n:,} requests", r))
            print(lines[-1], f"({r['links']:,} links)", flush=True)
            src.unlink()
        if args.mitm:
            gor = folder / "same.gor"
            flows = folder / "same.mitm"
            build_gor(gor, args.mitm)
            build_flows(flows, args.mitm)
            for key, label, mode, src in (
                ("gor-same", f"`.gor` import, same {args.mitm:,} requests", "import", gor),
                ("mitm-read", "`mitmproxy.io.FlowReader` only (no import)", "read", flows),
                ("mitm-import", "flow file import (FlowReader + pipeline)", "import", flows),
            ):
                r = measure(mode, src, folder / f"{key}.capture.parquet", args.redact)
                results[key] = r
                lines.append(row(label, r))
                print(lines[-1], flush=True)
    cpu = platform.processor() or platform.machine()
    print(f"\n{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
