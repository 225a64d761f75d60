"""Writers of GoReplay files for tests: the exact byte layout GoReplay's file output uses."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

SEP = "\n🐵🙈🙉\n".encode()
DATA = Path(__file__).parent / "data"
DATADOG = DATA / "datadog-ecommerce-requests_0.gor"
DATADOG_FIRST_NS = 1568139746437296000
DATADOG_LAST_NS = 1568140265001506000


@dataclass
class GorRecord:
    """One record: type 1 request, 2 original response, 3 replayed response."""

    kind: int
    rid: str
    ts: int
    payload: bytes
    latency: int | None = None

    def encode(self) -> bytes:
        fields = [str(self.kind), self.rid, str(self.ts)]
        if self.latency is not None:
            fields.append(str(self.latency))
        return " ".join(fields).encode() + b"\n" + self.payload


def request(
    path: str = "/",
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    lf: bool = False,
) -> bytes:
    """A raw HTTP/1.1 request (CRLF, or LF-only when ``lf``)."""
    eol = "\n" if lf else "\r\n"
    lines = [f"{method} {path} HTTP/1.1", "Host: shop.example:8080"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return (eol.join(lines) + eol + eol).encode() + body


def response(status: int = 200, body: bytes = b"ok") -> bytes:
    """A raw HTTP/1.1 response."""
    return f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def gor_bytes(records: list[GorRecord], trailing_separator: bool = True) -> bytes:
    """A .gor file as GoReplay writes it (optionally without the last separator)."""
    data = b"".join(r.encode() + SEP for r in records)
    return data if trailing_separator else data[: -len(SEP)]


def write_gor(path: Path, records: list[GorRecord], trailing_separator: bool = True) -> Path:
    """Write ``records`` to ``path`` (gzip-compressed when the name ends with .gz)."""
    data = gor_bytes(records, trailing_separator)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def datadog_records() -> list[GorRecord]:
    """The 101 real request records of the DataDog fixture."""
    out = []
    for part in DATADOG.read_bytes().split(SEP):
        if not part.strip():
            continue
        header, _, payload = part.partition(b"\n")
        kind, rid, ts = header.decode().split()
        out.append(GorRecord(int(kind), rid, int(ts), payload))
    return out
