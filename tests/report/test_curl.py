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
