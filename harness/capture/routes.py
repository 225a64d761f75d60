"""Route templates: ``/payments/8f14e45f-ceea-4671-a5cb-0b0a3e4c5d6a`` -> ``/payments/{id}``.

Per-endpoint analysis and Locust request names need few distinct names. A path (query removed)
is tried, in order, against:

1. the configured ``routes.rules`` (a full-match regular expression and its route);
2. the configured ``routes.templates`` (``/api/profiles/{username}/follow``: a ``{name}``
   segment matches any one segment, ``{name}.png`` any one ending in ``.png``; where two
   templates could match, a literal segment wins over a parameter, left to right);
3. the shapes of ids: each segment that is a number, a UUID, a hex id (at least
   ``hex_min_length`` hex digits with a digit in it), a date, an e-mail address, a JWT or a long
   opaque token (base64 and the like, letters and digits) becomes the placeholder (``{id}``).

What the shapes leave (user names, slugs: values that look like words) is learned from the
whole capture by :mod:`harness.capture.routelearn`. Routes that come from a rule or a template
are the user's word: learning leaves them as they are (:attr:`RouteTemplater.pinned`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from harness.capture.config import RoutesConfig

_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
# base64url-ish tokens of 20+ characters that mix letters and digits (ids, hashes, slugs of keys)
_TOKEN = re.compile(r"(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_=+~%-]{20,}")
_DATE = re.compile(
    r"\d{4}-\d\d-\d\d(?:[T_ ]\d\d(?::|%3[Aa])\d\d(?:(?::|%3[Aa])\d\d(?:\.\d+)?)?"
    r"(?:Z|[+-]\d\d(?::?\d\d)?)?)?"
)
# e-mail addresses (also percent-encoded) and JWTs: personal, never part of an endpoint's name
_EMAIL = re.compile(r"[^/@]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_WHOLE = (_UUID, _DATE, _EMAIL, _JWT)  # shapes that may contain a dot: never split
_CACHE_LIMIT = 50_000
_TEMPLATE_PARAM = re.compile(r"\{[^{}/]+\}")


@dataclass
class _TemplateNode:
    """One segment position of the configured templates."""

    literal: dict[str, _TemplateNode] = field(default_factory=dict)
    params: list[tuple[re.Pattern[str], _TemplateNode]] = field(default_factory=list)
    route: str | None = None


class RouteTemplates:
    """The configured ``routes.templates``, matched segment by segment.

    >>> t = RouteTemplates(["/api/articles/{slug}", "/api/articles/feed"])
    >>> t.match("/api/articles/feed"), t.match("/api/articles/how-to"), t.match("/api/tags")
    ('/api/articles/feed', '/api/articles/{slug}', None)
    """

    def __init__(self, templates: list[str]) -> None:
        self._root = _TemplateNode()
        for template in templates:
            node = self._root
            for segment in template.split("/")[1:]:
                node = self._child(node, segment)
            node.route = node.route or template  # the first one written wins

    @staticmethod
    def _child(node: _TemplateNode, segment: str) -> _TemplateNode:
        if not _TEMPLATE_PARAM.search(segment):
            return node.literal.setdefault(segment, _TemplateNode())
        parts = _TEMPLATE_PARAM.split(segment)
        pattern = re.compile("[^/]+".join(re.escape(p) for p in parts))
        for existing, child in node.params:
            if existing.pattern == pattern.pattern:
                return child
        child = _TemplateNode()
        node.params.append((pattern, child))
        return child

    def match(self, path: str) -> str | None:
        """The template ``path`` (no query) matches, or None."""
        return self._match(self._root, path.split("/")[1:], 0)

    def _match(self, node: _TemplateNode, segments: list[str], i: int) -> str | None:
        if i == len(segments):
            return node.route
        segment = segments[i]
        child = node.literal.get(segment)
        if child is not None:
            found = self._match(child, segments, i + 1)
            if found is not None:
                return found
        for pattern, param in node.params:
            if pattern.fullmatch(segment):
                found = self._match(param, segments, i + 1)
                if found is not None:
                    return found
        return None


class RouteTemplater:
    """Turns paths into route templates; results are cached (bounded) per distinct path."""

    def __init__(self, config: RoutesConfig | None = None) -> None:
        self._config = config or RoutesConfig()
        self._rules = [(re.compile(r.pattern), r.route) for r in self._config.rules]
        self._templates = RouteTemplates(self._config.templates)
        self._hex = re.compile(rf"(?=[^/]*\d)[0-9a-fA-F]{{{self._config.hex_min_length},}}")
        self._cache: dict[str, str] = {}

    @property
    def placeholder(self) -> str:
        """What an id (or a redacted secret) becomes in a route, ``{id}`` by default."""
        return self._config.placeholder

    @property
    def pinned(self) -> frozenset[str]:
        """Routes given by a rule or a template: learning leaves them alone."""
        return frozenset([route for _, route in self._rules] + list(self._config.templates))

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
        matched = self._templates.match(path)
        if matched is not None:
            return matched
        placeholder = self._config.placeholder
        segments = path.split("/")
        for i, segment in enumerate(segments):
            if not segment:
                continue
            if any(p.fullmatch(segment) for p in _WHOLE):
                segments[i] = placeholder
            elif self._is_id(segment):
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
