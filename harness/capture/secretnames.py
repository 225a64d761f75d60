"""Which names hold secrets (JSON keys, form, query and multipart fields, XML elements, headers).

A name is split into lower-case words at case changes, digits and separators
(``newPassword2`` -> ``new password 2``; ``X-Custom-Auth`` -> ``x custom auth``; ``APIKey`` ->
``api key``). It names a secret when, after dropping trailing words that only say how the value
is held (``id``, ``value``, ``hash``, ``confirmation``, ``new``, ``2``, ...), it ends with a
secret term: ``password``, ``token``, ``secret``, ``auth``, ``session``, ``cvv``, ``pin``, ...
or ``api key``, ``access key``, ``private key``, ``card number``...; one word that ends with a
long term counts too (``newpassword``, ``accesstoken``, ``jsessionid``), and so does a plural
(``tokens``, ``api_keys``). So ``new_password``, ``accessToken``, ``x_api_key``,
``X-Custom-Auth``, ``session_id`` and ``password_confirmation``
are secrets, while ``author``, ``token_type``, ``session_timeout``, ``password_policy`` and
``keyboard`` are not. Configured field or header names (``redaction.fields`` /
``redaction.headers``) are added as terms of their own.

Headers also have lists of their own: :data:`CREDENTIAL_HEADERS` (API-key headers that predate
this module, kept), :data:`URL_HEADERS` (their value is a URL: path and query rules apply) and
:func:`benign_header` (standard headers whose value is never a credential: only the value
patterns run on them). Any other header whose value looks like a random token
(:func:`looks_random`) is pseudonymised as well.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

_TERMS = frozenset(
    {
        "password", "passwd", "passwort", "pwd", "pass", "passphrase", "passcode", "secret",
        "secrets", "token", "apikey", "auth", "authorization", "credential", "credentials",
        "creds", "cookie", "session", "sessionid", "sessid", "sid", "csrf", "xsrf", "cvv",
        "cvv2", "cvc", "cvc2", "cvn", "csc", "pin", "ssn", "otp", "totp", "hotp", "mfa",
        "iban", "pan", "ccnum", "cardnumber", "privatekey", "accesskey", "secretkey", "jwt",
        "bearer",
    }
)  # fmt: skip
_PAIRS = frozenset(
    {
        ("api", "key"), ("access", "key"), ("secret", "key"), ("private", "key"),
        ("session", "key"), ("signing", "key"), ("master", "key"), ("encryption", "key"),
        ("subscription", "key"), ("license", "key"), ("functions", "key"), ("account", "key"),
        ("card", "number"), ("card", "no"), ("credit", "card"), ("cc", "number"),
        ("security", "code"), ("verification", "code"), ("auth", "code"), ("card", "code"),
    }
)  # fmt: skip
# one word ending with one of these names a secret too (newpassword, accesstoken, jsessionid)
_SUFFIX_TERMS = tuple(t for t in _TERMS if len(t) >= 5 and t not in ("cookie", "bearer"))
# words after a term that say how the value is held, not what it is
_HOLDERS = frozenset(
    {
        "id", "ids", "value", "val", "hash", "digest", "string", "str", "text", "plain",
        "plaintext", "cleartext", "raw", "b64", "base64", "hex", "enc", "encrypted", "data",
        "input", "field", "confirm", "confirmation", "again", "repeat", "verify", "check", "new",
        "old", "current", "previous", "header", "code", "1", "2", "3",
    }
)  # fmt: skip

#: API-key headers whose whole value is a credential (besides names that :func:`SecretNames`
#: finds): the list of earlier versions, kept.
CREDENTIAL_HEADERS = frozenset(
    {
        "x-api-key", "api-key", "apikey", "x-apikey", "x-auth-token", "x-access-token",
        "x-csrf-token", "x-xsrf-token", "x-amz-security-token", "x-goog-api-key",
        "private-token", "x-api-token", "x-session-token", "x-refresh-token", "x-client-secret",
        "ocp-apim-subscription-key", "x-functions-key",
    }
)  # fmt: skip
#: Headers whose value is a URL (path and query rules apply to it).
URL_HEADERS = frozenset(
    {
        "referer", "origin", "location", "content-location", "x-original-url", "x-rewrite-url",
        "x-forwarded-uri", "x-original-uri",
    }
)  # fmt: skip
_BENIGN = frozenset(
    {
        "accept", "cache-control", "connection", "content-length", "content-type", "date",
        "dnt", "expect", "forwarded", "from", "host", "keep-alive", "max-forwards", "pragma",
        "priority", "range", "te", "trailer", "transfer-encoding", "upgrade",
        "upgrade-insecure-requests", "user-agent", "via", "warning", "x-real-ip",
        "x-requested-with", "x-request-id", "x-correlation-id", "traceparent", "tracestate",
        "baggage", "b3", "x-amzn-trace-id", "x-cloud-trace-context", "sentry-trace",
        "newrelic", "postman-token", "x-http-method-override", "purpose", "save-data",
        "viewport-width", "device-memory", "rtt", "downlink", "ect", "dpr", "width",
        "early-data", "x-powered-by", "x-client-ip", "true-client-ip", "cdn-loop",
    }
)  # fmt: skip
_BENIGN_PREFIXES = (
    "accept-", "content-", "if-", "sec-", "access-control-", "x-forwarded-", "x-b3-",
    "x-datadog-", "x-envoy-", "x-ua-", "cf-",
)  # fmt: skip

#: Path segments after which ids and tokens are secrets (reset, verification, invitation links,
#: API keys and sessions as resources).
PATH_KEYWORDS = frozenset(
    {
        "reset", "verify", "verification", "confirm", "confirmation", "activate", "activation",
        "invite", "invitation", "invitations", "magic", "unsubscribe", "token", "tokens", "key",
        "keys", "apikey", "apikeys", "secret", "secrets", "password", "passwords", "otp",
        "session", "sessions", "signin", "login", "auth",
    }
)  # fmt: skip

# a token: base64, base64url, hex, and the separators tokens use
_TOKEN = re.compile(r"[A-Za-z0-9+/=_.~:-]+")
_VERSION = re.compile(r"[vV]?[0-9]+(?:\.[0-9]+)+(?:[-+][A-Za-z0-9.-]+)?")
MIN_RANDOM_LENGTH = 16
#: Bits of Shannon entropy per character from which a token counts as random.
MIN_RANDOM_BITS = 3.0


def words(name: str) -> list[str]:
    """The lower-case words of a field or header name (see the module docstring)."""
    return [w.lower() for w in _WORDS.findall(name)]


class SecretNames:
    """Decides whether a name holds a secret; ``extra`` are configured names (any case)."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._extra = frozenset("".join(words(name)) for name in extra)
        self._cache: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        """Whether a field, key or header called ``name`` holds a secret."""
        known = self._cache.get(name)
        if known is None:
            known = self._decide(name)
            if len(self._cache) >= 50_000:
                self._cache.clear()
            self._cache[name] = known
        return known

    def _decide(self, name: str) -> bool:
        found = words(name)
        if self._extra and "".join(found) in self._extra:
            return True
        end = len(found)
        while end:
            last = found[end - 1]
            # a plural names secrets too: tokens, passwords, api_keys
            one = last[:-1] if last.endswith("s") and len(last) > 3 else last
            if last in _TERMS or one in _TERMS:
                return True
            if end >= 2 and ((found[end - 2], last) in _PAIRS or (found[end - 2], one) in _PAIRS):
                return True
            if self._extra and any("".join(found[i:end]) in self._extra for i in range(end)):
                return True
            if last.endswith(_SUFFIX_TERMS):
                return True
            if last not in _HOLDERS:
                return False
            end -= 1  # a holder word: look at what it holds
        return False


