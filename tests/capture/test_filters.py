"""Filters drop records by method, route, time and sampled session; transforms edit headers/host."""

from __future__ import annotations

import hashlib

from harness.capture.config import FilterConfig
from harness.capture.filters import Filters
from harness.capture.record import Exchange, header_value, join_headers

S = 1_000_000_000


def ex(method: str = "GET", route: str = "/a", session: str = "00000000aaaaaaaa") -> Exchange:
    e = Exchange(
        0,
        method,
        "http",
        "prod.example",
        route,
        "HTTP/1.1",
        join_headers([("Host", "prod.example"), ("X-Drop", "1"), ("Accept", "*/*")]),
        b"",
        "f:1",
    )
    e.route, e.session = route, session
    return e


def test_no_filters_keep_everything() -> None:
    f = Filters()
    assert f.keep(ex(), 0) and not f.counts


def test_methods_routes_and_time_window() -> None:
    f = Filters(
        FilterConfig(
            methods=["get", "POST"],
            deny_methods=["POST"],
            deny_routes=["/health", "/internal/*"],
            since_s=1,
            until_s=5,
        )
    )
    assert f.keep(ex("GET", "/payments/{id}"), 2 * S)
    assert not f.keep(ex("DELETE"), 2 * S)
    assert not f.keep(ex("POST"), 2 * S)
    assert not f.keep(ex(route="/health"), 2 * S)
    assert not f.keep(ex(route="/internal/x"), 2 * S)
    assert not f.keep(ex(), 0)
    assert not f.keep(ex(), 6 * S)
    assert dict(f.counts) == {"method": 2, "route": 2, "time window": 2}


def test_route_allow_list() -> None:
    f = Filters(FilterConfig(routes=["/payments*"]))
    assert f.keep(ex(route="/payments/{id}"), 0)
    assert not f.keep(ex(route="/catalog"), 0)


def test_sampling_keeps_whole_sessions_consistently() -> None:
    f = Filters(FilterConfig(sample=0.25))
    sessions = [hashlib.blake2b(str(i).encode(), digest_size=8).hexdigest() for i in range(4000)]
    kept = {s for s in sessions if f.keep(ex(session=s), 0)}
    assert 800 < len(kept) < 1200
    again = {s for s in sessions if Filters(FilterConfig(sample=0.25)).keep(ex(session=s), 0)}
    assert kept == again


def test_header_set_remove_and_host_rewrite() -> None:
    f = Filters(
        FilterConfig(
            remove_headers=["x-drop"], set_headers={"X-Replay": "1"}, host="staging.example"
        )
    )
    e = ex()
    f.transform(e)
    assert e.host == "staging.example"
    assert header_value(e.head, "host") == "staging.example"
    assert header_value(e.head, "x-drop") is None
    assert header_value(e.head, "x-replay") == "1"
    assert header_value(e.head, "accept") == "*/*"
    assert e.head.count("Host:") == 1
