"""Copy-as-curl commands for requests whose responses differed, redacted.

The capture file named in the manifest holds method, path, headers and body of each ``idx``;
when it is not there (a run copied from another machine without its capture), the command is
built from what the run has (method and route template) and says so.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from harness.analysis.frames import Run

#: Header names whose values never appear in a report (captures are redacted already; this is
#: the second lock on the door).
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)
REDACTED = "REDACTED"
MAX_BODY = 2000
#: Headers curl sets itself, or that would be wrong against another host.
SKIP_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding"})


@dataclass(frozen=True)
class Reproduction:
    idx: int
    command: str
    note: str


def _capture_path(run: Run) -> Path | None:
    raw = run.manifest.capture.path
    if not raw:
        return None
    path = Path(raw)
    for candidate in (path, run.root / path, run.root / path.name):
        if candidate.is_file():
            return candidate
    return None


def curl_commands(run: Run, target: str, rows: list[tuple[int, str, str]]) -> list[Reproduction]:
    """One command per ``(idx, method, route)`` against ``target``'s URL from the manifest."""
    info = run.manifest.targets.get(target)
    base = (info.url if info else "").rstrip("/") or "http://TARGET"
    captured = _read_capture(_capture_path(run), [idx for idx, _, _ in rows])
    out = []
    for idx, method, route in rows:
        record = captured.get(idx)
        if record is None:
            command = shlex.join(["curl", "-sS", "-X", method, base + route])
            missing = "fill in the path parameters" if "{" in route else "query and body unknown"
            note = f"capture file not available: built from the run's method and route ({missing})"
            out.append(Reproduction(idx, command, note))
            continue
        out.append(Reproduction(idx, _command(base, record), "from the capture (redacted)"))
    return out


def _command(base: str, record: dict[str, object]) -> str:
    parts = ["curl", "-sS", "-X", str(record["method"]), base + str(record["path"])]
    headers = record.get("headers") or []
    for header in headers if isinstance(headers, list) else []:
        name, value = str(header["name"]), str(header["value"])
        if name.lower() in SKIP_HEADERS:
            continue
        shown = REDACTED if name.lower() in SECRET_HEADERS else value
        parts += ["-H", f"{name}: {shown}"]
    body = record.get("body")
    if isinstance(body, bytes) and body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if text and len(text) <= MAX_BODY:
            parts += ["--data-binary", text]
        else:
            parts += ["--data-binary", f"@body-{record['idx']}.bin"]
    return shlex.join(parts)


def _read_capture(path: Path | None, indexes: list[int]) -> dict[int, dict[str, object]]:
    if path is None or not indexes:
        return {}
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(
            path,
            columns=["idx", "method", "path", "headers", "body"],
            filters=[("idx", "in", indexes)],
        )
    except (OSError, pa.ArrowException, KeyError):
        return {}  # the examples then fall back to the route template, with a note
    table = table.filter(pc.is_in(table.column("idx"), pa.array(indexes, pa.int64())))
    return {int(row["idx"]): row for row in table.to_pylist()}
