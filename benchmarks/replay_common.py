"""Shared pieces of the replay benchmarks: the fast server process and synthetic captures."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.capture.schema import CAPTURE_SCHEMA  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as ``uptime`` shows them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pin_to(core: int | None) -> None:
    """Run this process (and every process it starts from now on) on ``core`` only."""
    if core is not None:
        os.sched_setaffinity(0, {core})


@contextmanager
def fast_server(arrivals: Path | None = None, core: int | None = None) -> Iterator[str]:
    """Run replay_fastserver.py in its own process (on ``core`` only, when given); yields its
    URL; stops it after (and then ``arrivals``, when given, holds one
    ``epoch-ns<TAB>request-line`` per request)."""
    port = free_port()
    extra = [str(arrivals)] if arrivals is not None else []
    pin = ["taskset", "-c", str(core)] if core is not None else []
    server = [sys.executable, str(ROOT / "benchmarks" / "replay_fastserver.py"), str(port)]
    process = subprocess.Popen(
        [*pin, *server, *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def server_deviations(
    arrivals: Path, t0_ns: int, rate: float, wait_ms: dict[int, float] | None = None
) -> dict[str, float]:
    """Arrival at the server minus the schedule (``t0 + i / rate`` for ``/r/i``, moved by the
    request's session wait ``wait_ms[i]`` when given), in ms."""
    waits = wait_ms or {}
    late = []
    for line in arrivals.read_text().splitlines():
        at, request = line.split("\t", 1)
        index = int(request.split(" ")[1].removeprefix("/r/"))
        late.append((int(at) - t0_ns - index * 1e9 / rate) / 1e6 - waits.get(index, 0.0))
    late.sort()
    if not late:
        return {"arrived": 0}
    return {
        "arrived": len(late),
        "server_p50_ms": round(late[len(late) // 2], 3),
        "server_p99_ms": round(late[int(0.99 * (len(late) - 1))], 3),
        "server_max_ms": round(late[-1], 3),
        "server_min_ms": round(late[0], 3),
    }


def steady_paths(count: int) -> list[str]:
    """One distinct path per request, so arrivals can be matched to the schedule."""
    return [f"/r/{i}" for i in range(count)]


def steady_capture(
    path: Path,
    rate: float,
    seconds: float,
    sessions: int = 200,
    unique: bool = False,
    think: str = "fixed",
) -> Path:
    """A capture of GETs evenly spaced at ``rate`` per second for ``seconds`` (``unique``: one
    path per request, see :func:`steady_paths`), each answered in 1 ms, from ``sessions``
    clients.

    ``think="fixed"``: request ``i`` belongs to client ``i % sessions``, so every client sends
    one request each ``sessions / rate`` s, the same think time for all (in lockstep: on replay
    in session order, replies that come back together release their next requests together,
    every time). ``"exponential"``: each request belongs to a client drawn at random (fixed
    seed), so a client's think times are exponential with the same mean, as users' are; a
    client's request less than 1 ms after its previous one overlaps it (a parallel fetch)."""
    count = int(rate * seconds)
    if think == "exponential":
        rng = np.random.default_rng(7)
        clients = rng.integers(0, sessions, count).tolist()
    else:
        clients = [i % sessions for i in range(count)]
    paths = (
        steady_paths(count) if unique else [f"/items/{i % 1000}?page={i % 7}" for i in range(count)]
    )
    offsets = [int(i * 1e9 / rate) for i in range(count)]
    table = pa.table(
        {
            "idx": pa.array(range(count), pa.int64()),
            "ts_ns": pa.array([1_700_000_000_000_000_000 + o for o in offsets], pa.int64()),
            "offset_ns": pa.array(offsets, pa.int64()),
            "session": [f"client-{c}" for c in clients],
            "method": ["GET"] * count,
            "scheme": ["https"] * count,
            "host": ["api.example.com"] * count,
            "path": paths,
            "http_version": ["HTTP/1.1"] * count,
            "headers": [[{"name": "Accept", "value": "application/json"}]] * count,
            "body": [b""] * count,
            "route": ["/items/{id}"] * count,
            "orig_status": pa.array([200] * count, pa.int32()),
            "orig_latency_ns": pa.array([1_000_000] * count, pa.int64()),
            "orig_body_sha256": pa.array([None] * count, pa.string()),
            "source": [f"bench:{i}" for i in range(count)],
            "orig_location_route": pa.array([None] * count, pa.string()),
            "links": [[]] * count,
        },
        schema=CAPTURE_SCHEMA,
    )
    pq.write_table(table, path)
    return path
