"""The fields of a captured login request: read what it sent, write a staging account instead.

Pure. A field of ``auth: captured_login: fields`` (:mod:`harness.scenario.auth`) is either a
target locator (``form:username``, ``multipart:password``, ``json:$.user.email``,
``header:X-Password``, ``query:pw``) or a plain name, which means that field of the body,
whatever its type: the urlencoded form field, the multipart part, or every JSON object member
of that name at any depth (``email`` finds ``{"user": {"email": ...}}``).

:func:`read_field` gives the captured (decoded) value, :func:`write_field` writes a new one
where it stood, encoded as the place wants (percent-encoding in a form or query, JSON escapes
in JSON); the body may change length (the sender sets ``Content-Length``).

>>> req = Outgoing("POST", "/login/", [("Content-Type", "application/x-www-form-urlencoded")],
...                b"csrfmiddlewaretoken=t&username=user0&password=ngny-8-fpor")
>>> read_field(req, "password")
'ngny-8-fpor'
>>> write_field(req, "password", "s3cret & more"), req.body
(True, b'csrfmiddlewaretoken=t&username=user0&password=s3cret%20%26%20more')
"""

from __future__ import annotations

import json

from harness.capture.linkspec import JsonPath, Locator
from harness.capture.linktargets import place_values
from harness.replay.substitute import Outgoing, substitute
from harness.scenario.auth import parse_field

#: JSON nodes visited when looking for a plain name (a login body is small)
_MAX_NODES = 10_000
_MAX_DEPTH = 32


def _media_type(req: Outgoing) -> str:
    for name, value in req.headers:
        if name.lower() == "content-type":
            return value.partition(";")[0].strip().lower()
    return ""


def _scalar(value: object) -> bool:
    """A string or a number (true/false is no credential)."""
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _json_paths(body: bytes, name: str) -> list[JsonPath]:
    """Paths of the members called ``name`` holding a string or a number, in document order."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return []
    found: list[JsonPath] = []
    budget = [_MAX_NODES]

    def walk(node: object, path: JsonPath) -> None:
        budget[0] -= 1
        if budget[0] < 0 or len(path) > _MAX_DEPTH:
            return
        if isinstance(node, dict):
            for key, child in node.items():
                if isinstance(child, dict | list):
                    walk(child, (*path, key))
                elif key == name and _scalar(child):
                    found.append((*path, key))
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, (*path, i))

    walk(document, ())
    return found


def places(req: Outgoing, field: str) -> list[Locator]:
    """Where ``field`` is in ``req`` (a locator as given; a plain name by the body's type)."""
    locator = parse_field(field)
    if locator is not None:
        return [locator]
    media = _media_type(req)
    if media == "application/x-www-form-urlencoded":
        return [Locator("form", field)]
    if media.startswith("multipart/"):
        return [Locator("multipart", field)]
    if "json" in media or req.body.lstrip()[:1] in (b"{", b"["):
        return [Locator("json", path=path) for path in _json_paths(req.body, field)]
    return []


def read_field(req: Outgoing, field: str) -> str | None:
    """The value the request sends at ``field`` (decoded), or None when it sends none."""
    for place in places(req, field):
        values = place_values(place, req.path, req.headers, req.body)
        if values:
            return values[0]
    return None


def write_field(req: Outgoing, field: str, value: str) -> bool:
    """Write ``value`` wherever ``field`` stands in ``req``; False when it is not there (or
    holds the empty string: nothing to replace)."""
    written = False
    for place in places(req, field):
        for old in place_values(place, req.path, req.headers, req.body):
            encoding = "url" if place.place in ("form", "query") else "raw"
            if old and substitute(req, place, old, value, encoding):
                written = True
    return written
