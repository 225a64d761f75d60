"""Credentials of the notes service: password hashes, signed API tokens (JWT), session ids.

- Passwords are stored as ``pbkdf2_sha256$ITERATIONS$SALT$HASH``. The iteration count is low
  on purpose (a demo on a small machine; a real service uses hundreds of thousands).
- API tokens are JWTs signed with HS256 by the service's secret: ``{"sub": user id,
  "username": ..., "iat": ..., "exp": ...}``; a token whose signature, form or expiry is wrong
  is refused (401).
- Web sessions and CSRF tokens are random URL-safe strings; the session row in the database
  holds the CSRF token that the forms of that session must post back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time

_ITERATIONS = 1000
TOKEN_TTL_S = 3600


def hash_password(password: str, *, salt: str | None = None) -> str:
    """The stored form of ``password`` (a fresh random salt unless one is given)."""
    salt = salt if salt is not None else secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), _ITERATIONS)
    return f"pbkdf2_sha256${_ITERATIONS}${salt}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash (constant-time comparison)."""
    try:
        scheme, iterations, salt, expected = stored.split("$")
        rounds = int(iterations)
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds)
    return hmac.compare_digest(digest.hex(), expected)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(user_id: int, username: str, secret: str, *, now: float | None = None) -> str:
    """A signed API token for this user, valid for :data:`TOKEN_TTL_S` seconds."""
    issued = int(now if now is not None else time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": str(user_id), "username": username, "iat": issued, "exp": issued + TOKEN_TTL_S}
    signing = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + _b64(signature)


def read_token(token: str, secret: str, *, now: float | None = None) -> dict[str, object] | None:
    """The claims of a valid, unexpired token signed with ``secret``; else ``None``."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    signing = f"{parts[0]}.{parts[1]}"
    expected = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(parts[2]), expected):
            return None
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= (now if now is not None else time.time()):
        return None
    if not isinstance(claims.get("sub"), str) or not str(claims["sub"]).isdigit():
        return None
    return claims


def new_secret() -> str:
    """A random session id or CSRF token (URL-safe, 32 characters)."""
    return secrets.token_urlsafe(24)
