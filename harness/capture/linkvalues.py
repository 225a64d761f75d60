"""Which values and names are worth a session link: the guards against false links.

A value a response delivered and a later request sent is a link only when it is unlikely to be
there by chance. The rules (documented in docs/capture.md):

- never booleans, null, or words every client sends (``true``, ``undefined``, ``en-US``...);
- a number, or any value shorter than :data:`MIN_FREE_LENGTH`, only from an *id-like place*
  (a JSON key ``id``, ``*_id``, ``*Id``, ``uuid``, ``slug``...; a segment of ``Location``) and
  into an id-like place (a whole path segment, or a query / form / JSON field whose name is
  id-like), and never shorter than :data:`MIN_ID_LENGTH` unless it is a number;
- other values need :data:`MIN_FREE_LENGTH` characters, at least 4 distinct among the first 16;
- names (JSON keys, headers, cookies, fields) must be plain identifiers, so a locator never
  carries user data (an e-mail used as a JSON key, say) into the capture file.

:func:`identity_value` is the stricter test of a credential that decides a session.

>>> worth_linking("true", id_like=True), worth_linking("42", id_like=True)
(False, True)
>>> worth_linking("42", id_like=False), worth_linking("f3a9c2d1e8", id_like=False)
(False, True)
>>> is_id_name("article_id"), is_id_name("userId"), is_id_name("idle")
(True, True, False)
"""

from __future__ import annotations

import re

#: Values shorter than this need an id-like place at both ends.
MIN_FREE_LENGTH = 8
#: Strings (not numbers) shorter than this are never linked.
MIN_ID_LENGTH = 3
#: Longer values are not indexed (blobs, documents).
MAX_VALUE_LENGTH = 4096

_COMMON = frozenset(
    {
        "true", "false", "null", "none", "nil", "undefined", "nan", "infinity", "yes", "no",
        "ok", "success", "error", "failed", "pending", "active", "inactive", "enabled",
        "disabled", "anonymous", "guest", "admin", "user", "default", "unknown", "bearer",
        "basic", "token", "utf-8", "application/json", "text/html", "text/plain", "en-us",
        "en-gb", "keep-alive", "no-cache", "gzip", "deflate", "identity", "chunked",
    }
)  # fmt: skip

_LONGEST_COMMON = max(map(len, _COMMON))
_PLAIN = re.compile(r"[A-Za-z_$@][A-Za-z0-9_.$:@\[\]-]{0,63}")
# on the lower-cased name: order_id, article.id, id_token, invoice-no; camelCase on the name as is
_ID_NAME = re.compile(
    r"(?:^|[_\-.])(?:id|ids|uuid|guid|pk|slug|key|ref|handle|number|no)$"
    r"|^(?:id|ids|uuid|guid|pk|slug|handle)(?:$|[_\-.])"
)
_ID_CAMEL = re.compile(r"[a-z0-9](?:Id|ID|Ids|IDs|Uuid|UUID|Slug|Key|Ref|Number)$")
_TOKEN_NAME = re.compile(
    r"token|jwt|auth(?!or)|sess|sid\b|secret|api[_-]?key|access[_-]?(?:key|token)|bearer"
    r"|credential|ticket|nonce|(?:^|[_\-.])otp|signature",
    re.I,
)
_CSRF_NAME = re.compile(r"csrf|xsrf|authenticity_token|anti.?forgery|__requestverification", re.I)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def plain_name(name: str) -> bool:
    """Whether ``name`` may appear in a locator (an identifier, not data such as an e-mail)."""
    return _PLAIN.fullmatch(name) is not None and "@" not in name


def is_id_name(name: str) -> bool:
    """Whether a field name says it holds an id: ``id``, ``order_id``, ``userId``, ``slug``."""
    return _ID_NAME.search(name.lower()) is not None or _ID_CAMEL.search(name) is not None


def is_token_name(name: str) -> bool:
    """Whether a name says it holds a credential: ``token``, ``access_token``, ``sessionid``."""
    return _TOKEN_NAME.search(name) is not None


def is_csrf_name(name: str) -> bool:
    """Whether a name says it holds an anti-forgery token: ``csrftoken``, ``X-XSRF-TOKEN``."""
    return _CSRF_NAME.search(name) is not None


def is_number(value: str) -> bool:
    """Whether ``value`` is an integer written in (ASCII) decimal digits."""
    digits = value[1:] if value[:1] == "-" else value
    return digits.isascii() and digits.isdigit()


def looks_like_jwt(value: str) -> bool:
    """Whether ``value`` is shaped like a JSON Web Token."""
    return _JWT.fullmatch(value) is not None


def worth_indexing(value: str, id_like: bool) -> bool:
    """Whether a value a response delivered may be the source of a link at all.

    ``id_like`` says the response delivered it in an id-like place; short values and numbers
    are indexed only from such places (and then linked only into one, see
    :func:`worth_linking`).
    """
    n = len(value)
    if not n or n > MAX_VALUE_LENGTH:
        return False
    if n < MIN_FREE_LENGTH and not id_like:
        return False  # the usual short value (cheapest test first: this runs per JSON leaf)
    if n <= _LONGEST_COMMON and value.lower() in _COMMON:
        return False
    if is_number(value):
        return id_like and value.lstrip("-") not in ("0", "1")
    if n < MIN_ID_LENGTH:
        return False
    # "00000000", "--------": a few distinct characters at the start tell (a set of the whole
    # value costs as much as everything else here, per JSON leaf)
    return n < MIN_FREE_LENGTH or len(set(value[:16])) >= 4


def worth_linking(value: str, id_like: bool) -> bool:
    """Whether ``value`` may link into a request place; ``id_like``: both ends are id-like.

    >>> worth_linking("7", id_like=True)
    True
    """
    if not worth_indexing(value, id_like):
        return False
    if is_number(value) or len(value) < MIN_FREE_LENGTH:
        return id_like
    return True


def identity_value(value: str) -> bool:
    """Whether a credential value can tell one client from another (decides a session).

    ``lang=en``, ``theme=dark`` or ``Bearer null`` cannot: a value needs 10 characters, 6 of
    them distinct, and a digit unless it has 20 or more.
    """
    n = len(value)
    if n < 10 or value.lower() in _COMMON or len(set(value)) < 6:
        return False
    return n >= 20 or any(c.isdigit() for c in value)
