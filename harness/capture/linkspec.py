"""The grammar of a session link's two locations (see :mod:`harness.capture.schema`).

A link's ``src`` says where a captured **response** delivered a value; its ``dst`` says where a
later **request** sends it. The import writes them, a capture config can add them, and the replay
reads them; this module is the one definition of their text form.

Source locators (in a response)::

    json:$.user.token          a JSON body field (keys .name or ["odd.name"], indexes [0])
    header:Location            a response header (first of that name, any case)
    cookie:sessionid           the value a Set-Cookie header sets for that cookie name
    html:csrfmiddlewaretoken   value of <input name=...> or content of <meta name=...> in HTML
    body                       the whole body as text
    ...~REGEX                  any of the above, then REGEX on that text: group 1 (or the whole
                               match) is the value, e.g. header:Location~^/articles/([^/?#]+)

Target locators (in a request)::

    header:Authorization  cookie:csrftoken  path  query:since  json:$.comment.id
    form:csrfmiddlewaretoken  multipart:token  body

>>> parse_source("json:$.user.token").path
('user', 'token')
>>> parse_source("header:Location~^/a/([0-9]+)").regex
'^/a/([0-9]+)'
>>> parse_target("query:since").name
'since'
>>> format_json_path(("articles", 0, "slug"))
'$.articles[0].slug'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

#: Where a source locator may point.
SOURCE_PLACES: tuple[str, ...] = ("json", "header", "cookie", "html", "body")
#: Where a target locator may point.
TARGET_PLACES: tuple[str, ...] = (
    "header", "cookie", "path", "query", "json", "form", "multipart", "body",
)  # fmt: skip
#: Places that take no name after the colon.
_BARE = frozenset({"body", "path"})

JsonPath = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


class LocatorError(ValueError):
    """A locator that does not follow the grammar; the message says what is wrong."""


@dataclass(frozen=True)
class Locator:
    """A parsed locator: ``place``, and ``name`` (header, cookie, field) or ``path`` (JSON)."""

    place: str
    name: str = ""
    path: JsonPath = ()
    regex: str | None = None

    def __str__(self) -> str:
        if self.place == "json":
            text = "json:" + format_json_path(self.path)
        elif self.place in _BARE:
            text = self.place
        else:
            text = f"{self.place}:{self.name}"
        return text if self.regex is None else f"{text}~{self.regex}"


def parse_source(text: str) -> Locator:
    """Parse a source locator; raises :class:`LocatorError` with the reason."""
    base, regex = _split_regex(text)
    loc = _parse(base, SOURCE_PLACES, "source")
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as exc:
            raise LocatorError(f"{text!r}: invalid regular expression after '~': {exc}") from exc
        loc = Locator(loc.place, loc.name, loc.path, regex)
    return loc


def parse_target(text: str) -> Locator:
    """Parse a target locator (no ``~REGEX`` part); raises :class:`LocatorError`."""
    return _parse(text, TARGET_PLACES, "target")


def _split_regex(text: str) -> tuple[str, str | None]:
    """Split ``base~regex`` at the first ``~`` outside a quoted JSON key."""
    quoted = False
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "~" and not quoted:
            return text[:i], text[i + 1 :]
    return text, None


def _parse(text: str, places: tuple[str, ...], what: str) -> Locator:
    place, colon, rest = text.partition(":")
    if place not in places:
        raise LocatorError(f"{text!r}: unknown {what} place {place!r} (one of {', '.join(places)})")
    if place in _BARE:
        if colon:
            raise LocatorError(f"{text!r}: {place!r} takes no name")
        return Locator(place)
    if not rest:
        raise LocatorError(f"{text!r}: {place!r} needs a name after the colon")
    if place == "json":
        return Locator(place, path=parse_json_path(rest))
    return Locator(place, name=rest)


def parse_json_path(text: str) -> JsonPath:
    """``$.a[0]["b.c"]`` -> ``("a", 0, "b.c")``; raises :class:`LocatorError`."""
    if not text.startswith("$"):
        raise LocatorError(f"JSON path {text!r} must start with '$'")
    parts: list[str | int] = []
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == ".":
            match = _PLAIN_KEY.match(text, i + 1)
            if match is None:
                raise LocatorError(f"JSON path {text!r}: expected a key after '.' at {i}")
            parts.append(match.group(0))
            i = match.end()
        elif ch == "[":
            end, part = _bracket(text, i)
            parts.append(part)
            i = end
        else:
            raise LocatorError(f"JSON path {text!r}: unexpected {ch!r} at {i}")
    return tuple(parts)


def _bracket(text: str, i: int) -> tuple[int, str | int]:
    """The part in brackets starting at ``text[i] == '['``: (index after ']', key or index)."""
    if text.startswith('["', i):
        decoder = json.JSONDecoder()
        try:
            key, end = decoder.raw_decode(text, i + 1)
        except json.JSONDecodeError as exc:
            raise LocatorError(f"JSON path {text!r}: bad quoted key at {i}") from exc
        if not isinstance(key, str) or text[end : end + 1] != "]":
            raise LocatorError(f"JSON path {text!r}: bad quoted key at {i}")
        return end + 1, key
    close = text.find("]", i)
    digits = text[i + 1 : close] if close > 0 else ""
    if not digits.isdigit():
        raise LocatorError(f'JSON path {text!r}: expected [N] or ["key"] at {i}')
    return close + 1, int(digits)


def format_json_path(path: JsonPath) -> str:
    """The text form of a JSON path (the inverse of :func:`parse_json_path`)."""
    out = ["$"]
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.fullmatch(part):
            out.append("." + part)
        else:
            out.append("[" + json.dumps(part) + "]")
    return "".join(out)


def json_get(document: object, path: JsonPath) -> object | None:
    """The node at ``path`` in a parsed JSON ``document``, or ``None`` when absent."""
    node = document
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return None
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
    return node
