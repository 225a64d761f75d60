"""Copy-as-curl commands for requests whose responses differed, redacted.

The capture file named in the manifest holds method, path, headers and body of each ``idx``;
when it is not there (a run copied from another machine without its capture), the command is
built from what the run has (method and route template) and says so.

The note of each command says how the capture treated secrets (its metadata's redaction mode):
pseudonymised (stand-ins of the same shape: use staging credentials), masked, or not at all
(imported with ``--no-redact``). A capture that is not redacted, or whose mode is unknown, is
masked here before its values reach the report: a report is shared more widely than a capture.
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
    path = _capture_path(run)
    captured = _read_capture(path, [idx for idx, _, _ in rows])
    mode = _redaction_mode(path) if captured else None
    out = []
    for idx, method, route in rows:
        record = captured.get(idx)
        if record is None:
            command = shlex.join(["curl", "-sS", "-X", method, base + route])
            missing = "fill in the path parameters" if "{" in route else "query and body unknown"
            note = f"capture file not available: built from the run's method and route ({missing})"
            out.append(Reproduction(idx, command, note))
            continue
        if mode not in ("pseudonym", "mask"):
            record = _masked(record)
        out.append(Reproduction(idx, _command(base, record), NOTES.get(mode, NOTES[None])))
    return out


#: The note of a command from the capture, by the capture's redaction mode.
NOTES: dict[str | None, str] = {
    "pseudonym": (
        "from the capture, pseudonymised: credentials and personal values are stand-ins of the "
        "same shape (use staging ones)"
    ),
    "mask": "from the capture, masked: its secrets were replaced at import",
    "off": (
        "from a capture imported WITHOUT redaction (--no-redact): its secrets are masked here "
        "for the report, the capture file still holds them"
    ),
    None: "from the capture (its redaction is unknown): secrets are masked here for the report",
}


def _redaction_mode(path: Path | None) -> str | None:
    """``pseudonym``, ``mask`` or ``off`` from the capture's metadata (None: not readable)."""
    if path is None:
        return None
    from harness.capture.store import capture_metadata
    from harness.errors import CaptureError

    try:
        redaction = capture_metadata(path).redaction
    except CaptureError:
        return None
    return redaction.mode if redaction.enabled else "off"


def _masked(record: dict[str, object]) -> dict[str, object]:
    """``record`` with its secrets masked (the capture's own redaction rules, mask mode)."""
    from harness.capture.record import Exchange, join_headers, split_headers
    from harness.capture.redact import Redactor

    headers = record.get("headers") or []
    pairs = (
        [(str(h["name"]), str(h["value"])) for h in headers] if isinstance(headers, list) else []
    )
    body = record.get("body")
    exchange = Exchange(
        ts_ns=0, method=str(record["method"]), scheme="http", host="", path=str(record["path"]),
        http_version="HTTP/1.1", head=join_headers(pairs),
        body=body if isinstance(body, bytes) else b"", source="report",
    )  # fmt: skip
    Redactor(mode="mask").redact(exchange)
    headers_out = [{"name": n, "value": v} for n, v in split_headers(exchange.head)]
    return {**record, "path": exchange.path, "headers": headers_out, "body": exchange.body}


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
