"""A cookie jar per (session, target), fed by that target's replayed ``Set-Cookie`` (RFC 6265).

Pure (no gevent): the replay keeps one :class:`CookieJar` for each session and target and calls
:meth:`CookieJar.receive` with the ``Set-Cookie`` headers of each replayed response, and
:meth:`CookieJar.cookie_header` to rewrite the captured ``Cookie`` header of the next request.

What the jar does, after RFC 6265 section 5:

- parses ``name=value`` and the attributes ``Expires``, ``Max-Age`` (wins over Expires),
  ``Domain`` and ``Path`` (``Secure``, ``HttpOnly`` and ``SameSite`` are read and ignored: the
  replay talks to a staging target, often over plain HTTP, on behalf of the captured client);
- stores a cookie under (domain, path, name): a later one replaces it, and one whose
  ``Max-Age`` is zero or negative, or whose ``Expires`` is past, deletes it;
- a ``Domain`` must domain-match the request's host: the target's own host or the capture's
  original host (the replay stands in for it), else the cookie is ignored; without ``Domain``
  the cookie is host-only; the default path is the directory of the request path.

How the captured ``Cookie`` header changes: a cookie the captured request sends is replaced by
the jar's cookie of the same name when one applies to this request (domain, path, not expired),
and dropped when the target deleted it or it expired (where this request goes); a name the
target never set there keeps its captured value (the session began before the capture, or a
script set it). The jar never adds a cookie the captured client did not send: an API client
that ignored cookies must stay one (a session cookie it never sent could switch on the
server's CSRF check, for instance).

>>> jar = CookieJar()
>>> jar.receive(["sid=new; Path=/; HttpOnly"], "127.0.0.1", "/login", now=0.0)
>>> jar.cookie_header("sid=captured; theme=dark", "127.0.0.1", "/notes", now=1.0)
'sid=new; theme=dark'
>>> jar.receive(['sid=""; Max-Age=0; Path=/'], "127.0.0.1", "/logout", now=2.0)
>>> jar.cookie_header("sid=captured; theme=dark", "127.0.0.1", "/notes", now=3.0)
'theme=dark'
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
from collections.abc import Iterable
from dataclasses import dataclass

#: what a cookie without Max-Age or Expires lives for: the whole replay
_SESSION_END = float("inf")


@dataclass(frozen=True)
class Cookie:
    """One stored cookie: ``expires`` in the caller's clock (seconds), inf for a session cookie."""

    name: str
    value: str
    domain: str
    host_only: bool
    path: str
    expires: float


@dataclass(frozen=True)
class SetCookie:
    """A parsed ``Set-Cookie`` header: ``max_age`` / ``expires_at`` (epoch s) when given."""

    name: str
    value: str
    domain: str | None
    path: str | None
    max_age: int | None
    expires_at: float | None


def parse_set_cookie(header: str) -> SetCookie | None:
    """Parse one ``Set-Cookie`` value (RFC 6265 section 5.2); None when it has no name=value."""
    pair, *attributes = header.split(";")
    name, eq, value = pair.partition("=")
    name, value = name.strip(), value.strip()
    if not eq or not name:
        return None
    domain = path = None
    max_age: int | None = None
    expires_at: float | None = None
    for attribute in attributes:
        key, _, raw = attribute.partition("=")
        key, raw = key.strip().lower(), raw.strip()
        if key == "max-age":
            digits = raw[1:] if raw.startswith("-") else raw
            if digits.isdigit():
                max_age = int(raw)
        elif key == "expires":
            # an unparseable date is ignored, as browsers do
            with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
                expires_at = email.utils.parsedate_to_datetime(raw).timestamp()
        elif key == "domain" and raw:
            domain = raw.removeprefix(".").lower()
        elif key == "path":
            path = raw if raw.startswith("/") else None
    return SetCookie(name, value, domain, path, max_age, expires_at)


def domain_match(host: str, domain: str) -> bool:
    """RFC 6265 5.1.3: ``host`` is ``domain`` or a subdomain of it (never for an IP address)."""
    if host == domain:
        return True
    is_ip = host.replace(".", "").isdigit() or ":" in host
    return not is_ip and host.endswith("." + domain)


def default_path(request_path: str) -> str:
    """RFC 6265 5.1.4: the directory of the request path (``/a/b`` -> ``/a``, ``/a`` -> ``/``)."""
    path = request_path.split("?", 1)[0]
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rfind("/")]


