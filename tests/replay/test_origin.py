"""Origin, Referer and other headers naming the captured site get the target's site on replay."""

from __future__ import annotations

import pytest

from harness.replay.origin import SiteRewrite, own_host, target_origin
from harness.replay.rebuild import rebuild_headers

TARGET = "http://127.0.0.1:8001"


def _site(host: str, target: str = TARGET) -> SiteRewrite:
    site = SiteRewrite.of(host, target)
    assert site is not None
    return site


@pytest.mark.parametrize(
    ("captured_host", "value", "expected"),
    [
        # a browser's Origin and Referer of the same site
        ("shop.example.com", "http://shop.example.com", TARGET),
        ("shop.example.com", "https://shop.example.com", TARGET),  # TLS ended before the capture
        ("shop.example.com", "https://shop.example.com/cart/?step=2#x", TARGET + "/cart/?step=2#x"),
        ("SHOP.example.com", "https://shop.EXAMPLE.com/a", TARGET + "/a"),
        ("127.0.0.1:23037", "http://127.0.0.1:23037", TARGET),
        ("127.0.0.1:23037", "http://127.0.0.1:23037/login/", TARGET + "/login/"),
        ("shop.example.com:443", "https://shop.example.com/", TARGET + "/"),
        ("shop.example.com", "https://shop.example.com:443/x", TARGET + "/x"),
        ("[::1]:8080", "http://[::1]:8080/x", TARGET + "/x"),
        ("shop.example.com", "http://shop.example.com?q=1", TARGET + "?q=1"),
        ("shop.example.com", "  http://shop.example.com/a  ", TARGET + "/a"),
    ],
)
def test_urls_of_the_own_site_get_the_target_origin(
    captured_host: str, value: str, expected: str
) -> None:
    assert _site(captured_host).rewrite(value) == expected


@pytest.mark.parametrize(
    ("captured_host", "value"),
    [
        ("shop.example.com", "https://partner.example.org/"),  # a third party
        ("shop.example.com", "https://cdn.shop.example.com/"),  # a subdomain is another site
        ("shop.example.com", "https://example.com/"),
        ("127.0.0.1:23037", "http://127.0.0.1:9999/login/"),  # another port
        ("127.0.0.1:23037", "http://127.0.0.1/login/"),
        ("shop.example.com:8443", "https://shop.example.com/"),
        ("shop.example.com", "null"),  # Origin: null (a sandboxed or privacy-sensitive context)
        ("shop.example.com", "ftp://shop.example.com/"),
        ("shop.example.com", "see http://shop.example.com/"),  # contains a URL: not one
        ("shop.example.com", "http://user@shop.example.com/"),
        ("shop.example.com", "http://shop.example.com:80x/"),
        ("shop.example.com", "http://"),
    ],
)
def test_other_sites_and_other_values_are_kept(captured_host: str, value: str) -> None:
    assert _site(captured_host).rewrite(value) is None


def test_target_origin_leaves_out_the_default_port() -> None:
    assert target_origin("http://127.0.0.1:8001") == "http://127.0.0.1:8001"
    assert target_origin("https://staging.example.com:443") == "https://staging.example.com"
    assert target_origin("http://staging.example.com:80/") == "http://staging.example.com"
    assert target_origin("http://[::1]:9000") == "http://[::1]:9000"
    assert _site("a.example", "https://staging.example.com").rewrite("https://a.example/p") == (
        "https://staging.example.com/p"
    )


def test_a_malformed_captured_host_rewrites_nothing() -> None:
    assert SiteRewrite.of("", TARGET) is None
    assert SiteRewrite.of("a.example:x", TARGET) is None
    assert SiteRewrite.of("[::1", TARGET) is None


def test_own_host_is_the_host_header_else_the_capture_column() -> None:
    assert own_host([("Accept", "*/*"), ("host", "a.example:81")], "b.example") == "a.example:81"
    assert own_host([("Accept", "*/*")], "b.example") == "b.example"
    assert own_host([], None) == ""


def test_rebuilt_headers_name_the_target_site_and_keep_third_parties() -> None:
    captured = [
        ("Host", "shop.example.com"),
        ("Origin", "https://shop.example.com"),
        ("Referer", "https://shop.example.com/cart/"),
        ("Destination", "https://shop.example.com/files/b.txt"),  # WebDAV MOVE
        ("X-Partner", "https://partner.example.org/cb"),
        ("Cookie", "next=https://shop.example.com/"),  # not a URL as a whole: kept
        ("Accept", "text/html"),
    ]
    site = SiteRewrite.of(own_host(captured, None), TARGET)
    out = rebuild_headers(captured, "127.0.0.1:8001", {"Referer": "https://kept.example/"}, site)
    assert out == [
        ("Host", "127.0.0.1:8001"),
        ("Origin", TARGET),
        ("Destination", TARGET + "/files/b.txt"),
        ("X-Partner", "https://partner.example.org/cb"),
        ("Cookie", "next=https://shop.example.com/"),
        ("Accept", "text/html"),
        ("Referer", "https://kept.example/"),  # injected by the user: never rewritten
    ]


def test_without_a_site_headers_are_sent_as_captured() -> None:
    captured = [("Host", "shop.example.com"), ("Origin", "https://shop.example.com")]
    assert rebuild_headers(captured, "h", {}) == [
        ("Host", "h"),
        ("Origin", "https://shop.example.com"),
    ]
