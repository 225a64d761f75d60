"""Secrets found by their name in structured text: JSON, form and query fields, multipart, XML.

:class:`FieldFinder` returns the spans (:data:`~harness.capture.secretvalues.Hit`, rule
``secret-field``) of every value held under a secret name (:mod:`harness.capture.secretnames`):

- **JSON**: the value of a secret key at any depth; a string (decoded from its escapes), a
  number, or **every** string and number inside an object or array held by the key
  (``"credentials": {"user": "ann", "pin": 1234}``); ``true``, ``false`` and ``null`` stay;
- **form bodies and query strings**: ``name=value`` pairs (``&`` or ``;`` between them), the
  name decoded before it is judged (``user%5Bpassword%5D`` is ``user[password]``);
- **multipart/form-data**: the content of a part whose field name is secret; a JSON part is
  searched like a JSON body;
- **XML**: the text (and CDATA) inside an element with a secret local name, nested elements
  included (``<wsse:Password>``), and attributes with a secret name.

The text is read as it is, never parsed into objects and written back: a span is replaced
where it stands, so the rest of the body keeps its bytes. A cheap case-insensitive search for
the words of secret names (:meth:`FieldFinder.may_hold`) skips text that cannot hold one.
"""

from __future__ import annotations

import re

from harness.capture.escapes import decode
from harness.capture.secretnames import SecretNames
from harness.capture.secretvalues import Hit

FIELD_RULE = "secret-field"