def benign_header(lower_name: str) -> bool:
    """Whether a header (lower-case name) is a standard one whose value is never a credential."""
    return lower_name in _BENIGN or lower_name.startswith(_BENIGN_PREFIXES)


def announces_secret(segment: str) -> bool:
    """Whether a URL path segment announces a secret in the segments after it
    (``/password-reset/<token>``, ``/verify/<token>``, ``/api-keys/<key>``)."""
    return any(word in PATH_KEYWORDS for word in words(segment))


def looks_random(value: str, min_length: int = MIN_RANDOM_LENGTH, min_kinds: int = 2) -> bool:
    """Whether a header value looks like a random token (optionally after a scheme word).

    At least ``min_length`` token characters, ``min_kinds`` of upper case, lower case and
    digits, and at least :data:`MIN_RANDOM_BITS` bits of entropy per character.
    """
    token = value
    if " " in value:
        scheme, _, token = value.partition(" ")
        if " " in token or not scheme.isalpha():
            return False
    n = len(token)
    if (
        n < MIN_RANDOM_LENGTH
        or n > 8192
        or not _TOKEN.fullmatch(token)
        or _VERSION.fullmatch(token)
    ):
        return False
    kinds = (
        any(c.isupper() for c in token)
        + any(c.islower() for c in token)
        + any(c.isdigit() for c in token)
    )
    if kinds < min_kinds:
        return False
    counts = Counter(token).values()
    bits = -sum(c / n * math.log2(c / n) for c in counts)
    return bits >= MIN_RANDOM_BITS
