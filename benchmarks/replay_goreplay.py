"""Side by side with GoReplay: the same schedule replayed by ``goreplay`` and by the harness.

    GOBIN=/tmp/gobin go install github.com/buger/goreplay@v1.3.2   # needs cgo and libpcap-dev
    .venv/bin/python benchmarks/replay_goreplay.py --goreplay /tmp/gobin/goreplay \\
        [--rate 1000] [--seconds 10] [--speeds 1,4] [--processes 2] [--gor-workers-min 64]

Writes one steady schedule twice, as a ``.gor`` file and as a capture file, with one distinct
path per request. Each tool replays it to replay_fastserver.py, which notes the arrival time
of every request. Deviation of an arrival from the schedule: ``(arrival_i - arrival_0) -
(offset_i - offset_0) / speed`` (aligned on the first arrival, since GoReplay has no t0);
reported as p50/p99/max of its absolute value, with the achieved rate and how many arrived.
GoReplay does not exit at the end of its input file: it is stopped after 3x the scheduled
duration + 5 s (``--exit-after``), so a request it had not sent by then counts as not arrived.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from replay_common import fast_server, load_average, steady_capture, steady_paths

from harness.replay import ReplayOptions, ReplayTarget, replay

SEPARATOR = "\n\U0001f435\U0001f648\U0001f649\n"


def write_gor(path: Path, rate: float, seconds: float) -> list[int]:
    """The steady schedule as a GoReplay file; returns the offsets (ns)."""
    paths = steady_paths(int(rate * seconds))
    offsets = [int(i * 1e9 / rate) for i in range(len(paths))]
    start = 1_700_000_000_000_000_000
    with path.open("w", newline="") as out:
        for i, (p, offset) in enumerate(zip(paths, offsets, strict=True)):
            request = f"GET {p} HTTP/1.1\r\nHost: api.example.com\r\nAccept: */*\r\n\r\n"
            out.write(f"1 {i:024x} {start + offset}\n{request}{SEPARATOR}")
    return offsets


def deviations(arrivals: Path, offsets: list[int], speed: float) -> dict[str, object]:
    first: dict[int, int] = {}
    for line in arrivals.read_text().splitlines():
        at, request = line.split("\t", 1)
        index = int(request.split(" ")[1].removeprefix("/r/"))
        first.setdefault(index, int(at))  # a resent request counts once, at its first arrival
    if len(first) < 2:
        return {"arrived": len(first)}
    order = sorted(first)
    base_i, base_t = order[0], first[order[0]]
    dev = sorted(
        abs((first[i] - base_t) - (offsets[i] - offsets[base_i]) / speed) / 1e6 for i in order
    )
    span_s = (max(first.values()) - min(first.values())) / 1e9
    return {
        "arrived": len(first),
        "scheduled": len(offsets),
        "deviation_p50_ms": round(dev[len(dev) // 2], 3),
        "deviation_p99_ms": round(dev[int(0.99 * (len(dev) - 1))], 3),
        "deviation_max_ms": round(dev[-1], 3),
        "achieved_rate_per_s": round((len(first) - 1) / span_s, 1) if span_s else None,
        "scheduled_rate_per_s": round(1e9 * speed * (len(offsets) - 1) / offsets[-1], 1),
    }


def run_goreplay(
    binary: str, gor: Path, url: str, speed: float, seconds: float, workers_min: int
) -> None:
    source = f"{gor}|{int(speed * 100)}%"
    extra = ["--output-http-workers-min", str(workers_min)] if workers_min else []
    subprocess.run(
        [binary, "--input-file", source, "--output-http", url,
         "--exit-after", f"{int(3 * seconds / speed) + 5}s", *extra],
        check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--goreplay", required=True)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--speeds", default="1,4")
    parser.add_argument("--processes", type=int, default=None, help="default: by the rate")
    parser.add_argument(
        "--gor-workers-min", type=int, default=0, help="GoReplay's --output-http-workers-min"
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        offsets = write_gor(tmp / "steady_0.gor", args.rate, args.seconds)
        capture = steady_capture(
            tmp / "steady.capture.parquet", args.rate, args.seconds, unique=True
        )
        for speed in (float(s) for s in args.speeds.split(",")):
            log = tmp / f"gor-{speed:g}.tsv"
            with fast_server(log) as url:
                run_goreplay(
                    args.goreplay, tmp / "steady_0.gor", url, speed, args.seconds,
                    args.gor_workers_min,
                )  # fmt: skip
            tool = f"goreplay 1.3 (workers-min {args.gor_workers_min or 'default'})"
            load = load_average()
            results.append(
                {"tool": tool, "speed": speed, **deviations(log, offsets, speed), "load": load}
            )
            print(json.dumps(results[-1]), flush=True)
            log = tmp / f"harness-{speed:g}.tsv"
            with fast_server(log) as url:
                result = replay(
                    capture,
                    [ReplayTarget("server", url)],
                    tmp / f"run-{speed:g}",
                    # the strict schedule, as GoReplay keeps it (no session order: the
                    # synthetic capture's think times would move each session's schedule)
                    ReplayOptions(
                        speed=speed,
                        processes=args.processes,
                        lag_bound_ms=1000,
                        ordering="schedule",
                    ),
                )
            row = {"tool": "harness", "speed": speed, **deviations(log, offsets, speed)}
            row["load"] = load_average()
            row["send_lag_p99_ms"] = round(result.lag_p99_ms, 3)
            results.append(row)
            print(json.dumps(results[-1]), flush=True)


if __name__ == "__main__":
    main()
