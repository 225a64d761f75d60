"""Secrets recognised by their value wherever they stand: the pattern rules, as text spans.

==============  ==========================================================================
``jwt``         JSON Web Tokens (``eyJ...``.``...``.``...``)
``email``       e-mail addresses, also percent-encoded (``ann%40acme.io``)
``card``        payment card numbers (:mod:`harness.capture.cards`), also with ``+`` or
                ``%20`` between the groups in URLs and form bodies
``aws-key``     AWS access key ids (``AKIA...``, ``ASIA...``)
``private-key`` PEM private-key blocks (``-----BEGIN ... PRIVATE KEY-----``), also with
                escaped line breaks (JSON ``\\n``, URL ``%0A``)
``userinfo``    the user and password of a URL (``https://user:pw@host``)
``<name>``      each configured pattern (``redaction.patterns``)
==============  ==========================================================================

:meth:`ValuePatterns.find` returns :data:`Hit` spans; where several rules find overlapping
spans in one text, :func:`select` keeps one of them (the outer one). Cheap substring checks
run before each regular expression, so text without a candidate costs little.
"""

from __future__ import annotations

import bisect
import re

from harness.capture.cards import CARD_CANDIDATE, is_card
from harness.capture.escapes import Codec, decode

#: A span to replace: (start, end, rule, codec of the text in it). Field rules (a secret by its
#: name) hold the value in its place's codec; patterns match raw text.
Hit = tuple[int, int, str, Codec]

# Every pattern starts at a boundary (a lookbehind) and scans without giving back (possessive
# quantifiers) where it can: a match is tried once per run of characters, not once per
# character of it, so hostile text (a megabyte of "eyJeyJ...") costs linear time.
JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]*+")
EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*[A-Za-z0-9_+-](?:@|%40)"
    r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
AWS_KEY = re.compile(
    r"(?<![A-Za-z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16}"
    r"(?![A-Za-z0-9])"
)
_BLANK = r"(?: |%20|\+)"
PEM_BEGIN = re.compile(
    rf"-----BEGIN{_BLANK}(?:[A-Z0-9]++{_BLANK})*?PRIVATE{_BLANK}KEY(?:{_BLANK}BLOCK)?-----"
)
PEM_END = re.compile(rf"-----END{_BLANK}(?:[A-Z0-9]++{_BLANK})*?KEY(?:{_BLANK}BLOCK)?-----")
USERINFO = re.compile(
    r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*+://([^\s/?#@:\"'<>\\]++)"
    r"(?::([^\s/?#@\"'<>\\]*+))?@"
)
# a card in a URL or form body: the groups may be joined by "+" or "%20"
CARD_IN_URL = re.compile(
    r"(?<![0-9A-Za-z_.])(?<![0-9A-Za-z_][-.])[0-9](?:(?:[ +-]|%20)?[0-9]){12,18}"
    r"(?![0-9A-Za-z_])(?![-.][0-9A-Za-z])"
)
_AWS_PREFIXES = ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA", "ABIA", "ACCA")
# the card pre-check: 13 digits once blanks, dashes and pluses are gone
_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789", b"0000000000")
_THIRTEEN_DIGITS = b"0" * 13


def may_hold_card(text: str) -> bool:
    """Whether ``text`` has 13 digits in a row once blanks, dashes, pluses and ``%20`` go."""
    data = text.encode("latin-1", "replace")
    if b"%20" in data:
        data = data.replace(b"%20", b"")
    return _THIRTEEN_DIGITS in data.translate(_DIGITS_TO_ZERO, b" -+")


class ValuePatterns:
    """The pattern rules (see the module docstring), compiled once per import."""

    def __init__(self, extra: list[tuple[str, str]] | None = None) -> None:
        self.extra = [(name, re.compile(pattern)) for name, pattern in extra or []]

    def find(self, text: str, url: bool = False) -> list[Hit]:
        """Spans of ``text`` that the pattern rules find; ``url``: text is URL- or form-encoded."""
        hits: list[Hit] = []
        if "eyJ" in text:
            hits += [(m.start(), m.end(), "jwt", "raw") for m in JWT.finditer(text)]
        if "@" in text or "%40" in text:
            # the "@" of user info (https://user:pw@host) is no e-mail address's
            info = _userinfo(text) if "://" in text else []
            taken = {end for _, end, _, _ in info}
            for m in EMAIL.finditer(text):
                at = m.start() + max(m.group(0).find("@"), m.group(0).find("%40"))
                if at not in taken:
                    codec: Codec = "url" if "%" in m.group(0) else "raw"
                    hits.append((m.start(), m.end(), "email", codec))
            hits += info
        if may_hold_card(text):
            hits += _cards(text, url)
        if "A" in text and any(p in text for p in _AWS_PREFIXES):
            hits += [(m.start(), m.end(), "aws-key", "raw") for m in AWS_KEY.finditer(text)]
        if "-----BEGIN" in text:
            hits += _pem_blocks(text)
        for name, pattern in self.extra:
            hits += [(m.start(), m.end(), name, "raw") for m in pattern.finditer(text) if m.end()]
        return hits


def _pem_blocks(text: str) -> list[Hit]:
    """Private-key blocks: each BEGIN marker with the first END marker after it (found by
    bisection in the END markers' positions: linear in the text, however many markers)."""
    ends = [(m.start(), m.end()) for m in PEM_END.finditer(text)]
    starts = [s for s, _ in ends]
    hits: list[Hit] = []
    reached = 0
    for m in PEM_BEGIN.finditer(text):
        if m.start() < reached:
            continue  # inside the block found before
        i = bisect.bisect_left(starts, m.end())
        if i == len(starts):
            break
        end = ends[i][1]
        block = text[m.start() : end]
        escaped = "%20" in block or "%0" in block
        hits.append((m.start(), end, "private-key", "form" if escaped else "raw"))
        reached = end
    return hits


def _userinfo(text: str) -> list[Hit]:
    """User and password of URLs; each hit ends right before its URL's ``@``."""
    hits: list[Hit] = []
    for m in USERINFO.finditer(text):
        for group in (1, 2):
            if m.group(group):
                hits.append((m.start(group), m.end(group), "userinfo", "url"))
    return hits


def _cards(text: str, url: bool) -> list[Hit]:
    hits: list[Hit] = []
    if url:
        for m in CARD_IN_URL.finditer(text):
            value, _ = decode("form", m.group(0))
            if is_card(value):
                hits.append((m.start(), m.end(), "card", "form"))
    else:
        for m in CARD_CANDIDATE.finditer(text):
            if is_card(m.group(0)):
                hits.append((m.start(), m.end(), "card", "raw"))
    return hits


def select(hits: list[Hit], field_rules: frozenset[str] = frozenset()) -> list[Hit]:
    """Non-overlapping hits, in order: of overlapping spans the one that starts first and is
    longest stays; on the very same span a pattern rule wins over a field rule (``field_rules``)
    so that a JWT in a ``token`` field counts as a JWT."""
    if len(hits) < 2:
        return hits
    ordered = sorted(hits, key=lambda h: (h[0], -h[1], h[2] in field_rules))
    kept: list[Hit] = []
    end = -1
    for hit in ordered:
        if hit[0] >= end:  # an overlapping hit loses to the one kept before it
            kept.append(hit)
            end = hit[1]
    return kept