# a string from its quote to its closing quote, or to the end of a truncated text (so a string
# is never tried again from a quote inside it: linear time on any input); groups: content,
# closing quote ("" if none), the colon of a key
_JSON_STRING = re.compile(r'"((?:[^"\\]|\\.)*+)\\?("?)(\s*:)?', re.S)
_JSON_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_JSON_TOKEN = re.compile(
    r'"((?:[^"\\]|\\.)*+)\\?("?)(\s*:)?|(-?[0-9]++(?:\.[0-9]++)?(?:[eE][+-]?[0-9]++)?)'
    r"|([\[\]{}])",
    re.S,
)
_WHITESPACE = re.compile(r"\s*")
_FORM_PAIR = re.compile(r"(?:^|(?<=[&;]))([^&;=]++)=([^&;]*+)")
_LOOSE_PAIR = re.compile(r"(?:^|(?<=[?&;\s]))([^&;=\s?]++)=([^&;#\s]*+)")
_PART_NAME = re.compile(r'(?im)^content-disposition:[^\r\n]*?\bname=(?:"([^"]*)"|([^;\s]+))')
_PART_JSON = re.compile(r"(?im)^content-type:[^\r\n]*json")
_XML_OPEN = re.compile(r"<([A-Za-z_][\w.-]*+:)?([A-Za-z_][\w.-]*+)((?:\s[^<>]*?)?)(/?)>")
_XML_ATTR = re.compile(r"([A-Za-z_][\w.:-]*)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_XML_TEXT = re.compile(r"<!\[CDATA\[(.*?)\]\]>|<[^>]*>|([^<]+)", re.S)
# words that every secret name contains one of (a superset test: a false hit costs time only)
_HINT_WORDS = (
    "pass", "pwd", "secret", "token", "key", "auth", "cred", "cookie", "sess", "sid", "csrf",
    "xsrf", "cvv", "cvc", "cvn", "csc", "pin", "ssn", "otp", "mfa", "iban", "pan", "ccnum",
    "card", "jwt", "bearer", "code",
)  # fmt: skip


class FieldFinder:
    """Finds values under secret names (see the module docstring)."""

    def __init__(self, names: SecretNames, extra: list[str] | None = None) -> None:
        self._names = names
        words = [*_HINT_WORDS, *(w for w in extra or [] if w)]
        self._hint = re.compile("|".join(re.escape(w) for w in words), re.I)

    def may_hold(self, text: str) -> bool:
        """Whether ``text`` may hold a secret name at all."""
        return self._hint.search(text) is not None

    def json(self, text: str, offset: int = 0) -> list[Hit]:
        """Values under secret keys in JSON ``text`` (spans shifted by ``offset``)."""
        hits: list[Hit] = []
        covered = -1
        for m in _JSON_STRING.finditer(text):
            if not m.group(3) or m.start() < covered:
                continue
            key = m.group(1)
            if "\\" in key:
                key = decode("json", key)[0]
            if self._names(key):
                start = _WHITESPACE.match(text, m.end()).end()  # type: ignore[union-attr]
                covered = _json_value(text, start, hits, offset)
        return hits

    def form(self, text: str, strict: bool = True, offset: int = 0) -> list[Hit]:
        """Values of secret ``name=value`` pairs; ``strict``: ``text`` is all pairs (a form
        body, a query string), else pairs are looked for in free text."""
        hits: list[Hit] = []
        for m in (_FORM_PAIR if strict else _LOOSE_PAIR).finditer(text):
            name = m.group(1)
            if m.group(2) and self._names(decode("form", name)[0] if "%" in name else name):
                hits.append((m.start(2) + offset, m.end(2) + offset, FIELD_RULE, "form"))
        return hits

    def multipart(self, text: str, boundary: str) -> list[Hit]:
        """Contents of the parts of a multipart body whose field name is secret."""
        hits: list[Hit] = []
        delimiter = "--" + boundary
        starts = [m.end() for m in re.finditer(re.escape(delimiter), text)]
        for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
            stop = end - len(delimiter) if end < len(text) else end
            part = text[begin:stop]
            split = part.find("\r\n\r\n")
            gap = 4
            if split < 0:
                split, gap = part.find("\n\n"), 2
            if split < 0:
                continue
            head = part[:split]
            first = begin + split + gap
            last = begin + len(part)
            if text[last - 2 : last] == "\r\n":
                last -= 2
            elif text[last - 1 : last] == "\n":
                last -= 1
            found = _PART_NAME.search(head)
            name = (found.group(1) or found.group(2)) if found else None
            if name and last > first and self._names(name):
                hits.append((first, last, FIELD_RULE, "raw"))
            elif _PART_JSON.search(head):
                hits += self.json(text[first:last], offset=first)
        return hits

    def xml(self, text: str) -> list[Hit]:
        """Text inside XML elements with a secret name, and secret attributes."""
        hits: list[Hit] = []
        covered = -1
        names = self._names
        for m in _XML_OPEN.finditer(text):
            if m.start() < covered:
                continue
            attrs = m.group(3)
            if attrs and "=" in attrs:
                base = m.start(3)
                for a in _XML_ATTR.finditer(attrs):
                    group = 2 if a.group(2) is not None else 3
                    if a.group(group) and names(a.group(1).rpartition(":")[2]):
                        hits.append((base + a.start(group), base + a.end(group), FIELD_RULE, "xml"))
            if m.group(4) or not names(m.group(2)):
                continue
            close = text.find("</" + (m.group(1) or "") + m.group(2), m.end())
            close = len(text) if close < 0 else close
            _xml_texts(text, m.end(), close, hits)
            covered = close
        return hits


def _json_value(text: str, start: int, hits: list[Hit], offset: int) -> int:
    """Add the leaves of the JSON value at ``start`` to ``hits``; returns where it ends."""
    if start >= len(text):
        return start
    first = text[start]
    if first == '"':
        m = _JSON_STRING.match(text, start)
        if m is None:
            return start
        if m.end(1) > m.start(1):
            hits.append((m.start(1) + offset, m.end(1) + offset, FIELD_RULE, "json"))
        return m.end(2)
    if first in "-0123456789":
        m = _JSON_NUMBER.match(text, start)
        if m is None:
            return start
        hits.append((m.start() + offset, m.end() + offset, FIELD_RULE, "number"))
        return m.end()
    if first not in "[{":
        return start  # true, false, null: nothing to hide
    depth = 0
    for m in _JSON_TOKEN.finditer(text, start):
        bracket = m.group(5)
        if bracket is not None:
            depth += 1 if bracket in "[{" else -1
            if depth == 0:
                return m.end()
        elif m.group(4) is not None:
            hits.append((m.start(4) + offset, m.end(4) + offset, FIELD_RULE, "number"))
        elif not m.group(3) and m.end(1) > m.start(1):  # a string that is not a key
            hits.append((m.start(1) + offset, m.end(1) + offset, FIELD_RULE, "json"))
    return len(text)  # an object that never closes (a truncated body): all of it


def _xml_texts(text: str, start: int, end: int, hits: list[Hit]) -> None:
    for m in _XML_TEXT.finditer(text, start, end):
        if m.group(1) is not None:
            if m.group(1):
                hits.append((m.start(1), m.end(1), FIELD_RULE, "raw"))
        elif m.group(2) is not None:
            node = m.group(2)
            left = len(node) - len(node.lstrip())
            right = len(node.rstrip())
            if right > left:
                hits.append((m.start(2) + left, m.start(2) + right, FIELD_RULE, "xml"))
