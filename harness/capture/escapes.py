"""A value in its place: decoded from the escapes it is written with, and its stand-in written
back the same way.

A secret sits in a request written in some syntax: percent-encoded in a URL (``url``), also
with ``+`` for a blank in a form body or query string (``form``), with JSON string escapes
(``json``), with XML entities (``xml``), or as is (``raw``). Redaction decodes it to the value
itself (what :meth:`~harness.capture.pseudonym.Pseudonymiser.pseudonym` takes), and writes the
replacement back **keeping the original escaping** wherever a character did not change: a
pseudonym changes letters and digits and keeps the rest, so ``ann%2Blee%40acme.io`` becomes
``qex%2Bhwm%40mzkj.zq.example.com``, not a differently encoded address. A changed character that
the syntax cannot hold literally is escaped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Literal

#: ``number``: a JSON number (no escapes; a replacement that is no number becomes a string)
Codec = Literal["raw", "url", "form", "json", "xml", "number"]

_PERCENT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_JSON_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\."
)
_XML_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|amp|lt|gt|quot|apos);")
_XML_NAMED = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'"}
_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE_MARK: dict[str, str] = {"url": "%", "form": "%+", "json": "\\", "xml": "&"}


def decode(codec: Codec, text: str) -> tuple[str, list[str] | None]:
    """(the value written as ``text``, the original text of each of its characters).

    The second item is ``None`` when ``text`` holds no escape: each character is itself.
    """
    marks = _ESCAPE_MARK.get(codec)
    if marks is None or not any(m in text for m in marks):
        return text, None
    if codec in ("url", "form"):
        return _decode_url(text, plus=codec == "form")
    if codec == "json":
        return _decode_pieces(text, _JSON_ESCAPE, _json_char)
    return _decode_pieces(text, _XML_ENTITY, _xml_char)


def encode_like(codec: Codec, old: str, tokens: list[str] | None, new: str) -> str:
    """``new`` written in ``codec``, reusing the original text of each unchanged character.

    ``old`` and ``tokens`` are what :func:`decode` returned for the original text.
    """
    out: list[str] = []
    n = len(old)
    for i, ch in enumerate(new):
        if i < n and ch == old[i]:
            out.append(tokens[i] if tokens is not None else ch)
        else:
            out.append(escape_char(codec, ch))
    return "".join(out)


def escape_char(codec: Codec, ch: str) -> str:
    """One character as ``codec`` writes it when it cannot keep an original's escaping."""
    if codec in ("url", "form"):
        if ch in _URL_SAFE:
            return ch
        if ch == " " and codec == "form":
            return "+"
        return "".join(f"%{b:02X}" for b in ch.encode("utf-8"))
    if codec == "json":
        return json.dumps(ch)[1:-1] if ch in '"\\' or ch < " " else ch
    if codec == "xml":
        return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}.get(ch, ch)
    return ch


def _decode_url(text: str, plus: bool) -> tuple[str, list[str]]:
    chars: list[str] = []
    tokens: list[str] = []
    pos = 0
    for match in _PERCENT_RUN.finditer(text):
        _literal(text[pos : match.start()], plus, chars, tokens)
        run = match.group(0)
        data = bytes.fromhex(run.replace("%", ""))
        i = 0
        while i < len(data):
            size = _utf8_size(data[i])
            piece = data[i : i + size]
            try:
                char = piece.decode("utf-8")
            except UnicodeDecodeError:
                size, char = 1, chr(data[i])  # not UTF-8: the byte as latin-1
            if len(char) != 1:
                size, char = 1, chr(data[i])
            chars.append(char)
            tokens.append(run[3 * i : 3 * (i + size)])
            i += size
        pos = match.end()
    _literal(text[pos:], plus, chars, tokens)
    return "".join(chars), tokens


def _literal(text: str, plus: bool, chars: list[str], tokens: list[str]) -> None:
    for ch in text:
        chars.append(" " if plus and ch == "+" else ch)
        tokens.append(ch)


def _utf8_size(lead: int) -> int:
    if lead < 0xC0:
        return 1
    if lead < 0xE0:
        return 2
    return 3 if lead < 0xF0 else 4


def _decode_pieces(
    text: str, escape: re.Pattern[str], convert: Callable[[str], str]
) -> tuple[str, list[str]]:
    chars: list[str] = []
    tokens: list[str] = []
    pos = 0
    for match in escape.finditer(text):
        for ch in text[pos : match.start()]:
            chars.append(ch)
            tokens.append(ch)
        piece = match.group(0)
        char = convert(piece)
        if len(char) == 1:
            chars.append(char)
            tokens.append(piece)
        else:  # not one character (a lone surrogate, an unknown escape): keep it as text
            chars.extend(piece)
            tokens.extend(piece)
        pos = match.end()
    for ch in text[pos:]:
        chars.append(ch)
        tokens.append(ch)
    return "".join(chars), tokens


def _json_char(piece: str) -> str:
    try:
        value = json.loads(f'"{piece}"')
    except ValueError:
        return piece
    if not isinstance(value, str) or "\ud800" <= value <= "\udfff":
        return piece  # a lone surrogate is no character
    return value


def _xml_char(piece: str) -> str:
    named = _XML_NAMED.get(piece)
    if named is not None:
        return named
    try:
        code = int(piece[3:-1], 16) if piece[2] in "xX" else int(piece[2:-1])
        char = chr(code)
    except (ValueError, OverflowError):
        return piece
    return piece if "\ud800" <= char <= "\udfff" else char
