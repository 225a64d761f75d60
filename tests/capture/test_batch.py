"""The GoReplay batch path writes exactly what the per-record path writes (rows, counts, report)."""

from __future__ import annotations

import base64
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import harness.capture.batch as batch
import harness.capture.ingest as ingest
from harness.capture.batch import batch_path_applies
from harness.capture.config import (
    CaptureConfig,
    FilterConfig,
    RedactionConfig,
    RedactionPattern,
    SessionConfig,
)
from harness.capture.pseudonym import Pseudonymiser, PseudonymKey
from harness.capture.redact import Redactor
from harness.capture.store import CaptureMetadata, CaptureWriter, read_capture
from tests.capture.gorfiles import DATADOG, GorRecord, datadog_records, request, response, write_gor
from tests.capture.secrets import SECRETS, write_seeded
from tests.capture.stateful import stateful_traffic

T0 = 1_700_000_000_000_000_000
SALTED = CaptureConfig(session=SessionConfig(salt="fixed"))
KEY = PseudonymKey(b"batch-test-key-0123456789abcdef", "test")

# header lines the per-record redactor treats in every one of its ways
TRICKY_HEADS = [
    b"Cookie: a=1; b",  # not every cookie is name=value
    b"cookie :  x=y;z=w  \r",
    b"COOKIE:\tk=v=w; m=\r \r",
    b"Cookie:",
    b" Cookie: leading=blank",  # not a header name the regex matches
    b"Cookie2: c=d",
    b"Authorization: Bearer abc.def",
    b"Authorization: token",
    b"Authorization: Basic\r \r",
    b"Set-Cookie: flag \t\r",
    b"Proxy-Authorization: Basic  x y",
    b"Set-Cookie: a=b; Path=/; Max-Age=100",
    b"Set-Cookie: flag; Secure",
    b"X-Api-Key: k",
    b"x-auth-token:t",
    b"X-Internal-Signature: sig",
    b"NoColonHere",
    b"X-Name: caf\xe9",
    b"Cookie: n=\xe9t\xe9; user@x=1",
    b"X-Trace: eyJabcd.efghij.klmn",
    b"From: someone@shop.example",
    b"Referer: /login?next=a%40b.example",
    b"X-Card: 4012 8888 8888 1881",
    b"X-Num: 1234567890123",
    b"X-Date: 2024-01-01 12:00:00",
    b"Cookie: id=4012888888881881; k=eyJx",
    b"Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.c2ln",
    # secrets in names, in lines without colon, next to blanks (redacted line by line)
    b"X-eyJabcd.efghij.klmn: v",
    b"a@b.example: 1",
    b"mail someone@shop.example\r",
    b"4012888888881881: x",
    b"Cookie: eyJabcd.efghij.klmn=v; 4012888888881881=w",
    b"X-C:\t4012888888881881 \r",
    b"X-E:   a@b.example\t",
    b"X-J: eyJabcd.efghij.klmn@x.example 4012-8888-8888-1881",
    b"X-D: 401288888888188",
    b"X-Emp: EMP-1234 and EMP-99",
    b"X-Custom-Token: abc",
    b"X-Random: Q2hlY2tUaGlzU2VjcmV0VmFsdWUx",
    b"Referer: https://u:pw@shop.example/reset/Ab3dE5fG7h?token=zzz&email=a%40b.example",
    b"Host: user:pw@h",
    b"X-Aws: AKIAIOSFODNN7EXAMPLE",
]


def _raw(
    head_lines: list[bytes], target: bytes = b"/", body: bytes = b"", eol: bytes = b"\r\n"
) -> bytes:
    lines = [b"POST " + target + b" HTTP/1.1", *head_lines]
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    return eol.join(lines) + eol + eol + body


