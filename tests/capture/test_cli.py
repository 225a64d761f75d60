"""`harness capture import|inspect` through the real entry point (and once as a process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.capture.store import capture_metadata, read_capture
from harness.cli.main import main
from tests.capture.gorfiles import DATADOG
from tests.capture.secrets import SECRETS, write_seeded

DATA = Path(__file__).parent / "data"


def test_import_then_inspect_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dd.capture.parquet"
    assert main(["capture", "import", str(DATADOG), str(DATA / "chrome.har"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "104 requests (2 with response)" in printed
    assert "sessions: by credential\nlinks: none found\n" in printed
    assert "pseudonymised: cookie x" in printed
    assert main(["capture", "inspect", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["requests"] == 104 and doc["responses"] == 2
    # one browser (its cookies) in the GoReplay file; three HAR entries without credentials
    assert doc["sessions"] == 4
    assert doc["routes"][0] == {"route": "/cart_link", "count": 26}
    assert set(doc["rate"]) == {"mean_per_s", "peak_per_s"}
    assert doc["skipped"] == {} and doc["redactions"]["cookie"] >= 101
    assert doc["sources"] == [str(DATADOG), str(DATA / "chrome.har")]
    assert doc["duration_s"] > 0


def test_filters_and_config_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "filters: {deny_routes: [/api_tokens]}\nsession: {cookie: _sandbox_session}\n"
    )
    out = tmp_path / "f.capture.parquet"
    code = main(
        [
            "capture",
            "import",
            "--reorder-window",
            "50",
            str(DATADOG),
            "-o",
            str(out),
            "--config",
            str(config),
            "--method",
            "GET",
            "--deny-route",
            "/cart_link",
            "--set-header",
            "X-Replay=1",
            "--remove-header",
            "Referer",
            "--host",
            "staging.local",
        ]
    )
    assert code == 0
    assert "filtered: route x52, method x2" in capsys.readouterr().out
    assert main(["capture", "inspect", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["requests"] == 101 - 52 - 2
    assert doc["sessions"] < doc["requests"]  # grouped by the session cookie


def test_secrets_stay_out_of_inspect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sources = [str(p) for p in write_seeded(tmp_path)]
    out = tmp_path / "s.capture.parquet"
    assert main(["capture", "import", *sources, "-o", str(out)]) == 0
    assert main(["capture", "inspect", str(out)]) == 0
    assert main(["capture", "inspect", str(out), "--json"]) == 0
    printed = capsys.readouterr()
    for secret in SECRETS:
        assert secret not in printed.out + printed.err


def test_no_redact_is_announced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.capture.parquet"
    assert main(["capture", "import", str(DATADOG), "-o", str(out), "--no-redact"]) == 0
    assert "redaction: OFF" in capsys.readouterr().out
    assert main(["capture", "inspect", str(out)]) == 0
    assert "redaction   OFF" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (bytes(range(256)) * 8, "unknown capture format"),
        (b"{oops", "not a HAR file"),
    ],
)
def test_bad_input_exits_3_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    src = tmp_path / "in.dat"
    src.write_bytes(content)
    assert main(["capture", "import", str(src), "-o", str(tmp_path / "o.parquet")]) == 3
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_inspect_of_a_non_capture_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["capture", "inspect", str(DATADOG)]) == 3
    assert "not a capture file" in capsys.readouterr().err


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capture"]) == 2
    assert main(["capture", "import", str(DATADOG)]) == 2  # -o is required
    assert (
        main(["capture", "import", str(DATADOG), "-o", str(tmp_path / "x"), "--sample", "3"]) == 2
    )
    assert main(["capture", "import", str(DATADOG), "-o", "x", "--reorder-window", "0"]) == 2
    assert (
        main(["capture", "import", str(DATADOG), "-o", str(tmp_path / "x"), "--set-header", "bad"])
        == 2
    )
    capsys.readouterr()


def test_as_a_process(tmp_path: Path) -> None:
    out = tmp_path / "p.capture.parquet"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "capture",
            "import",
            str(DATA / "dumpfile-7-websocket.mitm"),
            "-o",
            str(out),
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "6 requests (5 with response)" in run.stdout
    assert "skipped: websocket message x6" in run.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "capture",
            "import",
            str(DATA / "dumpfile-010.mitm"),
            "-o",
            str(tmp_path / "b.parquet"),
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 3
    assert "dumpfile-010.mitm" in bad.stderr and "(0, 10)" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_pseudonym_key_from_env_makes_imports_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAPTURE_KEY", "k" * 32)
    outs = [tmp_path / "a.capture.parquet", tmp_path / "b.capture.parquet"]
    for out in outs:
        argv = ["capture", "import", str(DATADOG), "-o", str(out), "--pseudonym-key-env"]
        assert main([*argv, "CAPTURE_KEY"]) == 0
    printed = capsys.readouterr().out
    assert "k" * 16 not in printed
    cookies = [
        [h["value"] for row in read_capture(out).column("headers").to_pylist() for h in row
         if h["name"] == "Cookie"]
        for out in outs
    ]  # fmt: skip
    assert cookies[0] == cookies[1] and cookies[0]
    meta = capture_metadata(outs[0])
    assert meta.redaction.mode == "pseudonym" and meta.redaction.key == (
        "environment variable CAPTURE_KEY"
    )
    assert b"k" * 16 not in outs[0].read_bytes()
    # without the variable, each import draws its own key
    monkeypatch.delenv("CAPTURE_KEY")
    assert main(["capture", "import", str(DATADOG), "-o", str(outs[1])]) == 0
    other = [h["value"] for row in read_capture(outs[1]).column("headers").to_pylist() for h in row
             if h["name"] == "Cookie"]  # fmt: skip
    assert other != cookies[0]


def test_mask_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.capture.parquet"
    assert main(["capture", "import", str(DATADOG), "-o", str(out), "--redact-mode", "mask"]) == 0
    assert "masked: cookie x101" in capsys.readouterr().out
    assert capture_metadata(out).redaction.mode == "mask"
    assert main(["capture", "inspect", str(out)]) == 0
    assert "redaction   on (mask): cookie x101" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pseudonym-key-env", "NO_SUCH_VARIABLE_X"], "is not set"),
        (["--pseudonym-key-env", "SHORT_KEY_X"], "at least 16"),
        (["--no-redact", "--redact-mode", "mask"], "cannot be combined"),
        (["--redact-mode", "mask", "--pseudonym-key-env", "SHORT_KEY_X"], "needs --redact-mode"),
    ],
)
def test_key_and_mode_usage_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("SHORT_KEY_X", "tiny")
    out = tmp_path / "x.capture.parquet"
    assert main(["capture", "import", str(DATADOG), "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "tiny" not in err
    assert not out.exists()
