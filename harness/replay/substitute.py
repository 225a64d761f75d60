"""Write a link's live value into an outgoing request, where the captured value stood.

Pure. A link says the captured request holds ``old`` (the text as written at the target
locator, :mod:`harness.capture.linkspec`) and that the replay must send what the same target's
reply delivered instead; :func:`substitute` writes that live value, encoded as the link's
``encoding`` says (``raw``, ``url``: percent-encoded, ``json``: JSON string escapes), at:

- ``header:NAME``: inside every header of that name (``Token <old>`` -> ``Token <live>``);
- ``cookie:NAME``: the value of that cookie in the ``Cookie`` header;
- ``path``: the path segments equal to ``old`` (else occurrences inside a segment);
- ``query:NAME``: the values of that query parameter;
- ``json:$.a.b``: the node at that path of the JSON body (a number stays a number when the
  live value is one; a string node that contains ``old`` has that part replaced);
- ``form:NAME``: that field of a urlencoded body; ``multipart:NAME``: the content of that part;
- ``body``: every occurrence in the body.

The body may change length: the sender sets ``Content-Length`` from the body it sends (the
captured one is never replayed). :func:`substitute` returns False, changing nothing, when
``old`` is not where the locator points.

>>> req = Outgoing("GET", "/api/notes/old-slug/comments?x=1", [("Authorization", "Token t0")], b"")
>>> substitute(req, parse_target("path"), "old-slug", "new-slug", "url")
True
>>> substitute(req, parse_target("header:authorization"), "t0", "t1", "raw")
True
>>> req.path, req.headers
('/api/notes/new-slug/comments?x=1', [('Authorization', 'Token t1')])
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from harness.capture.linkspec import JsonPath, Locator, parse_target

__all__ = ["Outgoing", "encode", "parse_target", "substitute"]

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_PART_NAME = re.compile(rb'name="([^"]*)"', re.IGNORECASE)


@dataclass
class Outgoing:
    """A request about to be sent to one target (its own copy: substitution changes it)."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes


def encode(value: str, encoding: str) -> str:
    """``value`` as written at a target place with that ``encoding``."""
    if encoding == "url":
        return quote(value, safe="-._~")
    if encoding == "json":
        return json.dumps(value, ensure_ascii=False)[1:-1]
    return value


def substitute(req: Outgoing, dst: Locator, old: str, live: str, encoding: str) -> bool:
    """Write ``live`` where ``old`` stands at ``dst``; False (nothing changed) when it is not."""
    if not old:
        return False
    new = encode(live, encoding)
    place = dst.place
    if place == "header":
        return _in_headers(req, dst.name, lambda v: v.replace(old, new) if old in v else None)
    if place == "cookie":
        return _in_headers(req, "cookie", lambda v: _cookie(v, dst.name, old, new))
    if place == "path":
        path, sep, query = req.path.partition("?")
        changed = _segments(path, old, new)
        if changed is None:
            return False
        req.path = changed + sep + query
        return True
    if place == "query":
        path, sep, query = req.path.partition("?")
        changed = _pairs(query, dst.name, old, new, plus=False) if sep else None
        if changed is None:
            return False
        req.path = path + sep + changed
        return True
    if place == "json":
        return _json(req, dst.path, old, live, encoding)
    if place == "form":
        text = req.body.decode("utf-8", "surrogateescape")
        changed = _pairs(text, dst.name, old, new, plus=True)
        if changed is None:
            return False
        req.body = changed.encode("utf-8", "surrogateescape")
        return True
    if place == "multipart":
        return _multipart(req, dst.name, old.encode(), new.encode())
    # body
    raw_old = old.encode("utf-8", "surrogateescape")
    if raw_old not in req.body:
        return False
    req.body = req.body.replace(raw_old, new.encode("utf-8", "surrogateescape"))
    return True


def _in_headers(req: Outgoing, name: str, change: object) -> bool:
    low = name.lower()
    found = False
    for i, (key, value) in enumerate(req.headers):
        if key.lower() == low:
            changed = change(value)  # type: ignore[operator]
            if changed is not None:
                req.headers[i] = (key, changed)
                found = True
    return found


