"""Redaction of secrets and personal data, on by default (DESIGN section 9).

Rules (their names are the keys of the redaction report, which counts and never shows values):

==================  ==========================================================================
``authorization``   ``Authorization`` / ``Proxy-Authorization``: the credentials after the scheme
``cookie``          ``Cookie``: every cookie value (names kept)
``set-cookie``      ``Set-Cookie``: the cookie value
``api-key``         API-key-like headers (``X-API-Key``, ``X-Auth-Token``, ...) and extra names
``jwt``             JSON Web Tokens anywhere (headers, query string, body)
``email``           e-mail addresses (also URL-encoded ``%40``) -> ``redacted@example.invalid``
``card``            13-19 digit runs passing the Luhn check -> ``1000...0``, same length
``secret-field``    JSON keys and form / query fields such as ``password``, ``token``, ``cvv``
``<name>``          each configured extra pattern
==================  ==========================================================================

Replacements keep the shape that a replayed request needs: JSON stays JSON, card numbers stay
digits, e-mails stay e-mails; ``Content-Length`` follows a body that changed length.
Cheap substring pre-checks run first so that a record without anything to redact costs little.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from harness.capture.config import RedactionConfig
from harness.capture.record import Exchange

MASK = "REDACTED"
EMAIL_MASK = "redacted@example.invalid"

_API_KEY_HEADERS = frozenset(
    {
        "x-api-key", "api-key", "apikey", "x-apikey", "x-auth-token", "x-access-token",
        "x-csrf-token", "x-xsrf-token", "x-amz-security-token", "x-goog-api-key",
        "private-token", "x-api-token", "x-session-token", "x-refresh-token", "x-client-secret",
        "ocp-apim-subscription-key", "x-functions-key",
    }
)  # fmt: skip
_SECRET_FIELDS = (
    "password", "passwd", "pwd", "pass", "secret", "client_secret", "token", "access_token",
    "refresh_token", "id_token", "api_key", "apikey", "api-key", "auth", "authorization",
    "session", "sessionid", "cvv", "cvc", "cvv2", "pin", "ssn", "otp",
)  # fmt: skip

_CONTENT_LENGTH = re.compile(r"(?im)^(content-length[ \t]*:[ \t]*)\d+")
_COOKIE_VALUE = re.compile(r"=[^;]*")
# a card number has 13+ digits, maybe split by spaces or dashes: with the separators deleted and
# every digit mapped to "0", bytes.translate and a substring test find candidates at C speed
# (a regex scan over every header costs about ten times more)
_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789", b"0000000000")
_THIRTEEN_DIGITS = b"0" * 13


def _may_hold_card(text: str) -> bool:
    return _THIRTEEN_DIGITS in text.encode("latin-1", "replace").translate(_DIGITS_TO_ZERO, b" -")


_JWT = r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
_EMAIL = r"[A-Za-z0-9._%+-]*[A-Za-z0-9_+-](?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_CARD = r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])"


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class _Patterns:
    """The value rules, compiled once per import."""

    def __init__(self, fields: list[str], extra: list[tuple[str, str]]) -> None:
        names = "|".join(re.escape(f) for f in sorted(set(fields), key=len, reverse=True))
        self.jwt = re.compile(_JWT)
        self.email = re.compile(_EMAIL)
        self.card = re.compile(_CARD)
        self.json_field = re.compile(
            rf'("(?:{names})"\s*:\s*)("(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*)', re.I
        )
        self.form_field = re.compile(rf"((?:^|[?&;])(?:{names})=)([^&#;\s]*)", re.I)
        self.extra = [(name, re.compile(p)) for name, p in extra]
        self.fields = re.compile(rf"(?:{names})", re.I)


class Redactor:
    """Removes secrets from :class:`Exchange` objects in place and counts what it removed."""

    def __init__(self, config: RedactionConfig | None = None) -> None:
        config = config or RedactionConfig()
        self.counts: Counter[str] = Counter()
        named = sorted(
            {"authorization", "proxy-authorization", "cookie", "set-cookie"}
            | _API_KEY_HEADERS
            | {h.lower() for h in config.headers},
            key=len,
            reverse=True,
        )
        # matched against lower-cased text: case-sensitive patterns are faster
        self._names = frozenset(named)
        self._named = re.compile(r"\n(" + "|".join(map(re.escape, named)) + r")[ \t]*:[ \t]*")
        fields = [*_SECRET_FIELDS, *config.fields]
        extra = [(p.name, p.pattern) for p in config.patterns]
        self._p = _Patterns(fields, extra)

    def redact(self, exchange: Exchange) -> None:
        """Redact headers, query string and body of ``exchange``."""
        if exchange.head:
            exchange.head = self.redact_head(exchange.head)
        exchange.path = self.redact_path(exchange.path)
        if exchange.body:
            body = self.redact_body(exchange.body)
            if len(body) != len(exchange.body):
                exchange.head = fix_content_length(exchange.head, len(body))
            exchange.body = body

    def redact_path(self, path: str) -> str:
        """``path`` with its query string redacted (``path`` itself when nothing matched)."""
        if "?" not in path:
            return path
        base, _, query = path.partition("?")
        clean = self._text(query, fields=True)
        return path if clean is query else base + "?" + clean

    def redact_body(self, body: bytes) -> bytes:
        """``body`` redacted (``body`` itself when nothing matched)."""
        # latin-1 maps every byte to one character and back: the body survives unchanged
        text = body.decode("latin-1")
        clean = self._text(text, fields=True)
        return body if clean is text else clean.encode("latin-1")

    def redact_head(self, head: str) -> str:
        """The header lines ``head`` (see :class:`Exchange`) with every rule applied."""
        return self._head(head)

    @property
    def header_names(self) -> frozenset[str]:
        """Lower-case names of the headers whose value is masked (``mask_header``)."""
        return self._names

    @property
    def has_extra_patterns(self) -> bool:
        """Whether configured patterns run too (they may match anything, even masks)."""
        return bool(self._p.extra)

    def _head(self, head: str) -> str:
        text = "\n" + head  # every header line now starts with a newline: a cheap regex anchor
        # find named headers in a lower-cased copy (same length: latin-1 text), splice the original
        pieces: list[str] = []
        pos = 0
        for match in self._named.finditer(text.lower()):
            end = text.find("\n", match.end())
            end = len(text) if end < 0 else end
            start = match.start()
            name = text[start + 1 : start + 1 + len(match.group(1))]
            if text[end - 1 : end] == "\r":
                end -= 1  # keep the wire's CRLF line end
            value = text[match.end() : end].rstrip(" \t")
            pieces += (text[pos:start], "\n", name, ": ", self.mask_header(name, value))
            pos = end
        if pieces:
            pieces.append(text[pos:])
            text = "".join(pieces)
        if "eyJ" in text:
            text = self._sub(self._p.jwt, _mask, text, "jwt")
        if "@" in text or "%40" in text:
            text = self._sub(self._p.email, _email_mask, text, "email")
        if _may_hold_card(text):
            text = self._sub(self._p.card, _card_mask, text, "card")
        for name, pattern in self._p.extra:
            text = self._sub(pattern, _mask, text, name)
        return text[1:]

    def redact_values(self, text: str) -> str:
        """``text`` (one header name or value) with the JWT, e-mail and card rules applied.

        What :meth:`redact_head` does after masking named headers, for one part of one line:
        no match of these rules spans a colon or a line break, or starts or ends with a blank,
        so the parts of a head can be redacted one by one (the batch path does).
        """
        return self._text(text, fields=False)

    def mask_header(self, name: str, value: str) -> str:
        """The masked ``value`` of the named header ``name`` (counted under its rule)."""
        rule, new = mask_named_header(name, value)
        self.counts[rule] += 1
        return new

    def _text(self, text: str, fields: bool) -> str:
        """Apply the value rules to ``text``; returns ``text`` itself when nothing matched."""
        p = self._p
        if "eyJ" in text:
            text = self._sub(p.jwt, _mask, text, "jwt")
        if "@" in text or "%40" in text:
            text = self._sub(p.email, _email_mask, text, "email")
        if _may_hold_card(text):
            text = self._sub(p.card, _card_mask, text, "card")
        if fields and p.fields.search(text):
            text = self._sub(p.json_field, _json_mask, text, "secret-field")
            text = self._sub(p.form_field, _form_mask, text, "secret-field")
        for name, pattern in p.extra:
            text = self._sub(pattern, _mask, text, name)
        return text

    def _sub(
        self,
        pattern: re.Pattern[str],
        mask: Callable[[re.Match[str]], str | None],
        text: str,
        rule: str,
    ) -> str:
        hits = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal hits
            new = mask(match)
            if new is None:
                return match.group(0)
            hits += 1
            return new

        result = pattern.sub(replace, text)
        if not hits:
            return text
        self.counts[rule] += hits
        return result


def mask_named_header(name: str, value: str) -> tuple[str, str]:
    """(rule, masked value) of the value of a named header (see :class:`Redactor`)."""
    lname = name.lower()
    if lname in ("authorization", "proxy-authorization"):
        rule = "authorization"
        scheme, space, _ = value.partition(" ")
        new = f"{scheme} {MASK}" if space else MASK
    elif lname == "cookie":
        rule = "cookie"
        if value.count("=") > value.count(";"):  # every cookie is name=value
            new = _COOKIE_VALUE.sub("=" + MASK, value)
        else:
            new = "; ".join(
                f"{k.strip()}={MASK}" if sep else MASK
                for k, sep, _ in (p.partition("=") for p in value.split(";"))
            )
    elif lname == "set-cookie":
        rule = "set-cookie"
        first, semi, attrs = value.partition(";")
        key, sep, _ = first.partition("=")
        new = f"{key}={MASK}{semi}{attrs}" if sep else MASK
    else:
        rule = "api-key"
        new = MASK
    return rule, new


def fix_content_length(head: str, length: int) -> str:
    """``head`` with its ``Content-Length`` set to ``length`` (for a body that changed)."""
    return _CONTENT_LENGTH.sub(f"\\g<1>{length}", head)


def _mask(match: re.Match[str]) -> str:
    return MASK


def _email_mask(match: re.Match[str]) -> str:
    return "redacted%40example.invalid" if "%40" in match.group(0) else EMAIL_MASK


def _card_mask(match: re.Match[str]) -> str | None:
    raw = match.group(0)
    digits = raw.replace(" ", "").replace("-", "")
    if not luhn_valid(digits):
        return None
    # a leading 1 keeps a bare JSON number valid (JSON forbids leading zeros)
    masked = "".join("0" if ch.isdigit() else ch for ch in raw)
    return "1" + masked[1:]


def _json_mask(match: re.Match[str]) -> str | None:
    if match.group(2) == f'"{MASK}"':
        return None  # an earlier rule already took it
    return f'{match.group(1)}"{MASK}"'


def _form_mask(match: re.Match[str]) -> str | None:
    value = match.group(2)
    return f"{match.group(1)}{MASK}" if value and value != MASK else None
