"""Copy-as-curl examples: from the capture when present, redacted; else from the run."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from harness.analysis.frames import load_run
from harness.capture.schema import CAPTURE_SCHEMA
from harness.report.curl import curl_commands
from tests.analysis.runs import Behaviour, SyntheticRun


def _run(tmp_path: Path, capture: str | None) -> Path:
    run = SyntheticRun(duration_s=2, rate=5)
    run.target("b", "baseline").target("c", "candidate", Behaviour(body_change=1.0))
    root = run.write(tmp_path / "run")
    if capture:
        manifest = (root / "manifest.json").read_text()
        (root / "manifest.json").write_text(
            manifest.replace('"path": null', f'"path": "{capture}"')
        )
    return root


def _capture(path: Path) -> None:
    row = {
        "idx": 3,
        "ts_ns": 1,
        "offset_ns": 0,
        "session": "s",
        "method": "POST",
        "scheme": "https",
        "host": "pay.example",
        "path": "/payments?x=1",
        "http_version": "1.1",
        "headers": [
            {"name": "Authorization", "value": "Bearer abc.def"},
            {"name": "Content-Type", "value": "application/json"},
            {"name": "Host", "value": "pay.example"},
        ],
        "body": b'{"amount": 5}',
        "route": "/payments",
        "orig_status": 200,
        "orig_latency_ns": 1,
        "orig_body_sha256": None,
        "source": "f:1",
    }
    pq.write_table(pa.Table.from_pylist([row], schema=CAPTURE_SCHEMA), path)


def test_from_the_capture_redacted(tmp_path: Path) -> None:
    _capture(tmp_path / "c.capture.parquet")
    run = load_run(_run(tmp_path, str(tmp_path / "c.capture.parquet")))
    (repro,) = curl_commands(run, "c", [(3, "POST", "/payments")])
    assert repro.command == (
        "curl -sS -X POST 'http://127.0.0.1:18001/payments?x=1' -H 'Authorization: REDACTED' "
        "-H 'Content-Type: application/json' --data-binary '{\"amount\": 5}'"
    )
    assert "abc.def" not in repro.command


def test_without_capture_the_route_is_shown(tmp_path: Path) -> None:
    run = load_run(_run(tmp_path, None))
    (repro,) = curl_commands(run, "c", [(3, "GET", "/payments/{id}")])
    assert repro.command == "curl -sS -X GET 'http://127.0.0.1:18001/payments/{id}'"
    assert "capture file not available" in repro.note


def _imported(tmp_path: Path, *flags: str) -> Path:
    """A real capture of one login, imported with ``flags`` (as a user would)."""
    from harness.cli.main import main
    from tests.capture.gorfiles import GorRecord, request, write_gor

    body = b'{"user": {"email": "ann@corp.io", "password": "hunter2-secret"}}'
    login = request(
        "/api/users/login", "POST",
        {"Content-Type": "application/json", "Authorization": "Token abc.def.ghi"}, body,
    )  # fmt: skip
    source = write_gor(tmp_path / "t.gor", [GorRecord(1, "a" * 24, 1_000, login)])
    out = tmp_path / "t.capture.parquet"
    assert main(["capture", "import", str(source), "-o", str(out), *flags]) == 0
    return out


def test_the_note_says_how_the_capture_treated_secrets(tmp_path: Path) -> None:
    shown = {}
    for mode, flags in (("raw", ["--no-redact"]), ("pseudonym", [])):
        folder = tmp_path / mode
        folder.mkdir()
        capture = _imported(folder, *flags)
        run = load_run(_run(folder, str(capture)))
        (repro,) = curl_commands(run, "c", [(0, "POST", "/api/users/login")])
        shown[mode] = repro
    raw = shown["raw"]
    assert "WITHOUT redaction" in raw.note and "masked here" in raw.note
    assert "hunter2-secret" not in raw.command and "ann@corp.io" not in raw.command
    assert "abc.def.ghi" not in raw.command
    assert "pseudonymised" in shown["pseudonym"].note
    assert "hunter2-secret" not in shown["pseudonym"].command
