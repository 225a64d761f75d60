"""Where a request sends values: the places a link can point to (target locators).

:func:`request_places` lists the values of one request with their *target locator*
(:mod:`harness.capture.linkspec`) and how the place writes them (``encoding``): header values
(whole, and each word: ``Token abc`` offers ``abc``), cookies, path segments (and a segment's
stem before a file extension), query parameters, and the fields of JSON, urlencoded-form and
multipart bodies (a ``Content-Encoding`` of the request body is undone first). Values are
*decoded*: a query value ``a%2Fb`` is offered as ``a/b`` with encoding ``url``.

:func:`place_values` reads the same places of a stored request back, so the import can check
that a link's value is really there after pseudonymisation.

Standard headers that never carry a session's values (``Host``, ``Accept``, ``User-Agent``,
``Referer``...) are not places.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import NamedTuple
from urllib.parse import unquote as _unquote
from urllib.parse import unquote_plus as _unquote_plus

from harness.capture.linkspec import Locator, format_json_path, json_get, parse_json_path
from harness.capture.linkvalues import is_id_name, plain_name
from harness.capture.record import split_headers
from harness.capture.response import decode_content

#: A request body larger than this is not read for values.
MAX_BODY = 1 << 20
MAX_LEAVES = 5000

_BORING_HEADERS = frozenset(
    {
        "host", "content-length", "content-type", "content-encoding", "accept",
        "accept-encoding", "accept-language", "accept-charset", "user-agent", "connection",
        "keep-alive", "te", "upgrade", "cache-control", "pragma", "origin", "referer", "dnt",
        "upgrade-insecure-requests", "priority", "via", "forwarded", "x-real-ip",
        "transfer-encoding", "expect", "if-modified-since", "if-unmodified-since", "range",
        "x-requested-with", "purpose", "save-data", "content-language", "traceparent",
        "tracestate", "x-request-id", "x-correlation-id", "x-amzn-trace-id", "b3",
    }
)  # fmt: skip
_HEADER_PREFIXES = ("sec-", "x-forwarded-", "x-b3-", "cf-")
_SPLIT = re.compile(r"[\s,]+")
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.I)
_DISPOSITION_NAME = re.compile(r'\bname="([^"]*)"', re.I)
_new = tuple.__new__


def unquote(text: str) -> str:
    """Percent-decoding, skipped where there is nothing to decode (the usual case)."""
    return _unquote(text) if "%" in text else text


def unquote_plus(text: str) -> str:
    """Form decoding (``+`` is a blank), skipped where there is nothing to decode."""
    return _unquote_plus(text) if "%" in text or "+" in text else text


def _place(  # noqa: PLR0917 - Place's own fields, in its order
    value: str,
    dst: str,
    encoding: str,
    id_place: bool,
    position: int = 0,
    prefix: str = "",
    suffix: str = "",
) -> Place:
    """``Place(...)``, made faster (this runs for every value of every request)."""
    return _new(Place, (value, dst, encoding, id_place, position, prefix, suffix))


class Place(NamedTuple):
    """One value a request sends: ``value`` (decoded) at ``dst``, written with ``encoding``.

    ``id_place``: a whole path segment, or a field whose name is id-like. ``position`` counts the
    places of the same ``dst`` before this one (path: the segment number), and ``prefix`` /
    ``suffix`` are what surrounds ``value`` in its place (``Token `` before a token): with them
    the import finds the value again after pseudonymisation changed it.
    """

    value: str
    dst: str
    encoding: str
    id_place: bool
    position: int = 0
    prefix: str = ""
    suffix: str = ""


def content_type(head: str) -> str:
    """The request's media type, lower case, without parameters."""
    for name, value in split_headers(head):
        if name.strip().lower() == "content-type":
            return value.partition(";")[0].strip().lower()
    return ""


def request_places(path: str, head: str, body: bytes) -> list[Place]:
    """Every value the request ``path`` + ``head`` + ``body`` sends, by place."""
    places: list[Place] = []
    _path_places(path, places)
    ctype = ""
    codings = ""
    for raw_name, value in split_headers(head):
        name = raw_name.strip()
        low = name.lower()
        if low == "content-type":
            ctype = value
        elif low == "content-encoding":
            codings = value
        if low in _BORING_HEADERS or low.startswith(_HEADER_PREFIXES) or not plain_name(name):
            continue
        if low == "cookie":
            _cookie_places(value, places)
        else:
            _word_places(value, f"header:{name}", "raw", is_id_name(name), places)
    if body:
        text = _body_text(body, codings)
        if text is not None:
            _body_places(text, ctype, places)
    return places


def _path_places(path: str, places: list[Place]) -> None:
    base, _, query = path.partition("?")
    base = base.partition("#")[0]
    for i, segment in enumerate(base.split("/")):
        if not segment:
            continue
        value = unquote(segment)
        places.append(_place(value, "path", "url", True, i))
        stem, dot, ext = value.rpartition(".")
        if dot and stem and ext.isalpha() and len(ext) <= 5:
            places.append(_place(stem, "path", "url", True, i, "", dot + ext))
    seen: dict[str, int] = {}
    for pair in query.partition("#")[0].split("&") if query else ():
        key, eq, raw = pair.partition("=")
        name = unquote_plus(key)
        if eq and raw and plain_name(name):
            n = seen[name] = seen.get(name, -1) + 1
            places.append(_place(unquote_plus(raw), f"query:{name}", "url", is_id_name(name), n))


def _cookie_places(header: str, places: list[Place]) -> None:
    for part in header.split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and value and plain_name(name):
            places.append(_place(value.strip('"'), f"cookie:{name}", "raw", False))