def path_match(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 5.1.4: the cookie's path is the request path or a directory prefix of it."""
    path = request_path.split("?", 1)[0] or "/"
    if path == cookie_path:
        return True
    if not path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or path[len(cookie_path)] == "/"


@functools.lru_cache(maxsize=4096)
def _host(value: str) -> str:
    """``Host`` header value -> lower-case host without port."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class CookieJar:
    """The cookies one target set for one session; see the module docstring.

    ``hosts`` passed to the methods are the names a cookie may be scoped to: the target's host
    and, optionally, the capture's original host (``Host`` header values; ports are ignored).
    ``now`` is the caller's clock in seconds (epoch seconds, so that ``Expires`` compares).
    """

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], Cookie] = {}
        #: cookies the target deleted or that expired (kept with expires -1): not sent again
        self._dead: dict[tuple[str, str, str], Cookie] = {}

    def __len__(self) -> int:
        return len(self._cookies)

    @property
    def untouched(self) -> bool:
        """True until the target set or deleted a cookie: the captured header stays as it is."""
        return not (self._cookies or self._dead)

    def receive(
        self, set_cookies: Iterable[str], hosts: str | tuple[str, ...], request_path: str, *,
        now: float,
    ) -> None:  # fmt: skip
        """Store (or delete) the cookies of a response's ``Set-Cookie`` headers."""
        names = _hosts(hosts)
        for header in set_cookies:
            parsed = parse_set_cookie(header)
            if parsed is None or not names:
                continue
            if parsed.domain is None:
                domain, host_only = names[0], True
            elif any(domain_match(h, parsed.domain) for h in names):
                domain, host_only = parsed.domain, False
            else:
                continue  # a Domain the request could not set: ignored (RFC 6265 5.3 step 6)
            if parsed.max_age is not None:
                expires = now + parsed.max_age if parsed.max_age > 0 else -1.0
            elif parsed.expires_at is not None:
                expires = parsed.expires_at
            else:
                expires = _SESSION_END
            path = parsed.path or default_path(request_path)
            key = (domain, path, parsed.name)
            cookie = Cookie(parsed.name, parsed.value, domain, host_only, path, expires)
            if expires <= now:
                self._cookies.pop(key, None)
                self._dead[key] = cookie
            else:
                self._cookies[key] = cookie
                self._dead.pop(key, None)

    def applicable(
        self, hosts: str | tuple[str, ...], request_path: str, *, now: float
    ) -> list[Cookie]:
        """The live cookies for a request, longest path first (RFC 6265 5.4 step 2)."""
        names = _hosts(hosts)
        for key, cookie in list(self._cookies.items()):
            if cookie.expires <= now:
                del self._cookies[key]
                self._dead[key] = cookie
        found = [c for c in self._cookies.values() if _applies(c, names, request_path)]
        found.sort(key=lambda c: -len(c.path))
        return found

    def cookie_header(
        self, captured: str | None, hosts: str | tuple[str, ...], request_path: str, *, now: float
    ) -> str | None:
        """The ``Cookie`` header to send instead of ``captured`` (None: send none)."""
        if captured is None or self.untouched:
            return captured
        live: dict[str, str] = {}
        for cookie in self.applicable(hosts, request_path, now=now):
            live.setdefault(cookie.name, cookie.value)
        names = _hosts(hosts)
        dead = {c.name for c in self._dead.values() if _applies(c, names, request_path)}
        parts = []
        for part in captured.split(";"):
            name, eq, _ = part.strip().partition("=")
            if eq and name in live:
                parts.append(f"{name}={live[name]}")
            elif eq and name in dead:
                continue  # the target deleted it (or it expired) where this request goes
            elif part.strip():
                parts.append(part.strip())
        return "; ".join(parts) if parts else None


@functools.lru_cache(maxsize=4096)
def _hosts(hosts: str | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_host(h) for h in ((hosts,) if isinstance(hosts, str) else hosts) if h)


def _applies(cookie: Cookie, hosts: tuple[str, ...], request_path: str) -> bool:
    if cookie.host_only:
        scoped = cookie.domain in hosts
    else:
        scoped = any(domain_match(h, cookie.domain) for h in hosts)
    return scoped and path_match(request_path, cookie.path)
