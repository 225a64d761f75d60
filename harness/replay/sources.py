"""Read a link's value out of a replayed response, at a source locator (``json:$.user.token``).

Pure. A :class:`Reply` is a replayed response (status, headers, body); it parses its body once,
on demand, however many links read from it. :func:`extract` follows the grammar of
:mod:`harness.capture.linkspec`:

- ``json:$.a[0].b``: the node at that path of the JSON body; a string as is, a number or a
  boolean in its JSON text (``42``, ``true``); an object, array or null gives nothing;
- ``header:NAME``: the first header of that name (any case);
- ``cookie:NAME``: the value the response's ``Set-Cookie`` headers set for that cookie;
- ``html:NAME``: the ``value`` of ``<input name=NAME>`` (the first), else the ``content`` of
  ``<meta name=NAME>``, entities decoded;
- ``body``: the whole body as text (UTF-8, invalid bytes replaced);
- ``...~REGEX``: then the first match of REGEX in that text: group 1, or the whole match.

>>> reply = Reply(201, [("Location", "/notes/hello-3fa9c2")], b'{"note": {"id": 7}}')
>>> extract(parse_source("json:$.note.id"), reply)
'7'
>>> extract(parse_source("header:location~^/notes/([^/?#]+)"), reply)
'hello-3fa9c2'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from html import unescape

from harness.capture.linkspec import Locator, json_get, parse_source
from harness.replay.cookies import parse_set_cookie

__all__ = ["Reply", "extract", "parse_source"]

_TAG = re.compile(r"<(input|meta)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+)""")
_NOTHING = object()


@dataclass
class Reply:
    """One replayed response; the parsed forms of its body are computed once and kept."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    _text: str | None = field(default=None, repr=False)
    _json: object = field(default=_NOTHING, repr=False)
    _html: dict[str, str] | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.body.decode("utf-8", "replace")
        return self._text

    @property
    def document(self) -> object:
        """The body parsed as JSON (None when it is not JSON)."""
        if self._json is _NOTHING:
            try:
                self._json = json.loads(self.body) if self.body else None
            except (UnicodeDecodeError, ValueError, RecursionError):
                self._json = None
        return self._json

    @property
    def html_fields(self) -> dict[str, str]:
        """``name`` -> value of the first ``<input name value>``, else ``<meta name content>``."""
        if self._html is None:
            inputs: dict[str, str] = {}
            metas: dict[str, str] = {}
            for tag, attributes in _TAG.findall(self.text):
                attrs = {k.lower(): _unquote(v) for k, v in _ATTR.findall(attributes)}
                name = attrs.get("name")
                if name is None:
                    continue
                if tag.lower() == "input" and "value" in attrs:
                    inputs.setdefault(name, attrs["value"])
                elif tag.lower() == "meta" and "content" in attrs:
                    metas.setdefault(name, attrs["content"])
            self._html = {**metas, **inputs}
        return self._html

    def header(self, name: str) -> str | None:
        low = name.lower()
        for key, value in self.headers:
            if key.lower() == low:
                return value
        return None

    def cookie(self, name: str) -> str | None:
        """The value this response's ``Set-Cookie`` headers set for cookie ``name`` (last wins)."""
        found = None
        for key, value in self.headers:
            if key.lower() == "set-cookie":
                parsed = parse_set_cookie(value)
                if parsed is not None and parsed.name == name:
                    found = parsed.value
        return found


def _unquote(value: str) -> str:
    if value[:1] in ("'", '"'):
        value = value[1:-1]
    return unescape(value)


def extract(src: Locator, reply: Reply) -> str | None:
    """The value at ``src`` in ``reply``, or None when the response lacks it."""
    text: str | None
    if src.place == "json":
        node = json_get(reply.document, src.path)
        if isinstance(node, str):
            text = node
        elif isinstance(node, bool | int | float):
            text = json.dumps(node)
        else:
            text = None
    elif src.place == "header":
        text = reply.header(src.name)
    elif src.place == "cookie":
        text = reply.cookie(src.name)
    elif src.place == "html":
        text = reply.html_fields.get(src.name)
    else:  # body
        text = reply.text
    if text is None or src.regex is None:
        return text
    match = _compiled(src.regex).search(text)
    if match is None:
        return None
    return match.group(1) if match.re.groups else match.group(0)


@lru_cache(maxsize=1024)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)
