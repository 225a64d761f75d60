"""Credentials in headers and URLs: what of them is secret, and how each mode replaces it.

=========================  =====================================================================
``Authorization``          the credentials after the scheme (the scheme stays); ``Basic``
                           credentials are decoded and their user and password replaced one
                           by one (still valid base64 of ``user:password``); auth-parameter
                           lists (``Digest username="...", response="..."``) value by value
``Cookie``                 every cookie value, names kept
``Set-Cookie``             the cookie's value, attributes kept
API-key headers            the whole value (a leading scheme word such as ``Bearer`` stays)
URL user info              user and password of ``user:password@host`` (host column, ``Host``)
=========================  =====================================================================

Each function takes ``secret``, the replacement of one raw secret: the pseudonym in the default
mode, a constant mask in ``--redact-mode mask`` (whose shapes are :func:`mask_named_header`,
unchanged from earlier versions).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

MASK = "REDACTED"

#: HTTP authentication schemes (IANA registry and common non-standard ones): the word stays.
AUTH_SCHEMES = frozenset(
    {
        "basic", "bearer", "digest", "token", "jwt", "apikey", "api-key", "key", "hoba",
        "mutual", "negotiate", "ntlm", "aws4-hmac-sha256", "hmac", "oauth", "sso", "dpop",
        "gnap", "privatetoken", "vapid", "scram-sha-1", "scram-sha-256", "sharedaccesssignature",
        "splunk", "ssws", "otp",
    }
)  # fmt: skip
# parameters of a credentials list that say how, not who
_PLAIN_PARAMS = frozenset({"realm", "algorithm", "qop", "charset", "stale", "userhash", "nc"})
_SCHEMED = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)( +)(\S.*)", re.S)
# a parameter starts after a boundary (linear time on a long token without "=")
_PARAM = re.compile(
    r'(?<![A-Za-z0-9_-])([A-Za-z0-9_-]++)(\s*=\s*)(?:"((?:[^"\\]|\\.)*+)"|([^,\s"]*+))'
)
_COOKIE_VALUE = re.compile(r"=[^;]*")

Secret = Callable[[str], str]


def credentials(value: str, secret: Secret) -> str:
    """A credential value with its secret parts replaced by ``secret`` (scheme kept)."""
    m = _SCHEMED.fullmatch(value)
    if m is None or m.group(1).lower() not in AUTH_SCHEMES:
        return secret(value) if value else value
    scheme, blank, rest = m.groups()
    if scheme.lower() == "basic":
        return scheme + blank + _basic(rest, secret)
    if "=" in rest and ("," in rest or '"' in rest or (rest.count("=") > 1 and " " in rest)):
        return scheme + blank + _PARAM.sub(lambda p: _param(p, secret), rest)
    return scheme + blank + secret(rest)


def _basic(encoded: str, secret: Secret) -> str:
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return secret(encoded)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    user, colon, password = text.partition(":")
    new = secret(user) + colon + (secret(password) if password else "")
    return base64.b64encode(new.encode("utf-8")).decode("ascii")


def _param(match: re.Match[str], secret: Secret) -> str:
    name, equals, quoted, bare = match.groups()
    if name.lower() in _PLAIN_PARAMS:
        return match.group(0)
    if quoted is not None:
        return f'{name}{equals}"{secret(quoted) if quoted else quoted}"'
    return f"{name}{equals}{secret(bare) if bare else bare}"


def cookies(value: str, secret: Secret) -> str:
    """A ``Cookie`` value with every cookie value replaced (names and separators kept)."""
    parts = value.split(";")
    out = []
    for part in parts:
        name, eq, raw = part.partition("=")
        if eq:
            out.append(f"{name}={secret(raw)}")
        else:
            stripped = part.strip()
            out.append(part.replace(stripped, secret(stripped)) if stripped else part)
    return ";".join(out)


def set_cookie(value: str, secret: Secret) -> str:
    """A ``Set-Cookie`` value with the cookie's value replaced (attributes kept)."""
    first, semi, attrs = value.partition(";")
    name, eq, raw = first.partition("=")
    new = f"{name}={secret(raw)}" if eq else secret(first)
    return new + semi + attrs


def userinfo(host: str, secret: Secret) -> str:
    """``user:password@host`` with user and password replaced (the host kept)."""
    info, at, rest = host.rpartition("@")
    if not at:
        return host
    user, colon, password = info.partition(":")
    return secret(user) + colon + (secret(password) if password else "") + at + rest


def mask_named_header(name: str, value: str) -> tuple[str, str]:
    """(rule, masked value) of a credential header in ``--redact-mode mask``."""
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
