"""Secrets in URLs: path segments, query strings, user info (the request path and URL headers).

- **path segments**: each segment (percent-decoded) goes through the pattern rules (a JWT or an
  e-mail address in a path); the one or two segments after a segment that announces a secret
  (:func:`~harness.capture.secretnames.announces_secret`: ``/password-reset/<uid>/<token>``,
  ``/verify/<token>``, ``/api-keys/<key>``) are replaced whole when they look like ids or
  tokens (not a plain lower-case word, not a number of up to 10 digits, which is a database id);
  a segment of 24+ characters that looks random (upper and lower case and digits) is replaced
  wherever it is (rule ``path-token``); ``;name=value`` parameters (``;jsessionid=...``) are
  fields;
- **credentials sent elsewhere**: a segment the rules above kept, or a ``;``-piece or the value
  of a ``name=value`` piece of one (:func:`path_units`), that equals a credential value the
  exchange sends in a header or its query string, or that an exchange before it sent
  (:mod:`harness.capture.sentcredentials`), gets the credential's pseudonym however it reads
  (``/tokens/abcdefgh`` after ``Authorization: Bearer abcdefgh``; rule ``path-credential``,
  applied by the redactor on top of the rules above, :meth:`UrlRules.replace_units`);
- **query string and fragment**: secret field names, then the pattern rules;
- **user info** of an absolute URL (``https://user:pw@host/...``): a pattern rule.

A replaced segment is written with the escaping it had; ``/`` never appears in a replacement, so
the segments stay where they were and the route template of the new path puts the placeholder
where a secret was (:func:`secret_segments_as`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from harness.capture.bodyfields import FIELD_RULE, FieldFinder
from harness.capture.escapes import decode
from harness.capture.secretnames import SecretNames, announces_secret, looks_random
from harness.capture.secretvalues import Hit, ValuePatterns, may_hold_card
from harness.capture.sentcredentials import MIN_LENGTH, credential_values, remembered

#: Replaces hits in a text and notes their rules: ``Redactor._apply``.
Apply = Callable[[str, list[Hit], list[str]], str]

_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_PLAIN_WORD = re.compile(r"[a-z]+(?:[-_.][a-z]+)*")
_DATABASE_ID = re.compile(r"[0-9]{1,10}")
_PATH_HINT = re.compile(
    r"eyJ|@|%40|AKIA|ASIA|-----BEGIN|://|;|[^/]{24}|"
    r"(?i:reset|verif|confirm|activat|invit|magic|unsubscribe|token|key|secret|passw|otp|"
    r"session|signin|login|auth)"
)
#: A part of a path segment that may hold a credential: (segment number, start, end, value).
Unit = tuple[int, int, int, str]
#: The rule of a path part replaced because it equals a credential the capture sent.
PATH_CREDENTIAL = "path-credential"
#: Segments after a keyword that are replaced at most.
FOLLOWING = 2
RANDOM_SEGMENT_LENGTH = 24


class UrlRules:
    """The URL rules of one redactor (see the module docstring)."""

    def __init__(
        self, names: SecretNames, fields: FieldFinder, patterns: ValuePatterns, apply: Apply
    ) -> None:
        self._names = names
        self._fields = fields
        self._patterns = patterns
        self._apply = apply

    def path(self, path: str, rules: list[str], sent: list[str] | None = None) -> str:
        """A request path (query included) redacted; ``path`` itself when nothing changed.

        ``sent``, if given, gets the credential values its query string and fragment send
        (secret fields, :func:`~harness.capture.sentcredentials.credential_values`).
        """
        return self.url(path, rules, sent)

    def url(self, text: str, rules: list[str], sent: list[str] | None = None) -> str:
        """An origin-form path or an absolute URL, redacted (``text`` itself if unchanged)."""
        origin = ""
        rest = text
        m = _ORIGIN.match(text)
        if m:
            origin, rest = m.group(0), text[m.end() :]
            if "@" in origin:
                origin = self._apply(origin, self._patterns.find(origin), rules)
        base, question, query = rest.partition("?")
        if not question:
            base, hash_, fragment = rest.partition("#")
            query = ""
        else:
            query, hash_, fragment = query.partition("#")
        new_base = self._segments(base, rules)
        new_query = self._query(query, rules, sent) if query else query
        new_fragment = self._query(fragment, rules, sent) if fragment else fragment
        if new_base is base and new_query is query and new_fragment is fragment and not m:
            return text
        new = origin + new_base + question + new_query + hash_ + new_fragment
        return text if new == text else new

    def _query(self, query: str, rules: list[str], sent: list[str] | None = None) -> str:
        hits: list[Hit] = []
        if self._fields.may_hold(query):
            fields = self._fields.form(query)
            hits += fields
            if sent is not None:
                for start, end, _, codec in fields:
                    sent += credential_values(FIELD_RULE, decode(codec, query[start:end])[0])
        hits += self._patterns.find(query, url=True)
        return self._apply(query, hits, rules)

    def replace_units(self, path: str, units: Iterable[Unit], rules: list[str]) -> str:
        """``path`` with the parts ``units`` (of :func:`path_units`) replaced as credentials
        (rule :data:`PATH_CREDENTIAL`), each written with the escaping it had."""
        origin, base, tail = _split(path)
        segments = base.split("/")
        hits: dict[int, list[Hit]] = {}
        for i, start, end, _ in units:
            hits.setdefault(i, []).append((start, end, PATH_CREDENTIAL, "url"))
        for i, found in hits.items():
            segments[i] = self._apply(segments[i], found, rules)
        return origin + "/".join(segments) + tail

    def _segments(self, base: str, rules: list[str]) -> str:
        if not base or not (_PATH_HINT.search(base) or may_hold_card(base)):
            return base
        segments = base.split("/")
        follow = 0
        changed = False
        for i, segment in enumerate(segments):
            if not segment:
                follow = 0
                continue
            value = decode("url", segment)[0] if "%" in segment else segment
            whole: list[Hit] = [(0, len(segment), "path-token", "url")]
            if follow and _opaque(value):
                hits = whole
                follow -= 1
            else:
                follow = 0
                hits = self._patterns.find(segment, url=True)
                if ";" in segment:
                    at = segment.index(";") + 1
                    hits += self._fields.form(segment[at:], offset=at)
                if not hits and looks_random(value, RANDOM_SEGMENT_LENGTH, 3):
                    hits = whole
            if hits:
                new = self._apply(segment, hits, rules)
                if new is not segment:
                    segments[i] = new
                    changed = True
            if announces_secret(value):
                follow = FOLLOWING
        return "/".join(segments) if changed else base


def _split(text: str) -> tuple[str, str, str]:
    """(origin, path, the rest: query and fragment) of a URL, split as :meth:`UrlRules.url`
    splits it."""
    m = _ORIGIN.match(text)
    origin = m.group(0) if m else ""
    rest = text[len(origin) :]
    base, question, _ = rest.partition("?")
    if not question:
        base = rest.partition("#")[0]
    return origin, base, rest[len(base) :]


def path_units(old: str, new: str) -> tuple[Unit, ...]:
    """The parts of path ``old`` that the path rules kept (``new`` is what they made of it)
    and that may hold a credential sent elsewhere (:func:`credential_units`): what the
    ``path-credential`` rule compares with the credential values an exchange sends."""
    old_base = _split(old)[1]
    new_base = old_base if new is old else _split(new)[1]
    if len(old_base) < MIN_LENGTH:
        return ()
    old_segments = old_base.split("/")
    new_segments = old_segments if new_base is old_base else new_base.split("/")
    if len(old_segments) != len(new_segments):
        return ()
    units: list[Unit] = []
    for i, (segment, kept) in enumerate(zip(old_segments, new_segments, strict=True)):
        if len(segment) >= MIN_LENGTH and segment == kept:
            units += credential_units(i, segment)
    return tuple(units)


def credential_units(i: int, segment: str) -> list[Unit]:
    """The parts of path segment number ``i`` that a credential may fill: the whole segment
    (percent-decoded) and, in a segment with ``;`` or ``=``, each ``;``-separated piece (its
    value after ``=`` in a ``name=value`` piece: ``/shop;ref=<value>``, ``/x/ref=<value>``,
    ``/<value>;v=2``); of them those :func:`~harness.capture.sentcredentials.remembered`."""
    units: list[Unit] = []
    value = decode("url", segment)[0] if "%" in segment else segment
    if remembered(value):
        units.append((i, 0, len(segment), value))
    if ";" in segment or "=" in segment:
        start = 0
        for piece in segment.split(";"):
            end = start + len(piece)
            at = piece.find("=")
            first = start + at + 1 if at >= 0 else start
            if end - first >= MIN_LENGTH and (first, end) != (0, len(segment)):
                part = segment[first:end]
                value = decode("url", part)[0] if "%" in part else part
                if remembered(value):
                    units.append((i, first, end, value))
            start = end + 1
    return units


def _opaque(value: str) -> bool:
    """Whether a segment after a keyword is an id or token rather than a word or a row id."""
    return not (_PLAIN_WORD.fullmatch(value) or _DATABASE_ID.fullmatch(value))


def secret_segments_as(old: str, new: str, placeholder: str) -> str:
    """``new`` (the redacted form of path ``old``) with each path segment that redaction
    changed written as ``placeholder``: what the route template is computed from, so a route
    shows where a secret was, never the secret or its pseudonym."""
    old_base = old.partition("?")[0]
    new_base, question, query = new.partition("?")
    old_segments = old_base.split("/")
    new_segments = new_base.split("/")
    if len(old_segments) != len(new_segments):
        return new
    marked = [_marked(a, b, placeholder) for a, b in zip(old_segments, new_segments, strict=True)]
    return "/".join(marked) + question + query


def _marked(old: str, new: str, placeholder: str) -> str:
    if old == new:
        return new
    stem, semicolon, _ = old.partition(";")
    if semicolon and new.startswith(stem + ";"):
        return f"{stem};{placeholder}"  # only a parameter changed: /shop;jsessionid=...
    return placeholder
