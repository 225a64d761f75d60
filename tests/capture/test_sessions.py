"""Session keys: stable per client, hashed, never the raw value."""

from __future__ import annotations

import re

import pytest

from harness.capture.config import SessionConfig
from harness.capture.record import Exchange, join_headers
from harness.capture.sessions import SessionKeyer, cookie_value


def ex(headers: dict[str, str], client: str | None = None, conn: str | None = None) -> Exchange:
    return Exchange(
        0,
        "GET",
        "http",
        "h",
        "/",
        "HTTP/1.1",
        join_headers(headers.items()),
        b"",
        "f:1",
        client=client,
        conn=conn,
    )


def test_cookie_value() -> None:
    assert cookie_value("a=1; sid=xyz; b=2", "sid") == "xyz"
    assert cookie_value("a=1", "sid") is None


def test_header_cookie_address_record_fallbacks() -> None:
    keyer = SessionKeyer(SessionConfig(header="X-Client", cookie="sid", salt="s"))
    by_header = keyer.key(ex({"X-Client": "c-1", "Cookie": "sid=abc"}))
    assert by_header == keyer.key(ex({"x-client": "c-1"}))
    by_cookie = keyer.key(ex({"Cookie": "a=1; sid=abc"}))
    assert by_cookie == keyer.key(ex({"Cookie": "sid=abc"}))
    assert by_cookie != by_header
    by_addr = keyer.key(ex({}, client="10.0.0.1:5000"))
    assert by_addr == keyer.key(ex({"Cookie": "other=1"}, client="10.0.0.1:5000"))
    by_conn = keyer.key(ex({}, conn="abc123"))
    assert len({by_header, by_cookie, by_addr, by_conn}) == 4
    assert keyer.key(ex({})) != by_conn  # falls back to the record id (source)


def test_keys_are_hashed_and_salted() -> None:
    one = SessionKeyer(SessionConfig(cookie="sid", salt="one"))
    two = SessionKeyer(SessionConfig(cookie="sid", salt="two"))
    request = ex({"Cookie": "sid=secret-session-value"})
    key = one.key(request)
    assert re.fullmatch(r"[0-9a-f]{16}", key), key  # 16 hex digits of a keyed hash
    assert "secret" not in key
    assert key == one.key(request)
    assert key != two.key(request)
    # without a configured salt each import draws its own
    assert SessionKeyer().key(request) != SessionKeyer().key(request)


@pytest.mark.parametrize("rid", [b"b33c9c1a2bae6636", b"caf\xe9-1", b""])
def test_record_key_is_the_key_of_the_same_record(rid: bytes) -> None:
    keyer = SessionKeyer(SessionConfig(salt="s"))
    exchange = Exchange(
        ts_ns=1, method="GET", scheme="http", host="h", path="/", http_version="HTTP/1.1",
        head="", body=b"", source="f.gor:7", conn=rid.decode("latin-1") or None,
    )  # fmt: skip
    assert keyer.record_key(rid, "f.gor:7") == keyer.key(exchange)
    assert not keyer.reads_headers