def tricky_records() -> list[GorRecord]:
    """Requests (and responses) covering every redaction and parsing case of the batch path."""
    payloads = [_raw([b"Host: h", line]) for line in TRICKY_HEADS]
    payloads += [
        _raw(TRICKY_HEADS[:12], eol=b"\n"),
        _raw([b"Host: h", *TRICKY_HEADS]),
        _raw([b"Host: h"], b"/p?password=x&email=a%40b.example&q=1"),
        _raw([b"Host: h", b"Cookie: s=1"], body=b'{"password": "hunter2", "n": 1}'),
        _raw([b"Host: h"], body=b'{"password": "REDACTED"}'),
        _raw([b"Host: h", b"From: a@b.example", b"Cookie: s=1"], body=b'{"password": "x"}'),
        # digits that run on from one line (or row) into a card number on the next
        _raw([b"Host: h", b"X-A: 12345", b"X-Card: 4012888888881881"]),
        _raw([b"Host: h", b"X-A: 123456"]),
        _raw([b"X-Card: 4012888888881881", b"Host: h"]),
        _raw([b"Host: 1234567890", b"4012888888881881: x"]),
        _raw([b"Host: h"], body=b"plain body"),
        _raw([b"Host: h", b"Content-Type: application/x-www-form-urlencoded"], body=b"pin=1234"),
        _raw([b"Host: h"], b"/reset-password/MQ/5k2-a1b2c3d4e5?new_password=x"),
        _raw([b"Host: h"], b"/users/ann%40acme.io/profile"),
        _raw([]),
        b"GET / HTTP/1.1\r\n\n\r\n\r\n",
        b"GET http://abs.example/x?y=1 HTTP/1.1\r\nCookie: a=b\r\n\r\n",
        b"BROKEN\r\n\r\n",
        request("/payments/12345", "GET", {"Cookie": "sid=abc; lang=en"}),
        request("/x", "GET", {"X-Api-Key": "k"}, lf=True),
    ]
    records = []
    for i, payload in enumerate(payloads):
        records.append(GorRecord(1, f"r{i % 5}", T0 + i * 1_000_000, payload))
        if i % 3 == 0:
            records.append(GorRecord(2, f"r{i % 5}", T0 + i * 1_000_000 + 500, response(200 + i)))
    records.append(GorRecord(3, "r1", T0 + 10**9, response(500)))
    records.append(GorRecord(2, "nobody", T0 + 2 * 10**9, response(404)))
    return records


Imported = tuple[list[dict[str, Any]], CaptureMetadata, list[int]]


def _row_groups(path: Path) -> list[int]:
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def import_both(
    sources: list[Path], out: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: Any
) -> tuple[Imported, Imported]:
    """(rows, metadata, row group sizes) of one import by the batch and the per-record path."""
    used: list[bool] = []
    real: Callable[..., int] = ingest.write_batches
    kwargs.setdefault("pseudonym_key", KEY)  # both imports must draw the same pseudonyms

    def spy(*args: Any, **kw: Any) -> int:
        used.append(True)
        return real(*args, **kw)

    with monkeypatch.context() as m:
        m.setattr(ingest, "write_batches", spy)
        meta = ingest.import_capture(sources, out, **kwargs)
        fast = (read_capture(out).to_pylist(), meta, _row_groups(out))
    assert used, "the batch path was not taken"
    with monkeypatch.context() as m:
        m.setattr(ingest, "batch_path_applies", lambda *_: False)
        meta = ingest.import_capture(sources, out, **kwargs)
        slow = (read_capture(out).to_pylist(), meta, _row_groups(out))
    return fast, slow


