"""What a captured response delivered: the values a later request of its session may send back.

:func:`delivered_values` reads one :class:`~harness.capture.response.Response` and lists each
value with its *source locator* (:mod:`harness.capture.linkspec`), i.e. where the replay will
find the live value in the same target's replayed response:

- ``Set-Cookie`` values (``cookie:NAME``);
- ``Location``: each path segment that is not a plain word (an id, a slug with a digit: the
  segment is found by position, ``header:Location~REGEX``, with only plain route words
  written literally) and each query parameter;
- other response headers that are not standard protocol headers (``header:NAME``, and the
  last word of a value with spaces such as ``Bearer abc``);
- JSON bodies, every string and id-like number at any depth (``json:$.user.token``);
- HTML bodies, ``<input name value>`` and ``<meta name content>`` (``html:NAME``);
- short text bodies: the whole body (``body``), and ``name=value`` pairs (``body~REGEX``).

Values the exchange's own request already held are left out (the server echoed them; it did
not deliver them), and so are values the guards of :mod:`harness.capture.linkvalues` reject.
"Held" means as a whole value: not inside a longer run of letters and digits (a comment id 302
is no echo of the port in ``Host: 127.0.0.1:30288``).
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple
from urllib.parse import unquote, unquote_plus, urlsplit

from harness.capture.linkspec import Locator, format_json_path, json_get
from harness.capture.linkvalues import (
    MIN_FREE_LENGTH,
    is_csrf_name,
    is_id_name,
    is_token_name,
    looks_like_jwt,
    plain_name,
    worth_indexing,
)
from harness.capture.response import Response

#: JSON leaves read from one response at most (a long listing is cut, not skipped).
MAX_LEAVES = 5000
MAX_DEPTH = 32
#: Bodies up to this size are remembered by :class:`BodyCache`.
_CACHED_BODY = 1 << 16
#: A text body up to this size may be a value itself (a bare token).
MAX_BARE_BODY = 2048

_BORING_HEADERS = frozenset(
    {
        "date", "server", "content-type", "content-length", "content-encoding",
        "content-language", "content-disposition", "content-security-policy",
        "content-security-policy-report-only", "cache-control", "expires", "pragma", "vary",
        "connection", "keep-alive", "transfer-encoding", "age", "via", "alt-svc",
        "last-modified", "accept-ranges", "strict-transport-security", "x-content-type-options",
        "x-frame-options", "x-xss-protection", "referrer-policy", "permissions-policy",
        "cross-origin-opener-policy", "cross-origin-embedder-policy",
        "cross-origin-resource-policy", "report-to", "nel", "server-timing", "timing-allow-origin",
        "x-powered-by", "x-runtime", "x-request-id", "x-correlation-id", "x-trace-id",
        "traceparent", "x-amzn-trace-id", "x-cache", "x-served-by", "x-timer", "link", "allow",
        "retry-after", "www-authenticate", "upgrade", "trailer", "set-cookie", "location",
        "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
    }
)  # fmt: skip
_HEADER_PREFIXES = ("access-control-", "x-ratelimit-", "ratelimit-", "x-envoy-", "cf-")
_ROUTE_WORD = re.compile(r"[A-Za-z][A-Za-z_-]{0,39}")
_SCHEME_HOST = r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?"
_TAG = re.compile(r"<(input|meta)\b([^>]*)>", re.I)
_ATTR = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_LAST_WORD = r"(\S+)\s*$"

_new = tuple.__new__
#: add(value, src, kind, id_like): the callback each reader of a response part calls
_Add = Callable[[str, str, str, bool], None]


class Delivered(NamedTuple):
    """A value a response delivered: where (``src`` locator), what kind, from an id-like place."""

    value: str
    src: str
    kind: str
    id_like: bool


class BodyCache:
    """The values recent response bodies delivered, by body: equal bodies are read once.

    Real traffic answers many clients with the same body (a listing, a catalog page, a
    configuration); a body's values do not depend on who asked (the echo check is made per
    exchange, after). At most ``size`` bodies are remembered, the oldest dropped first.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._values: dict[tuple[bytes, str, str, bool], tuple[list[Delivered], str | None]] = {}

    def values(self, response: Response) -> list[Delivered]:
        """The values of ``response``'s body (read, or remembered); sets ``unread`` too."""
        key = (
            response.body, response.content_type, response.header("content-encoding") or "",
            response.chunked,
        )  # fmt: skip
        hit = self._values.get(key)
        if hit is not None:
            response.unread = hit[1]
            return hit[0]
        found: dict[str, Delivered] = {}
        text = response.text()
        if text:
            _body(text, response.content_type, _adder(found, ""))
        values = list(found.values())
        if len(response.body) <= _CACHED_BODY:  # memory: at most size x 64 KiB of bodies
            if len(self._values) >= self._size:
                del self._values[next(iter(self._values))]
            self._values[key] = (values, response.unread)
        return values


