"""Build capture files for replay tests directly with pyarrow and ``CAPTURE_SCHEMA``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from harness.capture.schema import CAPTURE_SCHEMA


@dataclass(frozen=True)
class Req:
    """One captured request: at ``offset_s`` from the first, in ``session``."""

    offset_s: float
    path: str = "/"
    session: str | None = "s1"
    method: str = "GET"
    headers: Sequence[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    host: str = "api.example.com"
    route: str | None = None
    #: the captured response's latency (None: none recorded, so no session order applies)
    latency_s: float | None = None


def write_capture(
    path: Path, requests: Sequence[Req], t_start_ns: int = 1_700_000_000 * 10**9
) -> Path:
    """Write ``requests`` as a capture file (``idx`` in the given order) and return ``path``."""
    rows = []
    for i, r in enumerate(requests):
        offset = int(r.offset_s * 1e9)
        rows.append(
            {
                "idx": i,
                "ts_ns": t_start_ns + offset,
                "offset_ns": offset,
                "session": r.session,
                "method": r.method,
                "scheme": "https",
                "host": r.host,
                "path": r.path,
                "http_version": "HTTP/1.1",
                "headers": [{"name": n, "value": v} for n, v in r.headers],
                "body": r.body,
                "route": r.route or r.path.split("?")[0],
                "orig_status": 200,
                "orig_latency_ns": None if r.latency_s is None else int(r.latency_s * 1e9),
                "orig_body_sha256": None,
                "source": f"test:{i}",
            }
        )
    rows.sort(key=lambda row: row["ts_ns"])
    pq.write_table(pa.Table.from_pylist(rows, schema=CAPTURE_SCHEMA), path)
    return path


def steady(count: int, rate: float, sessions: int = 4, prefix: str = "/r") -> list[Req]:
    """``count`` GETs at ``rate`` per second, round-robin over ``sessions`` sessions."""
    return [
        Req(offset_s=i / rate, path=f"{prefix}/{i}?n={i}", session=f"client-{i % sessions}")
        for i in range(count)
    ]