@pytest.mark.parametrize("mode", ["pseudonym", "mask"])
def test_batch_path_writes_what_the_record_path_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    tricky = write_gor(tmp_path / "tricky.gor", tricky_records())
    config = CaptureConfig(
        session=SessionConfig(salt="fixed"),
        redaction=RedactionConfig(
            headers=["X-Internal-Signature", "odd name"],
            fields=["n"],
            patterns=[RedactionPattern(name="employee", pattern=r"EMP-\d+")],
        ),
    )
    fast, slow = import_both(
        [tricky], tmp_path / "out.parquet", monkeypatch, config=config, redact_mode=mode
    )
    assert fast == slow
    rows, meta, _ = fast
    assert meta.skipped == {
        "invalid request line": 1,
        "replayed response (type 3)": 1,
        "response without request": 1,
    }
    assert {"cookie", "authorization", "set-cookie", "api-key", "jwt", "email", "card"} <= set(
        meta.redaction.rules
    )
    assert len(rows) == len(TRICKY_HEADS) + 19


def test_small_chunks_and_row_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chunks that do not divide the row groups, and many of them
    monkeypatch.setattr(batch, "CHUNK_ROWS", 7)
    monkeypatch.setattr(
        ingest, "CaptureWriter", lambda path, **kw: CaptureWriter(path, batch_rows=20, **kw)
    )
    records = tricky_records() + [
        GorRecord(r.kind, r.rid + "-dd", r.ts, r.payload) for r in datadog_records()
    ]
    source = write_gor(tmp_path / "mixed.gor", records)
    out = tmp_path / "out.parquet"
    fast, slow = import_both([source], out, monkeypatch, config=SALTED)
    assert fast == slow
    rows = len(fast[0])
    assert rows > 140
    assert fast[2] == [20] * (rows // 20) + [rows % 20]


@pytest.mark.parametrize("redact", [True, False])
def test_datadog_and_seeded_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redact: bool
) -> None:
    seeded = write_seeded(tmp_path)[0]
    for source in (DATADOG, seeded):
        out = tmp_path / f"{source.stem}.parquet"
        fast, slow = import_both([source], out, monkeypatch, config=SALTED, redact=redact)
        assert fast == slow
    if redact:
        written = out.read_bytes() + repr(read_capture(out).to_pylist()).encode()
        assert not [s for s in SECRETS[:7] if s.encode() in written]


def test_out_of_order_input_is_resorted_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [
        GorRecord(1, f"o{i}", T0 + (i % 4) * 10**9 - i, request(f"/o/{i}")) for i in range(40)
    ]
    source = write_gor(tmp_path / "late.gor", records)
    fast, slow = import_both(
        [source], tmp_path / "out.parquet", monkeypatch, config=SALTED, reorder_window=2
    )
    assert fast == slow
    assert fast[1].counts.resorted > 0


@pytest.mark.parametrize(
    "config",
    [
        CaptureConfig(filters=FilterConfig(methods=["GET"])),
        CaptureConfig(session=SessionConfig(cookie="sid")),
    ],
)
def test_per_record_path_when_a_request_needs_python(config: CaptureConfig) -> None:
    assert not batch_path_applies(config, Redactor(config.redaction))


def test_batch_path_by_default() -> None:
    assert batch_path_applies(CaptureConfig(), Redactor())
    assert batch_path_applies(CaptureConfig(), None)
    patterns = RedactionConfig(patterns=[RedactionPattern(name="x", pattern="x")])
    assert batch_path_applies(CaptureConfig(redaction=patterns), Redactor(patterns))


def test_random_requests_are_parsed_as_the_record_path_parses_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the batch loop parses request line, head, body, Host and session key itself: on random
    # messages (bad request lines, CR/LF mixes, absolute targets, Host anywhere, odd ids) it must
    # write what split_request, host_header and SessionKeyer.record_key give the record path
    rng = random.Random(3)
    starts = [b"GET / HTTP/1.1", b"POST http://abs.example:81/a?b=1 HTTP/1.0", b"GET  / HTTP/1.1"]
    starts += [
        b"G\xe9T / HTTP/1.1",
        b"GET /x HTTP/2",
        b"GET /x FTP/1",
        b"",
        b"GET https://h HTTP/1.1",
    ]
    pieces = [b"\r\n", b"\n", b"\r", b"Host: x", b"Host:y \r", b"host: z", b"A:b", b"\r\n\r\n"]
    pieces += [b"\n\n", b"body", b" ", b"\xe9", b"Cookie: a=1"]
    ids = ["r1", "r2", "\xe9", "a-b"]
    records = []
    for i in range(600):
        payload = rng.choice(starts) + b"".join(
            rng.choice(pieces) for _ in range(rng.randint(0, 8))
        )
        records.append(GorRecord(1, rng.choice(ids), T0 + i, payload))
    source = write_gor(tmp_path / "random.gor", records)
    fast, slow = import_both([source], tmp_path / "out.parquet", monkeypatch, config=SALTED)
    assert fast == slow
    assert fast[1].skipped["invalid request line"] > 0
    assert len({row["host"] for row in fast[0]}) > 3


