"""Pseudonyms: each sensitive value becomes a stand-in of the same form, the same everywhere.

Pseudonymisation is the default redaction of an import (DESIGN section 9). A
:class:`Pseudonymiser` holds a secret :class:`PseudonymKey` (drawn per import, or read from an
environment variable so that two imports agree) and maps a raw value to its pseudonym:

- **deterministic and place-independent**: :meth:`Pseudonymiser.pseudonym` depends only on the
  raw value (and the key), so a token gets the same pseudonym in a header, a cookie, a query
  string, a path or a body, compressed or not; **one to one**: distinct values get distinct
  pseudonyms (an exact keyed permutation, :mod:`harness.capture.permutation`, for values up to
  about 28 letters or 38 digits; above that a keyed hash whose collisions are negligible);
- **format-preserving**, by the class of the value, so that the replayed request still passes
  the server's validation:

  ==========  ===========================================================================
  e-mail      ``local@domain`` -> local part of the same shape ``@`` the domain's pseudonym
              under ``example.com`` (``ann.lee@acme.io`` -> ``qex.hwm@mzkj.zq.example.com``;
              valid for ``email-validator`` 2.x without DNS, and never a real mailbox)
  card        Luhn-valid, same length, same separators, same issuer prefix (first 6 digits)
  JWT         three base64url segments; header kept; payload JSON with the same claim names
              and value types, values pseudonymised (time claims, issuer, audience and scopes
              kept); signature of the same length
  UUID        a UUID of the same version and variant, same case
  digits      digits of the same length (no leading zero where there was none)
  hex         hex digits of the same length and case
  AWS key     ``AKIA``/``ASIA``... prefix kept, 16 upper-case letters and digits
  PEM block   private-key markers kept, base64 lines of the same length
  text        letters stay letters (case kept), digits stay digits, everything else stays;
              comparing case-insensitively gives the same answer before and after
  ==========  ===========================================================================

The key is never written anywhere: not in the capture, not in a log, not on the terminal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
from collections.abc import Mapping

from harness.capture.cards import is_card, luhn_digit
from harness.capture.permutation import FEISTEL_LIMIT, KeyedPermutation
from harness.errors import UsageError

#: Distinct raw values whose pseudonym is remembered (the cache is emptied when full), and the
#: longest value remembered.
CACHE_LIMIT = 200_000
CACHED_LENGTH = 1024
# more letters and digits than this never fit the exact permutation (26**28 > 2**128)
_EXACT_SYMBOLS = 40
#: Shortest value an environment key may have.
MIN_KEY_CHARS = 16
EMAIL_DOMAIN = "example.com"
#: JWT claims whose values are kept: times, issuer, audience and authorisation scope say how
#: the token is checked, not who holds it (a staging key re-signs the token on replay).
KEPT_CLAIMS = frozenset(
    {"iss", "aud", "exp", "nbf", "iat", "auth_time", "scope", "scp", "roles", "typ", "amr", "acr"}
)

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]{4,}+\.[A-Za-z0-9_-]*+")
EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]*[A-Za-z0-9_+-]@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
AWS_KEY = re.compile(r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16}")
PEM = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----(.*?)-----END \1-----", re.S
)
_NUMBER = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]+))?")
_HEX = re.compile(r"[0-9a-f]{8,}|[0-9A-F]{8,}")
# inside a PEM body: line breaks, JSON or URL escapes of them, blanks (kept as they are)
_PEM_SEPARATORS = re.compile(r"(\\[nrt]|%0[aAdD]|\s+)")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class PseudonymKey:
    """The secret of one import. ``str`` and ``repr`` never show it.

    Example::

        key = PseudonymKey.from_env("CAPTURE_KEY")   # two imports with it agree
        key = PseudonymKey.generate()                # this import only
    """

    def __init__(self, secret: bytes, source: str) -> None:
        self._secret = secret
        #: where the key came from, for the capture's redaction report (never the key)
        self.source = source

    def __repr__(self) -> str:
        return f"PseudonymKey(<hidden>, source={self.source!r})"

    @property
    def secret(self) -> bytes:
        """The key bytes (for :class:`Pseudonymiser`; never write them anywhere)."""
        return self._secret

    @classmethod
    def generate(cls) -> PseudonymKey:
        """A random key for one import: its pseudonyms match no other import's."""
        return cls(secrets.token_bytes(32), "random, this import only")

    @classmethod
    def from_env(cls, name: str, environ: Mapping[str, str] | None = None) -> PseudonymKey:
        """The key in environment variable ``name`` (at least 16 characters).

        Raises :class:`UsageError` when it is unset or too short (without showing its value).
        """
        value = (os.environ if environ is None else environ).get(name)
        if not value:
            raise UsageError(f"--pseudonym-key-env {name}: the environment variable is not set")
        if len(value) < MIN_KEY_CHARS:
            raise UsageError(
                f"--pseudonym-key-env {name}: the key has {len(value)} characters, at least "
                f"{MIN_KEY_CHARS} are needed (e.g. export {name}=$(openssl rand -hex 32))"
            )
        secret = hashlib.sha256(b"harness pseudonym key\0" + value.encode()).digest()
        return cls(secret, f"environment variable {name}")


