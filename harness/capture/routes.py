"""Route templates: ``/payments/8f14e45f-ceea-4671-a5cb-0b0a3e4c5d6a`` -> ``/payments/{id}``.

Per-endpoint analysis and Locust request names need few distinct names. A path (query removed)
first goes through the configured :class:`~harness.capture.config.RouteRule` list; otherwise each
segment that is a number, a UUID, a hex id (at least ``hex_min_length`` hex digits with a digit
in it), a long opaque token, an e-mail address or a JWT becomes the placeholder.
"""

from __future__ import annotations

import re

from harness.capture.config import RoutesConfig

_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
# base64url-ish tokens of 20+ characters that mix letters and digits (ids, hashes, slugs of keys)
_TOKEN = re.compile(r"(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_=-]{20,}")
# e-mail addresses (also percent-encoded) and JWTs: personal, never part of an endpoint's name
_EMAIL = re.compile(r"[^/@]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_CACHE_LIMIT = 50_000


class RouteTemplater:
    """Turns paths into route templates; results are cached (bounded) per distinct path."""

    def __init__(self, config: RoutesConfig | None = None) -> None:
        self._config = config or RoutesConfig()
        self._rules = [(re.compile(r.pattern), r.route) for r in self._config.rules]
        self._hex = re.compile(rf"(?=[^/]*\d)[0-9a-fA-F]{{{self._config.hex_min_length},}}")
        self._cache: dict[str, str] = {}

    @property
    def placeholder(self) -> str:
        """What an id (or a redacted secret) becomes in a route, ``{id}`` by default."""
        return self._config.placeholder

    def route(self, path: str) -> str:
        """The route template of ``path`` (which may carry a query string)."""
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        route = self._template(path.partition("?")[0].partition("#")[0] or "/")
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()  # keep memory bounded on high-cardinality paths
        self._cache[path] = route
        return route

    def _template(self, path: str) -> str:
        for pattern, route in self._rules:
            if pattern.fullmatch(path):
                return route
        placeholder = self._config.placeholder
        segments = path.split("/")
        for i, segment in enumerate(segments):
            if segment and self._is_id(segment):
                stem, dot, ext = segment.rpartition(".")
                # keep a file extension: /invoices/123.pdf -> /invoices/{id}.pdf
                if dot and ext.isalpha() and self._is_id(stem):
                    segments[i] = placeholder + dot + ext
                else:
                    segments[i] = placeholder
        return "/".join(segments)

    def _is_id(self, segment: str) -> bool:
        stem = segment.rpartition(".")[0] if "." in segment else segment
        return any(
            p.fullmatch(s)
            for s in (segment, stem)
            if s
            for p in (_NUMBER, _UUID, self._hex, _TOKEN, _EMAIL, _JWT)
        )