def test_stateful_traffic_links_and_sessions_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small chunks, so sessions and links cross chunk boundaries
    monkeypatch.setattr(batch, "CHUNK_ROWS", 16)
    traffic = stateful_traffic(api=3, browsers=2, rounds=3)
    source = write_gor(tmp_path / "stateful.gor", traffic.records)
    fast, slow = import_both([source], tmp_path / "out.parquet", monkeypatch, config=SALTED)
    assert fast == slow
    rows, meta, _ = fast
    assert len(rows) == traffic.requests
    kinds = Counter(link["kind"] for row in rows for link in row["links"])
    assert kinds == traffic.expected
    assert meta.links.links == sum(traffic.expected.values())
    assert len({row["session"] for row in rows}) == 5
    assert meta.sessions is not None and meta.sessions.found_by == "credential"
    for row in rows:
        for link in row["links"]:
            assert link["src_idx"] < row["idx"]


def test_links_follow_a_resort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    traffic = stateful_traffic(api=6, browsers=3, rounds=3)
    # an anonymous request from early on arrives late (beyond the reorder window): once the
    # writer re-sorts, every row written between its time and its arrival moves up by one;
    # the links must point at the same exchanges as when it came in order
    health = GorRecord(1, "ffff1f900a0000ff00000001", T0 - 10**6, request("/health"))
    in_order = write_gor(tmp_path / "in-order.gor", [health, *traffic.records])
    late = write_gor(
        tmp_path / "late.gor", [*traffic.records[:200], health, *traffic.records[200:]]
    )

    def links(path: Path, **kw: Any) -> tuple[set[tuple[object, ...]], CaptureMetadata]:
        fast, slow = import_both([path], tmp_path / "out.parquet", monkeypatch, **kw)
        assert fast == slow
        rows, meta, _ = fast
        by_idx = {row["idx"]: row for row in rows}
        found = set()
        for row in rows:
            for link in row["links"]:
                source = by_idx[link["src_idx"]]
                assert source["ts_ns"] < row["ts_ns"] and source["session"] == row["session"]
                found.add((row["ts_ns"], link["src"], link["dst"], link["kind"], source["ts_ns"]))
        return found, meta

    expected, straight = links(in_order, config=SALTED)
    # (a window wide enough to pair each request with its response, far narrower than 200)
    resorted, meta = links(late, config=SALTED, reorder_window=20)
    assert straight.counts.resorted == 0 and meta.counts.resorted > 0
    assert resorted == expected
    assert len(expected) == sum(traffic.expected.values())