def delivered_values(
    response: Response, echo: str = "", bodies: BodyCache | None = None
) -> list[Delivered]:
    """Values ``response`` delivered, minus those in ``echo`` (the exchange's own request text).

    Also sets ``response.unread`` when the body could not be read (a counted reason).
    ``bodies`` remembers the values of recent bodies (see :class:`BodyCache`).
    """
    found: dict[str, Delivered] = {}  # src -> value: one value per place
    # the body first: where a body field and a header deliver the same value, the field is
    # the sturdier source (a JSON path, not a position in a Location)
    if response.body and response.is_textual():
        if bodies is not None:
            for d in bodies.values(response):
                if not (echo and d.value in echo and echoed(d.value, echo)):
                    found[d.src] = d
        else:
            text = response.text()
            if text:
                _body(text, response.content_type, _adder(found, echo))
    _headers(response, _adder(found, echo))
    return list(found.values())


def echoed(value: str, echo: str) -> bool:
    """Whether the request text ``echo`` holds ``value`` as a whole: at a place where neither
    neighbour is a letter or digit that would continue it (``302`` is not in ``:30288``;
    ``bob@example.com`` is in ``"email":"bob@example.com"``)."""
    at = echo.find(value)
    while at >= 0:
        end = at + len(value)
        before = echo[at - 1] if at else ""
        after = echo[end] if end < len(echo) else ""
        if not (before.isalnum() and value[0].isalnum()) and not (
            after.isalnum() and value[-1].isalnum()
        ):
            return True
        at = echo.find(value, at + 1)
    return False


def _adder(found: dict[str, Delivered], echo: str) -> _Add:
    """The ``add`` callback that puts a value worth indexing, and not echoed, into ``found``."""

    def add(value: str, src: str, kind: str, id_like: bool) -> None:
        if value[:1].isspace() or value[-1:].isspace():
            value = value.strip()
        if not worth_indexing(value, id_like):
            return
        if src in found or (echo and value in echo and echoed(value, echo)):
            return
        found[src] = _new(Delivered, (value, src, kind, id_like))  # Delivered(...), faster

    return add


def _name_kind(name: str, default: str = "value") -> str:
    if is_csrf_name(name):
        return "csrf"
    if is_token_name(name):
        return "token"
    return "id" if is_id_name(name) else default


def _headers(response: Response, add: _Add) -> None:
    seen: set[str] = set()
    for raw_name, value in response.headers():
        name = raw_name.strip()
        low = name.lower()
        if low == "set-cookie":
            continue
        if low == "location":
            if low not in seen:
                _location(value, add)
            seen.add(low)
            continue
        if low in seen or low in _BORING_HEADERS or low.startswith(_HEADER_PREFIXES):
            continue
        seen.add(low)
        if not plain_name(name):
            continue
        kind = _name_kind(name)
        add(value, f"header:{name}", kind, kind == "id")
        if " " in value.strip():
            last = value.split()[-1]
            add(last, f"header:{name}~{_LAST_WORD}", kind, kind == "id")
    for cname, cvalue in response.set_cookies():
        if plain_name(cname):
            add(cvalue, f"cookie:{cname}", "csrf" if is_csrf_name(cname) else "cookie", False)


