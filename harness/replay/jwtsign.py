"""Re-sign captured JWTs with a staging key: same claims, fresh ``iat``/``nbf``/``exp``.

Pure (hmac from the standard library; RS256 through ``cryptography``). A captured token is
pseudonymised or signed by production's key, so staging refuses it; :class:`Resigner` signs it
again with the staging key (``HS256``/``HS384``/``HS512``: a shared secret; ``RS256``: a PEM
private key), keeping every claim but setting ``iat`` and ``nbf`` (when present) to now and
``exp`` (when present) to now plus the token's own lifetime (``exp - iat``), else ``ttl``.
Tokens are cached: a token is signed again only when half its fresh lifetime has passed.

>>> signer = Resigner(load_key("HS256", b"staging"), "HS256", ttl_s=3600)
>>> old = sign({"alg": "HS256", "typ": "JWT"}, {"sub": "7", "iat": 10, "exp": 70}, "HS256",
...            load_key("HS256", b"production"))
>>> new = signer.resign(old, now=1000)
>>> claims(new)
{'sub': '7', 'iat': 1000, 'exp': 1060}
>>> verify(new, load_key("HS256", b"staging"), "HS256")
True
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from harness.scenario.jwtkey import HMAC_HASHES as _HASHES
from harness.scenario.jwtkey import Key, load_key

__all__ = ["JWT_PATTERN", "Key", "Resigner", "claims", "load_key", "sign", "verify"]

#: a JWT as it appears in a header value: three base64url parts, a JSON header first
JWT_PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(header: dict[str, Any], payload: dict[str, Any], algorithm: str, key: Key) -> str:
    """A compact JWT of ``header`` and ``payload`` signed with ``key``."""
    head = {**header, "alg": algorithm}
    text = _b64(json.dumps(head, separators=(",", ":")).encode())
    text += "." + _b64(json.dumps(payload, separators=(",", ":")).encode())
    if algorithm in _HASHES:
        assert key.secret is not None
        signature = hmac.new(key.secret, text.encode(), _HASHES[algorithm]).digest()
    else:
        assert key.private is not None
        signature = key.private.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return text + "." + _b64(signature)


def verify(token: str, key: Key, algorithm: str) -> bool:
    """Whether ``token`` carries a valid signature by ``key`` (for tests and checks)."""
    head, _, signature = token.rpartition(".")
    try:
        raw = _unb64(signature)
    except (binascii.Error, ValueError):
        return False
    if algorithm in _HASHES:
        assert key.secret is not None
        expected = hmac.new(key.secret, head.encode(), _HASHES[algorithm]).digest()
        return hmac.compare_digest(raw, expected)
    assert key.private is not None
    try:
        key.private.public_key().verify(raw, head.encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    pieces = token.split(".")
    if len(pieces) != 3:
        return None
    try:
        header, payload = json.loads(_unb64(pieces[0])), json.loads(_unb64(pieces[1]))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    return header, payload


def claims(token: str) -> dict[str, Any] | None:
    """The payload of ``token`` (no signature check), or None when it is not a JWT."""
    parts = _parts(token)
    return parts[1] if parts else None


class Resigner:
    """Signs captured tokens again with the staging key (see the module docstring)."""

    def __init__(self, key: Key, algorithm: str, ttl_s: float) -> None:
        self.key = key
        self.algorithm = algorithm
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[str, float]] = {}
        self.signed = 0

    def resign(self, token: str, now: float) -> str | None:
        """``token`` signed again (None: it is not a JWT, left as it is)."""
        cached = self._cache.get(token)
        if cached is not None and now < cached[1]:
            return cached[0]
        parts = _parts(token)
        if parts is None:
            return None
        header, payload = parts
        issued = int(now)
        lifetime = self.ttl_s
        iat, exp = payload.get("iat"), payload.get("exp")
        if isinstance(iat, int | float) and isinstance(exp, int | float) and exp > iat:
            lifetime = float(exp - iat)
        fresh = dict(payload)
        if "iat" in fresh:
            fresh["iat"] = issued
        if "nbf" in fresh:
            fresh["nbf"] = issued
        if "exp" in fresh:
            fresh["exp"] = issued + int(lifetime)
        header.pop("kid", None)  # production's key id means nothing to staging
        new = sign(header, fresh, self.algorithm, self.key)
        self._cache[token] = (new, now + lifetime / 2)
        self.signed += 1
        return new

    def resign_text(self, text: str, now: float) -> str:
        """``text`` (a header value) with every JWT in it signed again."""
        if "eyJ" not in text:
            return text
        return JWT_PATTERN.sub(lambda m: self.resign(m.group(0), now) or m.group(0), text)