def _word_places(text: str, dst: str, encoding: str, id_place: bool, places: list[Place]) -> None:
    """The whole ``text`` and, when it has several words, each word (with what surrounds it)."""
    whole = text.strip()
    if not whole:
        return
    places.append(_place(whole, dst, encoding, id_place))
    if " " in whole or "," in whole:
        for match in _SPLIT.split(whole):
            if match and match != whole:
                start = whole.find(match)
                places.append(
                    _place(
                        match, dst, encoding, id_place, 0, whole[:start],
                        whole[start + len(match) :],
                    )
                )  # fmt: skip


def _body_text(body: bytes, codings: str) -> str | None:
    for coding in reversed([c.strip().lower() for c in codings.split(",") if c.strip()]):
        if coding != "identity":
            try:
                body = decode_content(body, coding, MAX_BODY)
            except ValueError:
                return None
    if len(body) > MAX_BODY:
        return None
    return body.decode("utf-8", "replace")


def _body_places(text: str, ctype: str, places: list[Place]) -> None:
    kind = ctype.partition(";")[0].strip().lower()
    stripped = text.lstrip()
    if "json" in kind or (not kind and stripped[:1] in ("{", "[")):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            return
        _json_places(document, places)
    elif kind == "application/x-www-form-urlencoded":
        seen: dict[str, int] = {}
        for pair in text.split("&"):
            key, eq, raw = pair.partition("=")
            name = unquote_plus(key)
            if eq and raw and plain_name(name):
                n = seen[name] = seen.get(name, -1) + 1
                value = unquote_plus(raw)
                places.append(_place(value, f"form:{name}", "url", is_id_name(name), n))
    elif kind.startswith("multipart/"):
        match = _BOUNDARY.search(ctype)
        if match:
            for name, value in multipart_fields(text, match.group(1)):
                if plain_name(name):
                    _word_places(value, f"multipart:{name}", "raw", is_id_name(name), places)
    elif len(text) <= 4096:
        _word_places(text, "body", "raw", False, places)


def _json_places(document: object, places: list[Place]) -> None:
    leaves = 0
    stack: list[tuple[object, tuple[str | int, ...], str]] = [(document, (), "")]
    while stack and leaves < MAX_LEAVES:
        node, path, key = stack.pop()
        if isinstance(node, dict):
            for name, child in reversed(list(node.items())):
                if isinstance(name, str) and plain_name(name):
                    stack.append((child, (*path, name), name))
        elif isinstance(node, list):
            for i in range(len(node) - 1, -1, -1):
                stack.append((node[i], (*path, i), key))
        elif isinstance(node, str):
            leaves += 1
            _word_places(node, "json:" + format_json_path(path), "json", is_id_name(key), places)
        elif isinstance(node, int) and not isinstance(node, bool):
            leaves += 1
            dst = "json:" + format_json_path(path)
            places.append(_place(str(node), dst, "raw", is_id_name(key)))


def multipart_fields(text: str, boundary: str) -> list[tuple[str, str]]:
    """``(name, value)`` of the form fields (not files) of a multipart body."""
    out = []
    for part in text.split("--" + boundary)[1:]:
        head, sep, value = part.partition("\r\n\r\n")
        if not sep:
            head, sep, value = part.partition("\n\n")
        if not sep or "filename=" in head.lower():
            continue
        match = _DISPOSITION_NAME.search(head)
        if match:
            out.append((match.group(1), value.removesuffix("\r\n").removesuffix("\n")))
    return out


def place_values(
    dst: Locator, path: str, headers: Sequence[tuple[str, str]], body: bytes
) -> list[str]:
    """The decoded values a stored request holds at ``dst`` (several: repeated names, segments).

    ``headers`` are the request's header lines as ``(name, value)``. For ``path`` the segments
    in order (empty ones included), so a segment number still points at the same one.
    """
    if dst.place == "path":
        return [unquote(s) for s in path.partition("?")[0].partition("#")[0].split("/")]
    if dst.place == "query":
        query = path.partition("?")[2].partition("#")[0]
        return _pairs(query, dst.name)
    if dst.place == "header":
        low = dst.name.lower()
        return [v for n, v in headers if n.strip().lower() == low]
    if dst.place == "cookie":
        out = []
        for n, v in headers:
            if n.strip().lower() == "cookie":
                for part in v.split(";"):
                    name, eq, value = part.strip().partition("=")
                    if eq and name == dst.name:
                        out.append(value.strip('"'))
        return out
    codings = ",".join(v for n, v in headers if n.strip().lower() == "content-encoding")
    text = _body_text(body, codings) if body else ""
    if text is None:
        return []
    if dst.place == "json":
        try:
            leaf = json_get(json.loads(text), dst.path)
        except (ValueError, RecursionError):
            return []
        if isinstance(leaf, bool) or leaf is None or isinstance(leaf, dict | list):
            return []
        return [str(leaf)]
    if dst.place == "form":
        return _pairs(text, dst.name)
    if dst.place == "multipart":
        ctype = ",".join(v for n, v in headers if n.strip().lower() == "content-type")
        match = _BOUNDARY.search(ctype)
        if match is None:
            return []
        return [v for n, v in multipart_fields(text, match.group(1)) if n == dst.name]
    return [text.strip()]


def _pairs(text: str, name: str) -> list[str]:
    out = []
    for pair in text.split("&") if text else ():
        key, eq, raw = pair.partition("=")
        if eq and unquote_plus(key) == name:
            out.append(unquote_plus(raw))
    return out


def json_path_of(dst: str) -> tuple[str | int, ...]:
    """The JSON path of a ``json:`` target locator text."""
    return parse_json_path(dst.removeprefix("json:"))