def _location(value: str, add: _Add) -> None:
    """Each path segment and query parameter of a ``Location`` (ids, slugs, codes)."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return
    segments = parts.path.split("/")[1:] if parts.path.startswith("/") else []
    pattern = _SCHEME_HOST
    for segment in segments:
        # a plain word is a route (/dashboard, /orders), not something the server assigned
        if segment and not _ROUTE_WORD.fullmatch(segment):
            add(unquote(segment), f"header:Location~{pattern}/([^/?#]+)", "id", True)
        # earlier segments: plain route words literally, anything else (ids, data) by position
        pattern += "/" + (re.escape(segment) if _ROUTE_WORD.fullmatch(segment) else "[^/?#]*")
    for pair in parts.query.split("&") if parts.query else ():
        key, eq, raw = pair.partition("=")
        name = unquote_plus(key)
        if eq and plain_name(name):
            src = f"header:Location~[?&]{re.escape(key)}=([^&#]*)"
            add(unquote_plus(raw), src, _name_kind(name, "id"), True)


def _body(text: str, content_type: str, add: _Add) -> None:
    stripped = text.lstrip()
    if "json" in content_type or (not content_type and stripped[:1] in ("{", "[")):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            return
        _json(document, add)
    elif "html" in content_type or "xml" in content_type or stripped[:1] == "<":
        _html(text, add)
    else:
        _text(text, add)


def _json(document: object, add: _Add) -> None:
    """Every string and number leaf in document order, with the name of its key (list items:
    their list's key).

    The hot loop of reading responses: a leaf's path text is made only for a leaf that passes
    the first, cheap test of :func:`~harness.capture.linkvalues.worth_indexing`.
    """
    if isinstance(document, str):  # a bare JSON string: the whole document
        add(document, "json:$", "token" if looks_like_jwt(document) else "value", False)
        return
    leaves = 0
    # a stack of open containers: (their items, path text, depth, key kind, key id-likeness)
    stack: list[tuple[Iterator[tuple[object, object]], str, int, str, bool, bool]] = []

    def open_(node: object, path: str, depth: int, kind: str, id_like: bool) -> None:
        if depth >= MAX_DEPTH:
            return
        if isinstance(node, dict):
            stack.append((iter(node.items()), path, depth, kind, id_like, True))
        elif isinstance(node, list):
            stack.append((enumerate(node), path, depth, kind, id_like, False))

    open_(document, "json:$", 0, "value", False)
    while stack and leaves < MAX_LEAVES:
        items, path, depth, kind, id_like, keyed = stack[-1]
        for name, child in items:
            if keyed:
                info = _key(name) if isinstance(name, str) else None
                if info is None:
                    continue
                piece, child_kind, child_id = info
            else:
                piece, child_kind, child_id = f"[{name}]", kind, id_like
            if isinstance(child, str):
                leaves += 1
                if child_id or len(child) >= MIN_FREE_LENGTH:
                    if child[:3] == "eyJ" and looks_like_jwt(child):
                        add(child, path + piece, "token", child_id)
                    else:
                        add(child, path + piece, child_kind, child_id)
            elif isinstance(child, dict | list):
                open_(child, path + piece, depth + 1, child_kind, child_id)
                break  # into the child first: document order
            elif child_id and isinstance(child, int) and not isinstance(child, bool):
                leaves += 1
                add(str(child), path + piece, "id", True)
        else:
            stack.pop()  # this container is done


@functools.lru_cache(maxsize=4096)
def _key(name: str) -> tuple[str, str, bool] | None:
    """(path piece, kind, id-like) of a JSON key, or ``None`` when it is no plain name."""
    if not plain_name(name):
        return None
    piece = format_json_path((name,))[1:]
    return piece, _name_kind(name), is_id_name(name)


def _html(text: str, add: _Add) -> None:
    """``<input name=... value=...>`` and ``<meta name=... content=...>`` (first of a name)."""
    for match in _TAG.finditer(text):
        tag = match.group(1).lower()
        attrs = _attrs(match.group(2))
        name = attrs.get("name", "")
        value = attrs.get("value" if tag == "input" else "content")
        if value is not None and plain_name(name):
            add(value, f"html:{name}", _name_kind(name), is_id_name(name))


def _text(text: str, add: _Add) -> None:
    body = text.strip()
    if len(body) <= MAX_BARE_BODY and body and not any(c.isspace() for c in body):
        add(body, "body", "token" if looks_like_jwt(body) else "value", False)
        # name=value&... : each field by a regex on the body
        if "=" in body:
            for pair in body.split("&"):
                key, eq, raw = pair.partition("=")
                name = unquote_plus(key)
                if eq and plain_name(name):
                    src = f"body~(?:^|&){re.escape(key)}=([^&]*)"
                    add(unquote_plus(raw), src, _name_kind(name), is_id_name(name))


def source_value(locator: Locator, response: Response) -> str | None:
    """The value ``response`` holds at a source locator (an ``add`` rule's ``src``), or None."""
    text: str | None = None
    if locator.place == "header":
        text = response.header(locator.name)
    elif locator.place == "cookie":
        text = next((v for n, v in response.set_cookies() if n == locator.name), None)
    else:
        body = response.text() if response.body else ""
        if body is None:
            return None
        if locator.place == "body":
            text = body.strip()
        elif locator.place == "json":
            try:
                leaf = json_get(json.loads(body), locator.path)
            except (ValueError, RecursionError):
                return None
            if isinstance(leaf, str) or (isinstance(leaf, int) and not isinstance(leaf, bool)):
                text = str(leaf)
        elif locator.place == "html":
            text = _html_value(body, locator.name)
    if text is None or locator.regex is None:
        return text
    match = re.search(locator.regex, text)
    if match is None:
        return None
    return match.group(1) if match.groups() else match.group(0)


def _html_value(text: str, name: str) -> str | None:
    for match in _TAG.finditer(text):
        tag = match.group(1).lower()
        attrs = _attrs(match.group(2))
        if attrs.get("name") == name:
            return attrs.get("value" if tag == "input" else "content")
    return None


def _attrs(text: str) -> dict[str, str]:
    return {
        m.group(1).lower(): html.unescape(next(g for g in m.groups()[1:] if g is not None))
        for m in _ATTR.finditer(text)
    }