class Pseudonymiser:
    """Maps raw sensitive values to their pseudonyms (see the module docstring).

    Example::

        p = Pseudonymiser(PseudonymKey.generate())
        p.pseudonym("ann.lee@acme.io")     # 'qex.hwm@mzkj.zq.example.com' (for this key)
        p.pseudonym("4111 1111 1111 1111") # '4111 1163 0859 2044': Luhn-valid, same groups
    """

    def __init__(self, key: PseudonymKey) -> None:
        self.key_source = key.source
        self._perm = KeyedPermutation(key.secret)
        self._cache: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Pseudonymiser(key from {self.key_source})"

    def pseudonym(self, raw: str) -> str:
        """The pseudonym of the raw value ``raw``, exactly as it is written wherever ``raw`` is
        pseudonymised: the same in every header, cookie, path, query, body or capture made
        with this key. A stable contract: the session links of a capture store it.

        ``raw`` is the value itself, decoded from its place (no percent, JSON or XML escapes;
        an ``Authorization`` header's credentials without the scheme, a cookie's value without
        its name). The result contains no character that needs escaping where ``raw`` did not:
        what changes are letters and digits, and an e-mail's domain.
        """
        cached = self._cache.get(raw)
        if cached is not None:
            return cached
        new = self._derive(raw)
        if len(raw) <= CACHED_LENGTH:  # bounded memory on high-cardinality or huge input
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[raw] = new
        return new

    def _derive(self, raw: str) -> str:
        if not raw:
            return raw
        if raw.isdigit() and raw.isascii():
            return self.card(raw) if is_card(raw) else self.digits(raw)
        if "-----BEGIN" in raw and PEM.search(raw):
            return self._with_pem(raw)
        if raw.startswith("eyJ") and JWT.fullmatch(raw):
            return self.jwt(raw)
        if "@" in raw and EMAIL.fullmatch(raw):
            return self.email(raw)
        if len(raw) == 36 and UUID.fullmatch(raw):
            return self.uuid(raw)
        if is_card(raw):
            return self.card(raw)
        number = _NUMBER.fullmatch(raw)
        if number:
            return self._number(number)
        if _HEX.fullmatch(raw) and not raw.isalpha():
            return self.hex(raw)
        if len(raw) == 20 and AWS_KEY.fullmatch(raw):
            return raw[:4] + self.text(raw[4:])
        return self.text(raw)

    # -- the value classes ------------------------------------------------------------------

    def text(self, raw: str) -> str:
        """Letters -> letters (case kept), digits -> digits, anything else kept."""
        return self._shaped(raw)

    def digits(self, raw: str) -> str:
        """Digits of the same length; a leading zero stays, a leading non-zero stays non-zero."""
        n = len(raw)
        if raw[0] == "0":
            if n == 1:
                return raw
            rest = self._perm.permute(int(raw[1:]), 10 ** (n - 1), b"digits0")
            return "0" + str(rest).zfill(n - 1)
        low = 10 ** (n - 1)
        return str(low + self._perm.permute(int(raw) - low, 9 * low, b"digits"))

    def card(self, raw: str) -> str:
        """Luhn-valid, same length and separators, same issuer prefix (first 6 digits)."""
        digits = raw.replace(" ", "").replace("-", "")
        middle = digits[6:-1]
        mixed = self._perm.permute(int(middle), 10 ** len(middle), b"card")
        body = digits[:6] + str(mixed).zfill(len(middle))
        new = iter(body + luhn_digit(body))
        return "".join(next(new) if ch.isdigit() else ch for ch in raw)

    def uuid(self, raw: str) -> str:
        """A UUID of the same version (13th hex digit) and variant (top bits of the 17th)."""
        hexes = raw.replace("-", "")
        value = int(hexes, 16)
        # 128 bits: the version nibble (bits 76-79) and the two variant bits (62-63) stay
        free = ((value >> 80) << 74) | (((value >> 64) & 0xFFF) << 62) | (value & ((1 << 62) - 1))
        mixed = self._perm.permute(free, 1 << 122, b"uuid")
        kept = value & ((0xF << 76) | (0x3 << 62))
        out = (
            ((mixed >> 74) << 80)
            | (((mixed >> 62) & 0xFFF) << 64)
            | (mixed & ((1 << 62) - 1))
            | kept
        )
        text = f"{out:032x}"
        if any(c.isupper() for c in raw) and not any(c.islower() for c in raw):
            text = text.upper()
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    def hex(self, raw: str) -> str:
        """Hex digits of the same length and case."""
        n = len(raw)
        size = 16**n
        if size > FEISTEL_LIMIT:
            return self._hashed(raw, "hex", every=False)
        text = f"{self._perm.permute(int(raw, 16), size, b'hex'):0{n}x}"
        return text.upper() if raw.isupper() else text

    def email(self, raw: str) -> str:
        """``local@domain`` -> ``P(local)@P(domain).example.com`` (one to one, still valid)."""
        local, _, domain = raw.rpartition("@")
        return f"{self.text(local)}@{self.text(domain)}.{EMAIL_DOMAIN}"

    def jwt(self, raw: str) -> str:
        """Three base64url segments: header kept, claims pseudonymised, signature replaced."""
        head, payload, signature = raw.split(".", 2)
        try:
            claims = json.loads(_b64decode(payload))
            json.loads(_b64decode(head))
            body = json.dumps(self._claims(claims), separators=(",", ":"), ensure_ascii=False)
        except (ValueError, binascii.Error, RecursionError):
            # not JSON inside (or nested too deep to walk): each segment as text, still three
            # base64url segments
            return ".".join(self.text(part) for part in (head, payload, signature))
        stream = self._perm.stream(b"jwt-signature\0" + raw.encode(), len(signature))
        new_signature = "".join(_B64URL[b & 63] for b in stream)
        return f"{head}.{_b64encode(body.encode())}.{new_signature}"

    def _claims(self, value: object) -> object:
        if isinstance(value, dict):
            return {k: v if k in KEPT_CLAIMS else self._claims(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._claims(v) for v in value]
        if isinstance(value, str):
            return self.pseudonym(value)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            new = int(self.pseudonym(str(abs(value))))
            return -new if value < 0 else new
        if isinstance(value, float):
            text = repr(value)
            return float(self.pseudonym(text)) if _NUMBER.fullmatch(text) else value
        return value

    def _number(self, match: re.Match[str]) -> str:
        sign, whole, fraction = match.groups()
        new = sign + self.digits(whole)
        return new if fraction is None else new + "." + self.digits(fraction)

    def _with_pem(self, raw: str) -> str:
        """PEM private-key blocks by :meth:`_pem`, any text around them as text."""
        out: list[str] = []
        pos = 0
        for match in PEM.finditer(raw):
            out += (self.text(raw[pos : match.start()]), self._pem(match))
            pos = match.end()
        out.append(self.text(raw[pos:]))
        return "".join(out)

    def _pem(self, match: re.Match[str]) -> str:
        label, body = match.group(1), match.group(2)
        pieces = _PEM_SEPARATORS.split(body)
        # odd pieces are the separators the split kept
        body = "".join(p if i % 2 else self.text(p) for i, p in enumerate(pieces))
        return f"-----BEGIN {label}-----{body}-----END {label}-----"

    def _shaped(self, raw: str) -> str:
        """``raw`` with its letters and digits replaced, its shape kept."""
        plain = raw.isascii()
        long = len(raw) > _EXACT_SYMBOLS and sum(c.isalnum() for c in raw) > _EXACT_SYMBOLS
        if (long or not plain) and any(c.isalnum() for c in raw):
            return self._hashed(raw, "text", every=False)  # no exact permutation this size
        radices: list[int] = []
        digits: list[int] = []
        for ch in raw:
            if "0" <= ch <= "9":
                radices.append(10)
                digits.append(ord(ch) - 48)
            elif ch.isalpha():
                radices.append(26)
                digits.append((ord(ch.lower()) - 97) if plain else 0)
        if not radices:
            # nothing but punctuation and blanks: letters instead, so nothing is kept
            return self._hashed(raw, "text", every=True) if raw.strip() else raw
        size = 1
        for r in radices:
            size *= r
        if not plain or size > FEISTEL_LIMIT:
            return self._hashed(raw, "text", every=False)
        value = 0
        for r, d in zip(radices, digits, strict=True):
            value = value * r + d
        value = self._perm.permute(value, size, b"text")
        out: list[str] = []
        for r in reversed(radices):
            value, d = divmod(value, r)
            out.append(chr(48 + d) if r == 10 else chr(97 + d))
        new = iter(reversed(out))
        return "".join(_like(next(new), ch) if ch.isalnum() else ch for ch in raw)

    def _hashed(self, raw: str, kind: str, every: bool) -> str:
        """Shape-keeping stand-in from a keyed hash (for long or non-ASCII values)."""
        # from the lower-cased value, the case put back: values equal but for case stay so
        stream = self._perm.stream(f"{kind}\0{raw.lower()}".encode(), 2 * len(raw))
        letters = 6 if kind == "hex" else 26
        # (hex digits: a digit stays a digit and a letter a letter; fine at this length)
        out = []
        for i, ch in enumerate(raw):
            pick = int.from_bytes(stream[2 * i : 2 * i + 2])
            if "0" <= ch <= "9":
                out.append(chr(48 + pick % 10))
            elif ch.isalpha() or (every and not ch.isspace()):
                out.append(_like(_LETTERS[pick % letters], ch))
            else:
                out.append(ch)
        return "".join(out)


def _like(new: str, old: str) -> str:
    """``new`` in the case of ``old``."""
    return new.upper() if old.isupper() else new


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
