"""Rebuild a captured request for one target: same method, path, headers and body, new Host.

Headers that name the captured request's own site (``Origin``, ``Referer``...) name the
target's instead (:mod:`harness.replay.origin`). Pure: the worker turns the result into its
HTTP client's header type.

>>> rebuild_headers([("Host", "api.example.com"), ("Connection", "keep-alive"),
...                  ("Accept", "*/*")], "127.0.0.1:8001", {"Authorization": "Bearer staging"})
[('Host', '127.0.0.1:8001'), ('Accept', '*/*'), ('Authorization', 'Bearer staging')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from harness.errors import UsageError
from harness.replay.origin import SiteRewrite

#: Hop-by-hop headers (RFC 9110 section 7.6.1) and the framing headers the client recomputes.
DROPPED_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


def rebuild_headers(
    captured: Iterable[tuple[str, str]],
    host: str,
    injected: Mapping[str, str],
    site: SiteRewrite | None = None,
) -> list[tuple[str, str]]:
    """Captured headers minus hop-by-hop and Content-Length, Host set to ``host``, then
    ``injected`` (replacing captured headers of the same name). Order and repeats are kept.
    With ``site``, captured headers that name the captured site name the target's."""
    replaced = {name.lower() for name in injected} | {"host"}
    connection_named = set()
    pairs = list(captured)
    for name, value in pairs:
        # headers named in Connection are hop-by-hop too
        if name.lower() == "connection":
            connection_named |= {t.strip().lower() for t in value.split(",") if t.strip()}
    out: list[tuple[str, str]] = [("Host", host)]
    for name, value in pairs:
        low = name.lower()
        if low in DROPPED_HEADERS or low in replaced or low in connection_named:
            continue
        out.append((name, value))
    if site is not None:
        out = site.headers(out)
    out.extend(injected.items())
    return out


def check_target_url(name: str, url: str) -> None:
    """A target URL must be ``http(s)://host[:port]`` (a base path is not supported)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"target {name!r}: bad URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"target {name!r}: URL must be http:// or https://host[:port], got {url!r}"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(f"target {name!r}: URL must not have a path or query, got {url!r}")
    del port