def test_random_responses_are_learned_from_the_same_way_and_never_raise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # responses of every shape (bad framing, codings, bodies, headers) next to requests that
    # send their values back: both paths must write the same rows and links, and not fail
    rng = random.Random(5)
    heads = [
        b"Content-Type: application/json",
        b"Content-Type: text/html; charset=utf-8",
        b"Content-Type: text/plain",
        b"Content-Encoding: gzip",
        b"Content-Encoding: br",
        b"Transfer-Encoding: chunked",
        b"Set-Cookie: sid=s3ss10n-%d; Path=/",
        b"Location: /items/it3m-%d?ref=r%d",
        b"X-Token: t0k3n-%d-abcdef",
        b"Set-Cookie: =; bad",
    ]
    bodies = [
        b'{"id": %d, "item": {"slug": "it3m-%d"}, "token": "t0k3n-%d-abcdef"}',
        b'<input name="csrf" value="csrf-%d-value"><meta name="k" content="%d">',
        b"\x1f\x8b garbage",
        b"5\r\nhello\r\n0\r\n\r\n",
        b"[[[[[[",
        b"",
    ]
    records = []
    for i in range(300):
        rid = f"r{i % 7}"
        n = rng.randrange(5)
        path = rng.choice([b"/items/it3m-%d" % n, b"/x?id=%d" % n, b"/login"])
        lines = [
            b"Host: h",
            rng.choice([b"Cookie: sid=s3ss10n-%d" % n, b"X-Token: t0k3n-%d-abcdef" % n]),
        ]
        records.append(GorRecord(1, rid, T0 + i * 10_000_000, _raw(lines, path)))
        head = b"\r\n".join(
            h.replace(b"%d", str(n).encode()) for h in rng.sample(heads, rng.randint(0, 4))
        )
        body = rng.choice(bodies).replace(b"%d", str(n).encode())
        answer = b"HTTP/1.1 200 OK\r\n" + head + b"\r\n\r\n" + body
        records.append(GorRecord(2, rid, T0 + i * 10_000_000 + 1_000_000, answer))
    source = write_gor(tmp_path / "random-responses.gor", records)
    fast, slow = import_both([source], tmp_path / "out.parquet", monkeypatch, config=SALTED)
    assert fast == slow
    assert fast[1].links.links > 0


def test_credentials_in_paths_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # word-like credentials (no other path rule takes them) in the path of the exchange that
    # sends them, and of later ones, across small chunks: both paths replace the same segments
    # with the credential's pseudonym and put the placeholder in the route
    monkeypatch.setattr(batch, "CHUNK_ROWS", 3)
    basic = base64.b64encode(b"alice.smith:pw").decode()
    requests = [
        request("/tokens/abcdefgh", "GET", {"Authorization": "Bearer abcdefgh"}),
        request("/users/alice.smith/orders", "GET", {"Authorization": f"Basic {basic}"}),
        request("/shop;ref=letmeinplease/cart", "GET", {"Cookie": "sid=letmeinplease"}),
        request("/q/a.aa.a.a?access_token=a.aa.a.a"),
        request("/health"),
        request("/tokens/abcdefgh/revoke", "DELETE"),  # sent earlier, not here
        request("/users/alice.smith", "GET", {"X-Other": "x"}),
        request("/themes/dark", "GET", {"Cookie": "theme=dark"}),  # too short to count
    ]
    records = [GorRecord(1, f"c{i}", T0 + i * 1_000_000, r) for i, r in enumerate(requests)]
    source = write_gor(tmp_path / "credentials.gor", records)
    fast, slow = import_both([source], tmp_path / "out.parquet", monkeypatch, config=SALTED)
    assert fast == slow
    rows, meta, _ = fast
    routes = [row["route"] for row in rows]
    assert routes == [
        "/tokens/{id}",
        "/users/{id}/orders",
        "/shop;{id}/cart",
        "/q/{id}",
        "/health",
        "/tokens/{id}/revoke",
        "/users/{id}",
        "/themes/dark",
    ]
    assert meta.redaction.rules["path-credential"] == 6
    cells = repr(rows)
    for secret in ("abcdefgh", "alice.smith", "letmeinplease", "a.aa.a.a"):
        assert secret not in cells
    p = Pseudonymiser(KEY).pseudonym
    assert rows[0]["path"] == f"/tokens/{p('abcdefgh')}"
    assert rows[5]["path"] == f"/tokens/{p('abcdefgh')}/revoke"
    assert rows[2]["path"] == f"/shop;ref={p('letmeinplease')}/cart"
