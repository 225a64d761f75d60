"""The per-(session, target) cookie jar: RFC 6265 parsing, scoping, expiry, deletion, merging."""

from __future__ import annotations

import pytest

from harness.replay.cookies import (
    CookieJar,
    default_path,
    domain_match,
    parse_set_cookie,
    path_match,
)

T = "127.0.0.1:8001"


def test_parse_set_cookie_attributes() -> None:
    parsed = parse_set_cookie(
        "sid=abc=; Path=/app; Domain=.Example.COM; Max-Age=60; Secure; HttpOnly; SameSite=Lax"
    )
    assert parsed is not None
    assert (parsed.name, parsed.value, parsed.domain, parsed.path) == (
        "sid", "abc=", "example.com", "/app",
    )  # fmt: skip
    assert parsed.max_age == 60
    expired = parse_set_cookie('sid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=-1')
    assert expired is not None and expired.max_age == -1 and expired.expires_at == 0.0
    assert parse_set_cookie("no-equals-sign") is None
    assert parse_set_cookie("=value") is None
    odd = parse_set_cookie("a=1; Max-Age=soon; Expires=not a date; Path=relative")
    assert odd is not None and (odd.max_age, odd.expires_at, odd.path) == (None, None, None)


@pytest.mark.parametrize(
    ("host", "domain", "ok"),
    [
        ("example.com", "example.com", True),
        ("www.example.com", "example.com", True),
        ("badexample.com", "example.com", False),
        ("example.com", "www.example.com", False),
        ("10.0.0.1", "0.0.1", False),
        ("127.0.0.1", "127.0.0.1", True),
    ],
)
def test_domain_match(host: str, domain: str, ok: bool) -> None:
    assert domain_match(host, domain) is ok


def test_paths() -> None:
    assert default_path("/a/b/c?x=1") == "/a/b"
    assert default_path("/a") == "/"
    assert default_path("") == "/"
    assert path_match("/notes/1", "/notes")
    assert path_match("/notes", "/notes")
    assert path_match("/notes/1", "/")
    assert not path_match("/notesx", "/notes")
    assert path_match("/notes/x", "/notes/")


def test_replayed_cookie_replaces_the_captured_one_of_the_same_name() -> None:
    jar = CookieJar()
    assert jar.cookie_header("sid=cap; theme=dark", T, "/", now=0) == "sid=cap; theme=dark"
    jar.receive(["sid=live; Path=/; HttpOnly"], T, "/login", now=0)
    assert jar.cookie_header("theme=dark; sid=cap", T, "/notes", now=1) == "theme=dark; sid=live"
    # the jar never adds a cookie the captured request did not send
    assert jar.cookie_header("theme=dark", T, "/notes", now=1) == "theme=dark"
    assert jar.cookie_header(None, T, "/notes", now=1) is None


def test_later_cookie_replaces_and_deletion_drops() -> None:
    jar = CookieJar()
    jar.receive(["sid=one; Path=/"], T, "/login", now=0)
    jar.receive(["sid=two; Path=/"], T, "/login", now=1)
    assert jar.cookie_header("sid=cap", T, "/", now=2) == "sid=two"
    jar.receive(['sid=""; Path=/; Max-Age=0'], T, "/logout", now=3)
    assert len(jar) == 0
    assert jar.cookie_header("sid=cap; a=1", T, "/", now=4) == "a=1"
    assert jar.cookie_header("sid=cap", T, "/", now=4) is None
    jar.receive(["sid=three; Path=/"], T, "/login", now=5)  # logged in again
    assert jar.cookie_header("sid=cap", T, "/", now=6) == "sid=three"


def test_expiry_by_max_age_and_by_expires() -> None:
    jar = CookieJar()
    jar.receive(["a=1; Max-Age=10; Path=/"], T, "/", now=100)
    jar.receive(["b=2; Expires=Thu, 01 Jan 2099 00:00:00 GMT; Path=/"], T, "/", now=100)
    jar.receive(["c=3; Expires=Thu, 01 Jan 1970 00:00:10 GMT; Path=/"], T, "/", now=100)
    assert jar.cookie_header("a=x; b=y; c=z", T, "/", now=105) == "a=1; b=2"
    assert jar.cookie_header("a=x; b=y", T, "/", now=111) == "b=2"  # a expired: dropped
    # Max-Age wins over Expires
    jar.receive(["d=4; Max-Age=5; Expires=Thu, 01 Jan 1970 00:00:10 GMT"], T, "/", now=200)
    assert jar.cookie_header("d=x", T, "/", now=201) == "d=4"


def test_path_scoping_and_longest_path_first() -> None:
    jar = CookieJar()
    jar.receive(["v=root; Path=/", "v=notes; Path=/notes"], T, "/", now=0)
    assert [c.value for c in jar.applicable(T, "/notes/1", now=1)] == ["notes", "root"]
    assert jar.cookie_header("v=cap", T, "/notes/1", now=1) == "v=notes"
    assert jar.cookie_header("v=cap", T, "/api", now=1) == "v=root"
    # default path: the directory of the request that set it
    jar.receive(["w=1"], T, "/app/login", now=0)
    assert jar.cookie_header("w=cap", T, "/app/x", now=1) == "w=1"
    assert jar.cookie_header("w=cap", T, "/other", now=1) == "w=cap"  # not the jar's business


def test_domain_scoping_with_the_original_host() -> None:
    jar = CookieJar()
    hosts = (T, "shop.example.com")
    jar.receive(["s=1; Domain=example.com; Path=/"], hosts, "/", now=0)
    jar.receive(["evil=1; Domain=attacker.org; Path=/"], hosts, "/", now=0)
    assert len(jar) == 1
    assert jar.cookie_header("s=cap; evil=cap", hosts, "/", now=1) == "s=1; evil=cap"
    host_only = CookieJar()
    host_only.receive(["h=1; Path=/"], T, "/", now=0)
    assert host_only.cookie_header("h=cap", "127.0.0.1:9999", "/", now=1) == "h=1"  # port ignored
    assert host_only.cookie_header("h=cap", "other.host", "/", now=1) == "h=cap"


def test_a_deleted_cookie_elsewhere_does_not_drop_this_one() -> None:
    jar = CookieJar()
    jar.receive(['v=""; Path=/notes; Max-Age=0'], T, "/notes", now=0)
    assert jar.cookie_header("v=cap", T, "/api", now=1) == "v=cap"
    assert jar.cookie_header("v=cap", T, "/notes/2", now=1) is None
