"""The captured response's body hash is keyed in a redacted capture (no short secret behind it).

Responses carry four-digit one-time codes: with a plain SHA-256 in the file, hashing the 10,000
candidates finds every code (shown on ``--no-redact``, where the plain hash is kept on purpose);
in a pseudonymised or masked capture, from every reader and the GoReplay batch path, none.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import connection, http, io

import harness.capture.ingest as ingest
from harness.capture.bodyhash import KEYED, PLAIN, ResponseHasher
from harness.capture.config import CaptureConfig, FilterConfig
from harness.capture.pseudonym import PseudonymKey
from harness.capture.store import CaptureMetadata, read_capture
from tests.capture.gorfiles import GorRecord, request, response, write_gor

T0 = 1_700_000_000_000_000_000
#: the one-time code each response delivers: two requests share one (equal bodies)
CODES = ["0417", "9321", "0417", "5550", "7002"]
KEY = PseudonymKey(b"bodyhash-test-key-0123456789abcd", "test")
# a filter that keeps everything still sends GoReplay through the per-record path
PER_RECORD = CaptureConfig(filters=FilterConfig(methods=["GET", "POST"]))


def _body(code: str) -> bytes:
    return json.dumps({"otp": code}).encode()


def _gor(folder: Path) -> Path:
    records = []
    for i, code in enumerate(CODES):
        ts = T0 + i * 10_000_000
        records.append(GorRecord(1, f"r{i}", ts, request(f"/otp/{i}", "POST", body=b"{}")))
        records.append(GorRecord(2, f"r{i}", ts + 1_000_000, response(200, _body(code))))
    return write_gor(folder / "otp.gor", records)


def _mitm(folder: Path) -> Path:
    path = folder / "otp.mitm"
    with path.open("wb") as fo:
        writer = io.FlowWriter(fo)
        for i, code in enumerate(CODES):
            ts = (T0 + i * 10_000_000) / 1e9
            headers = http.Headers([(b"Host", b"shop.example")])
            req = http.Request(
                "shop.example", 80, b"POST", b"http", b"", f"/otp/{i}".encode(), b"HTTP/1.1",
                headers, b"{}", None, ts, ts + 0.001,
            )  # fmt: skip
            client = connection.Client(
                peername=("10.0.0.9", 40000 + i), sockname=("10.0.0.2", 80), timestamp_start=ts
            )
            flow = http.HTTPFlow(client, connection.Server(address=("shop.example", 80)))
            flow.request = req
            flow.response = http.Response.make(200, _body(code))
            flow.response.timestamp_start = flow.response.timestamp_end = ts + 0.002
            writer.add(flow)
    return path


def _har(folder: Path) -> Path:
    entries = [
        {
            "startedDateTime": f"2023-11-14T22:13:{20 + i:02d}.100Z",
            "time": 3,
            "request": {
                "method": "POST",
                "url": f"https://shop.example/otp/{i}",
                "httpVersion": "HTTP/1.1",
                "headers": [],
            },
            "response": {"status": 200, "content": {"text": _body(code).decode()}},
        }
        for i, code in enumerate(CODES)
    ]
    path = folder / "otp.har"
    path.write_text(json.dumps({"log": {"entries": entries}}))
    return path


#: (name, writer, config, whether the GoReplay batch path must be taken)
SOURCES: list[tuple[str, Callable[[Path], Path], CaptureConfig, bool]] = [
    ("gor-batch", _gor, CaptureConfig(), True),
    ("gor-per-record", _gor, PER_RECORD, False),
    ("mitm", _mitm, CaptureConfig(), False),
    ("har", _har, CaptureConfig(), False),
]


def _import(
    folder: Path, monkeypatch: pytest.MonkeyPatch, name: str, **kwargs: Any
) -> tuple[list[str | None], CaptureMetadata]:
    """The ``orig_body_sha256`` column (in request order) and metadata of one import."""
    _, write, config, batch = next(s for s in SOURCES if s[0] == name)
    used: list[bool] = []
    real: Callable[..., int] = ingest.write_batches

    def spy(*args: Any, **kw: Any) -> int:
        used.append(True)
        return real(*args, **kw)

    monkeypatch.setattr(ingest, "write_batches", spy)
    out = folder / f"{name}-{len(list(folder.glob('*.parquet')))}.capture.parquet"
    meta = ingest.import_capture([write(folder)], out, config=config, **kwargs)
    assert used == ([True] if batch else [])
    rows = read_capture(out, ["path", "orig_body_sha256"]).to_pylist()
    by_path = {r["path"]: r["orig_body_sha256"] for r in rows}
    return [by_path[f"/otp/{i}"] for i in range(len(CODES))], meta


def _brute_force(hashes: list[str | None]) -> set[str]:
    """The codes whose plain SHA-256 appears among ``hashes``: what an attacker recovers."""
    stored = set(hashes)
    return {
        f"{n:04d}" for n in range(10_000) if hashlib.sha256(_body(f"{n:04d}")).hexdigest() in stored
    }


@pytest.mark.parametrize("name", [s[0] for s in SOURCES])
@pytest.mark.parametrize("mode", ["pseudonym", "mask"])
def test_redacted_capture_gives_no_code_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, mode: str
) -> None:
    hashes, meta = _import(tmp_path, monkeypatch, name, redact_mode=mode)
    assert _brute_force(hashes) == set()
    assert all(h is not None and re.fullmatch("[0-9a-f]{64}", h) for h in hashes)
    # equal bodies still compare equal within the capture, distinct ones do not
    assert hashes[0] == hashes[2]
    assert len(set(hashes)) == 4
    assert meta.redaction.response_hash == KEYED


@pytest.mark.parametrize("name", [s[0] for s in SOURCES])
def test_no_redact_keeps_the_plain_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    hashes, meta = _import(tmp_path, monkeypatch, name, redact=False)
    # the attack the keyed hash stops: every code comes back from the plain hashes
    assert _brute_force(hashes) == set(CODES)
    assert hashes == [hashlib.sha256(_body(code)).hexdigest() for code in CODES]
    assert meta.redaction.response_hash == PLAIN


@pytest.mark.parametrize("name", [s[0] for s in SOURCES])
def test_keyed_hash_is_the_documented_hmac(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # docs/file-formats.md: HMAC-SHA256(body key, SHA-256(body)), body key derived from the key
    hashes, _ = _import(tmp_path, monkeypatch, name, pseudonym_key=KEY)
    body_key = hmac.digest(KEY.secret, b"harness orig_body_sha256", "sha256")
    expected = [
        hmac.digest(body_key, hashlib.sha256(_body(code)).digest(), "sha256").hex()
        for code in CODES
    ]
    assert hashes == expected


def test_one_key_agrees_across_imports_and_formats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyed = [_import(tmp_path, monkeypatch, s[0], pseudonym_key=KEY)[0] for s in SOURCES]
    assert all(hashes == keyed[0] for hashes in keyed)
    # a key drawn per import: the same traffic imported twice shares no hash
    first, _ = _import(tmp_path, monkeypatch, "mitm")
    second, _ = _import(tmp_path, monkeypatch, "mitm")
    assert not set(first) & set(second)
    masked, _ = _import(tmp_path, monkeypatch, "har", redact_mode="mask")
    assert not set(masked) & set(first)


def test_hasher_column_matches_one_by_one() -> None:
    hasher = ResponseHasher(KEY)
    digests = [hashlib.sha256(_body(c)).hexdigest() for c in CODES] + [None]
    assert hasher.column(digests) == [hasher(d) for d in digests]
    assert hasher(None) is None
    assert "bodyhash-test-key" not in repr(hasher)


def test_files_from_before_keyed_hashes_read_as_plain() -> None:
    meta = CaptureMetadata.model_validate(
        {
            "format_version": 2,
            "sources": [],
            "counts": {"read": 1, "written": 1, "responses": 1, "skipped": 0, "filtered": 0},
            "redaction": {"enabled": True, "mode": "pseudonym", "rules": {}},
        }
    )
    assert meta.redaction.response_hash == PLAIN