def _cookie(header: str, name: str, old: str, new: str) -> str | None:
    parts = header.split(";")
    found = False
    for i, part in enumerate(parts):
        key, eq, value = part.strip().partition("=")
        if eq and key == name and (value == old or old in value):
            lead = part[: len(part) - len(part.lstrip())]
            parts[i] = f"{lead}{key}={value.replace(old, new)}"
            found = True
    return ";".join(parts) if found else None


def _segments(path: str, old: str, new: str) -> str | None:
    segments = path.split("/")
    whole = [i for i, s in enumerate(segments) if s == old or unquote(s) == old]
    if whole:
        for i in whole:
            segments[i] = new
        return "/".join(segments)
    return path.replace(old, new) if old in path else None


def _pairs(text: str, name: str, old: str, new: str, *, plus: bool) -> str | None:
    """``a=1&b=2`` with the values of ``name`` equal to (or holding) ``old`` replaced."""
    decode = unquote_plus if plus else unquote
    pairs = text.split("&")
    found = False
    for i, pair in enumerate(pairs):
        key, eq, value = pair.partition("=")
        if not eq or decode(key) != name:
            continue
        if value == old or decode(value) == old:
            pairs[i] = f"{key}={new}"
            found = True
        elif old in value:
            pairs[i] = f"{key}={value.replace(old, new)}"
            found = True
        elif (coded := (quote_plus if plus else quote)(old, safe="")) in value:
            pairs[i] = f"{key}={value.replace(coded, new)}"
            found = True
    return "&".join(pairs) if found else None


def _json(req: Outgoing, path: JsonPath, old: str, live: str, encoding: str) -> bool:
    if not path:
        return False
    try:
        document = json.loads(req.body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    parent: object = document
    for part in path[:-1]:
        if isinstance(part, int):
            if not isinstance(parent, list) or part >= len(parent):
                return False
        elif not isinstance(parent, dict) or part not in parent:
            return False
        parent = parent[part]  # type: ignore[index]
    last = path[-1]
    in_list = isinstance(parent, list) and isinstance(last, int) and last < len(parent)
    if not in_list and not (isinstance(parent, dict) and isinstance(last, str) and last in parent):
        return False
    node = parent[last]  # type: ignore[index]
    plain = _json_unescape(old) if encoding == "json" else old
    if isinstance(node, bool) or node is None:
        return False
    if isinstance(node, int | float):
        if json.dumps(node) != plain:
            return False
        try:
            value: object = json.loads(live) if _NUMBER.fullmatch(live) else live
        except ValueError:
            value = live
    elif isinstance(node, str) and node == plain:
        value = live
    elif isinstance(node, str) and plain in node:
        value = node.replace(plain, live)
    else:
        return False
    parent[last] = value  # type: ignore[index]
    compact = b'": ' not in req.body and b", " not in req.body
    separators = (",", ":") if compact else (", ", ": ")
    req.body = json.dumps(document, ensure_ascii=False, separators=separators).encode()
    return True


_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def _json_unescape(text: str) -> str:
    try:
        value = json.loads(f'"{text}"')
    except ValueError:
        return text
    return value if isinstance(value, str) else text


def _multipart(req: Outgoing, name: str, old: bytes, new: bytes) -> bool:
    content_type = next((v for k, v in req.headers if k.lower() == "content-type"), "")
    found = _BOUNDARY.search(content_type)
    if found is None:
        return False
    delimiter = b"--" + found.group(1).encode()
    parts = req.body.split(delimiter)
    changed = False
    for i, part in enumerate(parts):
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        named = _PART_NAME.search(head)
        if named is None or named.group(1).decode("utf-8", "replace") != name:
            continue
        if old in content:
            parts[i] = head + sep + content.replace(old, new)
            changed = True
    if changed:
        req.body = delimiter.join(parts)
    return changed
