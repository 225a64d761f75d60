"""Rebuilding captured requests for a target: headers, Host, injected credentials, URLs."""

import pytest

from harness.errors import UsageError
from harness.replay.origin import target_host_header
from harness.replay.rebuild import check_target_url, rebuild_headers


def test_hop_by_hop_and_content_length_are_dropped_host_rewritten() -> None:
    captured = [
        ("Host", "api.example.com"),
        ("Connection", "keep-alive, X-Hop"),
        ("X-Hop", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Authorization", "Basic x"),
        ("TE", "trailers"),
        ("Trailer", "X"),
        ("Transfer-Encoding", "chunked"),
        ("Upgrade", "h2c"),
        ("Content-Length", "12"),
        ("Accept", "a"),
        ("Cookie", "a=1"),
        ("Cookie", "b=2"),
    ]
    out = rebuild_headers(captured, "127.0.0.1:8001", {})
    assert out == [
        ("Host", "127.0.0.1:8001"),
        ("Accept", "a"),
        ("Cookie", "a=1"),
        ("Cookie", "b=2"),
    ]


def test_injected_headers_replace_captured_ones_of_the_same_name() -> None:
    captured = [("authorization", "REDACTED"), ("Accept", "a")]
    out = rebuild_headers(captured, "h", {"Authorization": "Bearer staging"})
    assert out == [("Host", "h"), ("Accept", "a"), ("Authorization", "Bearer staging")]


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8001", "127.0.0.1:8001"),
        ("http://staging.local", "staging.local"),
        ("https://staging.local:443", "staging.local"),
        ("http://[::1]:9000", "[::1]:9000"),
    ],
)
def test_host_header_of_a_target(url: str, host: str) -> None:
    assert target_host_header(url) == host


@pytest.mark.parametrize(
    "url", ["ftp://x", "127.0.0.1:80", "http://", "http://h/base", "http://h?q=1", "http://h:x"]
)
def test_bad_target_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError, match="target 'b'"):
        check_target_url("b", url)
