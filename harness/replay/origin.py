"""Headers that name the captured request's own site get the target's site on replay.

A browser says which site a request comes from: ``Origin: https://shop.example.com`` on a form
POST or a fetch, ``Referer: https://shop.example.com/cart/`` on most requests. Replayed to
``http://127.0.0.1:8001`` with the captured values, a server that checks them (Django's CSRF
origin check, Rails' ``forgery_protection_origin_check``, most CSRF middlewares) refuses every
POST, where a browser on the staging site would have sent the staging origin. So the replay
writes the target's origin where the captured request named its own site:

- a header whose whole value is an absolute ``http(s)://`` URL or origin whose host is the
  captured request's own host (its ``Host`` header, else the capture's ``host``) gets that
  ``scheme://host[:port]`` replaced by the target's, path and query kept:
  ``Origin: https://shop.example.com`` -> ``Origin: http://127.0.0.1:8001``,
  ``Referer: https://shop.example.com/cart/?step=2`` -> ``Referer: http://127.0.0.1:8001/cart/?step=2``;
  this holds for any header of that form (``Origin``, ``Referer``, WebDAV's ``Destination``,
  a custom ``X-Return-To``), as each states where the request itself was sent;
- another site's URL (a third-party ``Referer``, a partner's ``Origin``), ``Origin: null``,
  and values that merely contain a URL are sent as captured.

"Own host": the same host name (any case) and the same port, where a port left out is the
scheme's default; a TLS terminator in front of the captured service (``Host: shop.example.com``
over plain HTTP, ``Origin: https://shop.example.com``) still counts as the same site.

>>> site = SiteRewrite.of("shop.example.com", "http://127.0.0.1:8001")
>>> site.rewrite("https://shop.example.com/cart/?step=2")
'http://127.0.0.1:8001/cart/?step=2'
>>> site.rewrite("https://partner.example.org/") is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

#: ports a URL or Host header leaves out
_DEFAULT_PORTS = frozenset({80, 443})


def _host_port(authority: str) -> tuple[str, int | None] | None:
    """``host[:port]`` -> (lower-case host, explicit port or None); None when malformed."""
    authority = authority.strip().lower()
    if "@" in authority or not authority:
        return None  # userinfo: not a plain site (and never a browser's Origin)
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None
        host, rest = authority[: end + 1], authority[end + 1 :]
    else:
        host, colon, port_text = authority.partition(":")
        rest = colon + port_text
    if not rest:
        return host, None
    if not rest.startswith(":") or not rest[1:].isdigit() or len(rest) > 6:
        return None
    return host, int(rest[1:])


def _same_port(a: int | None, b: int | None) -> bool:
    if a is None or b is None:
        other = b if a is None else a
        return other is None or other in _DEFAULT_PORTS
    return a == b


@dataclass(frozen=True)
class SiteRewrite:
    """Rewrites URLs of one captured host to one target's origin (see the module docstring)."""

    host: str
    port: int | None
    target: str
    """the target's origin, ``http://127.0.0.1:8001``"""

    @classmethod
    def of(cls, captured_host: str, target_url: str) -> SiteRewrite | None:
        """For requests captured with ``Host: captured_host`` replayed to ``target_url``; None
        when the captured host is empty or malformed (nothing is rewritten then)."""
        parsed = _host_port(captured_host)
        if parsed is None:
            return None
        return cls(parsed[0], parsed[1], target_origin(target_url))

    def rewrite(self, value: str) -> str | None:
        """``value`` with the target's origin, or None when it does not name the own site."""
        text = value.strip()
        scheme, sep, rest = text.partition("://")
        if not sep or scheme.lower() not in ("http", "https"):
            return None
        end = len(rest)
        for stop in "/?#":
            found = rest.find(stop)
            if 0 <= found < end:
                end = found
        parsed = _host_port(rest[:end])
        if parsed is None or parsed[0] != self.host or not _same_port(parsed[1], self.port):
            return None
        return self.target + rest[end:]

    def headers(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """``pairs`` with every header that names the own site rewritten (a new list)."""
        out = []
        for name, value in pairs:
            rewritten = None
            if value[:4].lower() == "http" and "://" in value:
                rewritten = self.rewrite(value)
            out.append((name, value if rewritten is None else rewritten))
        return out


def own_host(headers: list[tuple[str, str]], fallback: str | None) -> str:
    """The captured request's own host: its ``Host`` header, else ``fallback`` (the capture's
    ``host`` column: an HTTP/2 request has no ``Host`` header)."""
    for name, value in headers:
        if name.lower() == "host" and value.strip():
            return value
    return fallback or ""


def target_host_header(url: str) -> str:
    """The Host header for requests to ``url`` (host, plus port when not the scheme's default)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    if parts.port is not None and parts.port != default:
        return f"{host}:{parts.port}"
    return host


def target_origin(url: str) -> str:
    """``scheme://host[:port]`` of a target URL (the port only when it is not the default)."""
    return f"{urlsplit(url).scheme}://{target_host_header(url)}"
