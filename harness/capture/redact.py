"""Redaction of secrets and personal data, on by default (DESIGN section 9).

Two modes: ``pseudonym`` (the default) replaces each secret by its pseudonym
(:mod:`harness.capture.pseudonym`: the same value gets the same stand-in everywhere, in the form
a server validates, so the traffic still replays); ``mask`` (``--redact-mode mask``) by the
constant masks of earlier versions (``REDACTED``, ``redacted@example.invalid``, ``1000...0``).
Both modes look in the same places and count the same rules; the capture's redaction report
says the mode and the count per rule, never a value.

========================  ========================================================================
rule                      what is replaced, where
========================  ========================================================================
``authorization``         ``Authorization`` / ``Proxy-Authorization`` credentials
``cookie``, ``set-cookie`` cookie values (names kept)
``api-key``               API-key headers (built-in list, ``redaction.headers``, and any header
                          whose name names a secret: ``X-Custom-Auth``, ``X-Session-Token``)
``header-entropy``        the value of any other non-standard header that looks like a random
                          token (:func:`~harness.capture.secretnames.looks_random`)
``secret-field``          values under secret names (:mod:`harness.capture.secretnames`) in
                          JSON, form, query, multipart and XML (:mod:`harness.capture.bodyfields`)
``path-token``            path segments after a segment such as ``reset``, ``verify``,
                          ``tokens``, ``api-keys`` that look like ids or tokens, and random
                          tokens of 24+ characters anywhere in a path
``path-credential``       a path segment, or a ``;``-piece or ``name=value`` value in one, equal
                          to a credential the exchange or one of the 16,384 before it sent
                          (the rules above, or a secret field in its query string), whatever
                          it looks like (:mod:`harness.capture.sentcredentials`): the
                          credential's pseudonym (or the mask)
``userinfo``              ``user:password@`` in the host column, ``Host`` and URLs
``jwt``, ``email``,       by their value, anywhere: headers (names too), path, query, bodies
``card``, ``aws-key``,    (:mod:`harness.capture.secretvalues`)
``private-key``, <name>
``undecoded-body``        not a replacement: a compressed body that could not be decoded
                          (:mod:`harness.capture.contentcoding`), kept as it was
========================  ========================================================================

Compressed bodies are decoded, redacted and encoded again; ``Content-Length`` follows a body
that changed length.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Literal, NamedTuple

from harness.capture import credentials
from harness.capture.bodyfields import FIELD_RULE, FieldFinder
from harness.capture.bodyhash import ResponseHasher
from harness.capture.cards import luhn_valid
from harness.capture.config import RedactionConfig
from harness.capture.contentcoding import (
    UndecodableBody,
    codings_of,
    dechunk,
    decode_body,
    encode_body,
    rechunk,
)
from harness.capture.credentials import MASK, mask_named_header
from harness.capture.escapes import decode, encode_like
from harness.capture.pseudonym import Pseudonymiser, PseudonymKey
from harness.capture.record import Exchange, header_value
from harness.capture.secretnames import (
    CREDENTIAL_HEADERS,
    URL_HEADERS,
    SecretNames,
    benign_header,
    looks_random,
)
from harness.capture.secretvalues import Hit, ValuePatterns, select
from harness.capture.sentcredentials import (
    SentCredentials,
    credential_values,
    replace_credential,
)
from harness.capture.urlsecrets import PATH_CREDENTIAL, Unit, UrlRules, path_units

__all__ = ["EMAIL_MASK", "MASK", "MODES", "Redactor", "fix_content_length", "luhn_valid"]

EMAIL_MASK = "redacted@example.invalid"
Mode = Literal["pseudonym", "mask"]
MODES: tuple[Mode, ...] = ("pseudonym", "mask")
#: Rules that find a secret by its name (a pattern rule on the same span counts instead).
FIELD_RULES = frozenset({FIELD_RULE, "path-token", "userinfo"})
UNDECODED = "undecoded-body"

_CONTENT_LENGTH = re.compile(r"(?im)^(content-length[ \t]*:[ \t]*)\d+")
_JSON_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_FIXED = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_LINE_CACHE_LIMIT = 20_000
_LINE_CACHE_MAX_CHARS = 1024
#: Rules of a header line that sends a credential (:mod:`harness.capture.sentcredentials`).
_SENDING_RULES = frozenset({"authorization", "cookie", "set-cookie", "api-key"})


class PathEntry(NamedTuple):
    """What the path rules make of one path, alone (:meth:`Redactor.path_entry`)."""

    #: the redacted path, ``None`` when nothing changed
    new: str | None
    #: the rules that replaced something
    rules: tuple[str, ...]
    #: the credential values its query string sends (each one
    #: :func:`~harness.capture.sentcredentials.remembered`)
    sent: tuple[str, ...]
    #: the parts of it that the path rules kept and a credential may fill
    #: (:func:`~harness.capture.urlsecrets.path_units`)
    units: tuple[Unit, ...]


class Redactor:
    """Removes secrets from :class:`Exchange` objects in place and counts what it replaced.

    ``key`` is the import's key (a random one when ``None``): it draws the pseudonyms (not in
    ``mask`` mode) and keys :attr:`response_hash` (in both modes).
    """

    def __init__(
        self,
        config: RedactionConfig | None = None,
        *,
        mode: Mode = "pseudonym",
        key: PseudonymKey | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown redaction mode {mode!r}")
        config = config or RedactionConfig()
        self.mode: Mode = mode
        #: the pseudonymiser of this import (``None`` in mask mode)
        key = key or PseudonymKey.generate()
        self.pseudonymiser = Pseudonymiser(key) if mode == "pseudonym" else None
        #: keys the captured response's body hash (``orig_body_sha256``): never a plain SHA-256
        #: of a secret-bearing body in a redacted capture (:mod:`harness.capture.bodyhash`)
        self.response_hash = ResponseHasher(key)
        self.counts: Counter[str] = Counter()
        extra_names = [*config.fields, *config.headers]
        self._names = SecretNames(extra_names)
        self._named = CREDENTIAL_HEADERS | {h.lower() for h in config.headers}
        self._patterns = ValuePatterns([(p.name, p.pattern) for p in config.patterns])
        self._fields = FieldFinder(self._names, extra_names)
        self._url = UrlRules(self._names, self._fields, self._patterns, self._apply)
        self._lines: dict[tuple[str, str, bool], tuple[str, str, tuple[str, ...]]] = {}
        self._paths: dict[str, PathEntry] = {}
        self._sent_lines: dict[tuple[str, str], tuple[str, ...]] = {}
        self._credential_paths: dict[tuple[str, tuple[Unit, ...]], tuple[str, tuple[str, ...]]] = {}
        #: the credential values this import has sent lately (rule ``path-credential``)
        self.sent = SentCredentials()

    @property
    def has_extra_patterns(self) -> bool:
        """Whether configured patterns run too (they may match anything)."""
        return bool(self._patterns.extra)

    def is_named_header(self, name: str) -> bool:
        """Whether header ``name`` is a credential whose whole value is always replaced."""
        key = name.rstrip(" \t")
        low = key.lower()
        return low in _FIXED or low in self._named or self._names(key)

    # -- what a secret becomes --------------------------------------------------------------

    def secret(self, raw: str) -> str:
        """The replacement of one raw secret: its pseudonym (a leading auth scheme kept), or
        the mask."""
        if self.pseudonymiser is None:
            return MASK
        return credentials.credentials(raw, self.pseudonymiser.pseudonym)

    def _replace(self, rule: str, raw: str) -> str:
        if self.pseudonymiser is not None:
            if rule == PATH_CREDENTIAL:  # the very value a credential rule pseudonymised
                return self.pseudonymiser.pseudonym(raw)
            return self.secret(raw)
        if rule == "email":
            return EMAIL_MASK
        if rule == "card":
            masked = "".join("0" if ch.isdigit() else ch for ch in raw)
            return "1" + masked[1:]  # a leading 1 keeps a bare JSON number valid
        return MASK

    # -- an exchange -------------------------------------------------------------------------

    def redact(self, exchange: Exchange) -> None:
        """Redact headers, host, path and body of ``exchange``, and key its response hash.

        One call is one exchange of the capture for :attr:`sent`: a path segment equal to a
        credential its headers or query send, or that an exchange before it sent, gets the
        credential's pseudonym (rule ``path-credential``).
        """
        exchange.orig_body_sha256 = self.response_hash(exchange.orig_body_sha256)
        sent: list[str] = []
        if exchange.head:
            exchange.head = self.redact_head(exchange.head, sent)
        if "@" in exchange.host:
            exchange.host = self.redact_host(exchange.host)
        exchange.path = self.redact_path(exchange.path, sent)
        if exchange.body:
            body = self.redact_body(exchange.body, exchange.head)
            if len(body) != len(exchange.body):
                exchange.head = fix_content_length(exchange.head, len(body))
            exchange.body = body

    def redact_host(self, host: str) -> str:
        """A host (column or ``Host`` value) without the user and password of its user info."""
        if "@" not in host:
            return host
        if host.rpartition("@")[0]:
            self.counts["userinfo"] += 1
        return credentials.userinfo(host, self.secret)

    def redact_path(self, path: str, sent: Iterable[str] = ()) -> str:
        """``path`` (with its query) redacted as the path of the next exchange, whose headers
        send the credential values ``sent``; ``path`` itself when nothing matched."""
        new, rules = self.exchange_path(path, sent)
        self.counts.update(rules)
        return new

    def exchange_path(self, path: str, sent: Iterable[str] = ()) -> tuple[str, tuple[str, ...]]:
        """What :meth:`redact_path` makes of ``path``, and its rules, without counting them;
        the exchange is noted in :attr:`sent` all the same."""
        entry = self.path_entry(path)
        memory = self.sent
        n = memory.open(sent, entry.sent)
        new = path if entry.new is None else entry.new
        rules = entry.rules
        if entry.units and memory.last:
            known = memory.knows
            found = tuple(unit for unit in entry.units if known(unit[3], n))
            if found:
                new, more = self.credential_path(new, found)
                rules += more
        memory.close()
        return new, rules

    def path_result(self, path: str) -> tuple[str, tuple[str, ...]]:
        """What the path rules make of ``path`` alone, and their rules, without counting them:
        :meth:`redact_path` without rule ``path-credential`` (no exchange is noted)."""
        entry = self.path_entry(path)
        return (path if entry.new is None else entry.new), entry.rules

    def path_entry(self, path: str) -> PathEntry:
        """What the path rules make of ``path`` alone, with what ``path-credential`` needs."""
        cached = self._paths.get(path)
        if cached is None:
            rules: list[str] = []
            sent: list[str] = []
            new = self._url.path(path, rules, sent)
            # None: unchanged (an equal path from the cache is another object than ``path``)
            cached = PathEntry(
                None if new is path else new, tuple(rules), tuple(sent), path_units(path, new)
            )
            if len(path) <= _LINE_CACHE_MAX_CHARS:
                if len(self._paths) >= _LINE_CACHE_LIMIT:
                    self._paths.clear()
                self._paths[path] = cached
        return cached

    def credential_path(self, path: str, units: tuple[Unit, ...]) -> tuple[str, tuple[str, ...]]:
        """``path`` (as the path rules made it) with its parts ``units`` replaced as sent
        credentials, and the rules (``path-credential`` once per part)."""
        key = (path, units)
        cached = self._credential_paths.get(key)
        if cached is None:
            rules: list[str] = []
            new = self._url.replace_units(path, units, rules)
            cached = (new, tuple(rules))
            if len(path) <= _LINE_CACHE_MAX_CHARS:
                if len(self._credential_paths) >= _LINE_CACHE_LIMIT:
                    self._credential_paths.clear()
                self._credential_paths[key] = cached
        return cached

    def redact_head(self, head: str, sent: list[str] | None = None) -> str:
        """The header lines ``head`` (see :class:`Exchange`), each through :meth:`redact_line`;
        ``sent``, if given, gets the credential values they send (:meth:`sent_in_line`)."""
        lines = head.split("\n")
        changed = False
        for i, line in enumerate(lines):
            name, colon, value = line.partition(":")
            if not colon:
                new_name, _ = self.redact_line(line, "", colon=False)
                if new_name != line:
                    lines[i] = new_name
                    changed = True
                continue
            value = value.strip(" \t\r")
            new_name, new_value, rules = self.line(name, value)
            if rules:
                self.counts.update(rules)
                if sent is not None:
                    sent += self.sent_in_line(value, rules)
            if new_name != name or new_value != value:
                lines[i] = f"{new_name}: {new_value}"
                changed = True
        return "\n".join(lines) if changed else head

    def redact_line(self, name: str, value: str, colon: bool = True) -> tuple[str, str]:
        """(name, value) of one header line with every rule applied, and counted.

        ``value`` is trimmed of blanks and CR; a line without a colon is ``(line, "")`` with
        ``colon`` false (only the value rules run on it). The per-record and the batch paths
        both redact headers through this one function (see :meth:`line`).
        """
        new_name, new_value, rules = self.line(name, value, colon)
        self.counts.update(rules)
        return new_name, new_value

    def line(self, name: str, value: str, colon: bool = True) -> tuple[str, str, tuple[str, ...]]:
        """What :meth:`redact_line` makes of a line, and its rules, without counting them."""
        key = (name, value, colon)
        cached = self._lines.get(key)
        if cached is None:
            rules: list[str] = []
            if colon:
                new_name, new_value = self._line(name, value, rules)
            else:
                new_name, new_value = self._apply(name, self._patterns.find(name), rules), value
            cached = (new_name, new_value, tuple(rules))
            if len(name) + len(value) <= _LINE_CACHE_MAX_CHARS:
                if len(self._lines) >= _LINE_CACHE_LIMIT:
                    self._lines.clear()
                self._lines[key] = cached
        return cached

    def sent_in_line(self, value: str, rules: tuple[str, ...]) -> tuple[str, ...]:
        """The credential values a header line with value ``value`` sends, given the ``rules``
        that :meth:`line` found in it (:mod:`harness.capture.sentcredentials`)."""
        rule = rules[0]
        if rule not in _SENDING_RULES:
            rule = rules[-1]
            if rule != "header-entropy":
                return ()
        cached = self._sent_lines.get((rule, value))
        if cached is None:  # noted by _send, unless forgotten since (or in mask mode)
            cached = self._keep_sent(rule, value, credential_values(rule, value))
        return cached

    def _keep_sent(self, rule: str, value: str, sent: list[str]) -> tuple[str, ...]:
        found = tuple(sent)
        if len(value) <= _LINE_CACHE_MAX_CHARS:
            if len(self._sent_lines) >= _LINE_CACHE_LIMIT:
                self._sent_lines.clear()
            self._sent_lines[rule, value] = found
        return found

    def _line(self, name: str, value: str, rules: list[str]) -> tuple[str, str]:
        trimmed = name.rstrip(" \t")
        low = trimmed.lower()
        if low in _FIXED or low in self._named or self._names(trimmed):
            if self.pseudonymiser is None:
                rule, new = mask_named_header(trimmed, value)
            else:
                rule, new = self._credential(low, value)
            rules.append(rule)
            return trimmed, new
        if low == "host":
            if not value.rpartition("@")[0]:
                return name, value
            rules.append("userinfo")
            return name, credentials.userinfo(value, self.secret)
        new_name = self._apply(name, self._patterns.find(name), rules)
        if low in URL_HEADERS:
            return new_name, self._url.url(value, rules)
        new = self._apply(value, self._patterns.find(value), rules)
        if new is value and not benign_header(low) and looks_random(value):
            new = MASK if self.pseudonymiser is None else self._send("header-entropy", value)
            rules.append("header-entropy")
        return new_name, new

    def _credential(self, low: str, value: str) -> tuple[str, str]:
        """(rule, pseudonymised value) of a credential header."""
        if low in ("authorization", "proxy-authorization"):
            rule = "authorization"
        elif low in ("cookie", "set-cookie"):
            rule = low
        else:
            rule = "api-key"
        return rule, self._send(rule, value)

    def _send(self, rule: str, value: str) -> str:
        """A credential header's value pseudonymised (:attr:`secret` of each part that rule
        ``rule`` replaces); the values it sends are noted for :meth:`sent_in_line`."""
        assert self.pseudonymiser is not None
        new, sent = replace_credential(rule, value, self.pseudonymiser.pseudonym)
        self._keep_sent(rule, value, sent)
        return new

    # -- bodies ------------------------------------------------------------------------------

    def redact_body(self, body: bytes, head: str = "") -> bytes:
        """``body`` redacted (``body`` itself when nothing matched).

        ``head`` (the request's header lines) says the body's type, content coding (decoded,
        redacted, encoded again) and transfer coding (chunked bodies are re-chunked).
        """
        chunked = False
        data = body
        if head and "chunked" in (header_value(head, "transfer-encoding") or "").lower():
            plain = dechunk(body)
            if plain is not None:
                data, chunked = plain, True
        codings = codings_of(header_value(head, "content-encoding")) if head else []
        applied: list[str] = []
        if codings:
            try:
                data, applied = decode_body(data, codings)
            except UndecodableBody:
                self.counts[UNDECODED] += 1
        try:
            text, charset = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            # latin-1 maps every byte to one character and back: the body survives unchanged
            text, charset = data.decode("latin-1"), "latin-1"
        content_type = (header_value(head, "content-type") or "") if head else ""
        rules: list[str] = []
        new = self._apply(text, self._body_hits(text, content_type), rules)
        self.counts.update(rules)
        if new is text:
            return body
        out = new.encode(charset, "surrogateescape")
        if applied:
            out = encode_body(out, applied)
        return rechunk(out) if chunked else out

    def _body_hits(self, text: str, content_type: str) -> list[Hit]:
        fields = self._fields
        kind = content_type.lower()
        hits: list[Hit] = []
        form = "x-www-form-urlencoded" in kind
        if fields.may_hold(text):
            first = text.lstrip()[:1]
            if "multipart/" in kind:
                boundary = _boundary(content_type, text)
                if boundary:
                    hits += fields.multipart(text, boundary)
            elif "json" in kind or (first and first in "{["):
                hits += fields.json(text)
            elif "xml" in kind or first == "<":
                hits += fields.xml(text)
            else:
                hits += fields.form(text, strict=form)
        hits += self._patterns.find(text, url=form)
        return hits

    # -- spans -------------------------------------------------------------------------------

    def _apply(self, text: str, hits: list[Hit], rules: list[str]) -> str:
        """``text`` with the ``hits`` replaced (``text`` itself when nothing changed)."""
        if not hits:
            return text
        out: list[str] = []
        pos = 0
        for start, end, rule, codec in select(hits, FIELD_RULES):
            old = text[start:end]
            value, tokens = decode(codec, old)
            replaced = self._replace(rule, value)
            if codec == "number":
                new = replaced if _JSON_NUMBER.fullmatch(replaced) else json.dumps(replaced)
            else:
                new = encode_like(codec, value, tokens, replaced)
            rules.append(rule)  # counted even when a short value is its own pseudonym
            if new == old:
                continue
            out += (text[pos:start], new)
            pos = end
        if not out:
            return text
        out.append(text[pos:])
        return "".join(out)


def _boundary(content_type: str, text: str) -> str | None:
    m = re.search(r'(?i)boundary="?([^";,]+)"?', content_type)
    if m:
        return m.group(1)
    first = text[: text.find("\n")] if "\n" in text else ""
    return first[2:].rstrip("\r") if first.startswith("--") and len(first) > 4 else None


def fix_content_length(head: str, length: int) -> str:
    """``head`` with its ``Content-Length`` set to ``length`` (for a body that changed)."""
    return _CONTENT_LENGTH.sub(f"\\g<1>{length}", head)
