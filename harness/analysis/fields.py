"""A replayed response as comparable fields: JSON paths, headers, text; and built-in normalisers.

A field is named the way a user writes it in an ignore rule:

- ``$.items[*].created_at``: a value of a JSON body (array indexes generalised to ``[*]``, so a
  rule or a learned noise field covers every element);
- ``header:etag``: a response header (names in lower case; repeated ones joined by ``, ``);
- ``body``: a body that is not JSON, as text (``<N bytes>`` when it is not text either).

Headers that only describe the transport (``connection``, ``content-length``, ``keep-alive``,
``transfer-encoding``) are not fields. A body cut short by the writer (``body_truncated``) is
compared as text: its JSON would not parse.

Normalisers (used when no A/A copy measured the noise) replace values that differ between any
two runs of the same build by a placeholder: ISO 8601 and HTTP dates (``<time>``), UUIDs
(``<uuid>``), JWTs (``<jwt>``), the redaction's placeholders and pseudonymised e-mail addresses
(``<pseudonym>``), and numbers under keys that name a time (``created_at``, ``ts``...).

>>> fields(200, [("Content-Type", "application/json")], b'{"a": [{"at": "2024-05-01T10:00:00Z"}]}')
{'header:content-type': 'application/json', '$.a[*].at': '"2024-05-01T10:00:00Z"'}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

#: Headers about the transport, never compared.
TRANSPORT_HEADERS = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})
BODY = "body"
HEADER = "header:"

_ISO_TIME = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?\b"
)
_HTTP_DATE = re.compile(
    r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov"
    r"|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT\b"
)
_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_PSEUDONYM = re.compile(
    r"\[REDACTED[^\]]*\]|[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)*example\.com\b", re.IGNORECASE
)
_TIME_KEY = re.compile(r"(?:^|_)(?:at|ts|time|timestamp|date|expires?|created|updated)$", re.I)
NORMALISERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("<jwt>", JWT),
    ("<time>", _ISO_TIME),
    ("<time>", _HTTP_DATE),
    ("<uuid>", _UUID),
    ("<pseudonym>", _PSEUDONYM),
)


def normalise(text: str) -> str:
    """``text`` with times, UUIDs, JWTs and pseudonyms replaced by placeholders."""
    for placeholder, pattern in NORMALISERS:
        text = pattern.sub(placeholder, text)
    return text


def fields(
    status: int,
    headers: Iterable[tuple[str, str]],
    body: bytes | None,
    *,
    truncated: bool = False,
    normalised: bool = False,
) -> dict[str, str]:
    """The comparable fields of one response (``status`` is compared by the caller)."""
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key in TRANSPORT_HEADERS:
            continue
        field = HEADER + key
        out[field] = f"{out[field]}, {value}" if field in out else value
    if normalised:
        out = {k: normalise(v) for k, v in out.items()}
    out.update(body_fields(body or b"", truncated=truncated, normalised=normalised))
    return out


def body_fields(
    body: bytes, *, truncated: bool = False, normalised: bool = False
) -> dict[str, str]:
    """JSON leaves by generalised path, or the whole body as ``body``."""
    if not body:
        return {}
    document: object = None
    parsed = False
    if not truncated and body.lstrip()[:1] in (b"{", b"["):
        try:
            document, parsed = json.loads(body), True
        except (ValueError, UnicodeDecodeError):
            parsed = False
    if not parsed:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return {BODY: f"<{len(body)} bytes>"}
        return {BODY: normalise(text) if normalised else text}
    leaves: dict[str, str] = {}
    _flatten(document, "$", "", leaves, normalised)
    return leaves


def _flatten(node: object, path: str, key: str, out: dict[str, str], normalised: bool) -> None:
    if isinstance(node, dict):
        if not node:
            out[path] = "{}"
        for name, value in node.items():
            _flatten(value, path + _key(str(name)), str(name), out, normalised)
        return
    if isinstance(node, list):
        if not node:
            out[path] = "[]"
        for position, value in enumerate(node):
            # Elements share a generalised path: their values are listed together, in order.
            item: dict[str, str] = {}
            _flatten(value, path + "[*]", key, item, normalised)
            for field, text in item.items():
                out[field] = f"{out[field]} | {text}" if position and field in out else text
        return
    text = json.dumps(node, ensure_ascii=False, sort_keys=True)
    if normalised:
        if isinstance(node, int | float) and not isinstance(node, bool) and _TIME_KEY.search(key):
            text = "<time>"
        elif isinstance(node, str):
            text = normalise(text)
    out[path] = text


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _key(name: str) -> str:
    return "." + name if _PLAIN.fullmatch(name) else "[" + json.dumps(name) + "]"


def field_name(rule: str) -> str:
    """An ignore rule as a field name: ``$.a[0].b`` -> ``$.a[*].b``, ``header:ETag`` ->
    ``header:etag``; raises ``ValueError`` naming what is wrong."""
    from harness.capture.linkspec import LocatorError, parse_json_path

    text = rule.strip()
    if text == BODY:
        return BODY
    if text.lower().startswith(HEADER):
        name = text[len(HEADER) :].strip()
        if not name or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            raise ValueError(f"ignore rule {rule!r}: header name {name!r} is not a token")
        return HEADER + name.lower()
    if not text.startswith("$"):
        raise ValueError(f"ignore rule {rule!r}: give a JSON path ($.a.b), header:NAME or body")
    try:
        path = parse_json_path(text.replace("[*]", "[0]"))
    except LocatorError as exc:
        raise ValueError(f"ignore rule {rule!r}: {exc}") from None
    return "$" + "".join("[*]" if isinstance(p, int) else _key(p) for p in path)
