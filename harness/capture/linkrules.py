"""The ``links:`` rules of a capture config, ready to match (see :mod:`harness.capture.config`).

An ``add`` rule makes the learner index a value its guards would refuse: the value at ``src`` of
the responses of ``from`` exchanges, linked (at ``dst`` only, in ``to`` requests only, when
given) wherever a later request of the session sends it. An ``exclude`` rule drops every learned
link that matches all of its fields. ``src`` and ``dst`` match as globs over locator text,
``from`` and ``to`` as ``METHOD /route-glob`` (or a route glob alone) over ``METHOD route``.

>>> RouteMatcher("POST /api/*").matches("POST /api/users/login")
True
>>> RouteMatcher("/api/*").matches("GET /health")
False
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from harness.capture.config import LinkRule


class RouteMatcher:
    """Matches ``METHOD route`` text against a rule's ``from`` / ``to`` (``None``: anything).

    The pattern is ``METHOD GLOB`` (``POST /api/users/*``) or a route ``GLOB`` alone.
    """

    def __init__(self, pattern: str | None) -> None:
        self.pattern = pattern
        method, space, glob = (pattern or "").strip().partition(" ")
        if not space:
            method, glob = "", method
        self._method = method.upper()
        self._glob = glob.strip() or "*"

    def matches(self, route: str) -> bool:
        """Whether ``route`` (``METHOD /route``) matches."""
        if self.pattern is None:
            return True
        method, _, path = route.partition(" ")
        if self._method and method != self._method:
            return False
        return fnmatchcase(path, self._glob)


@dataclass(frozen=True, slots=True)
class Rule:
    """A ``links:`` rule of the config with its route matchers."""

    rule: LinkRule
    from_: RouteMatcher
    to: RouteMatcher

    @classmethod
    def of(cls, rule: LinkRule) -> Rule:
        """The rule, compiled."""
        return cls(rule, RouteMatcher(rule.from_), RouteMatcher(rule.to))

    def admits(self, dst: str, route: str) -> bool:
        """Whether an ``add`` rule's value may link into ``dst`` of a ``route`` request."""
        return (self.rule.dst is None or glob(self.rule.dst, dst)) and self.to.matches(route)

    def excludes(self, src: str, src_route: str, dst: str, route: str, kind: str) -> bool:
        """Whether this ``exclude`` rule drops a link with these fields."""
        r = self.rule
        return (
            (r.src is None or glob(r.src, src))
            and (r.dst is None or glob(r.dst, dst))
            and (r.kind is None or r.kind == kind)
            and self.from_.matches(src_route)
            and self.to.matches(route)
        )


def glob(pattern: str, text: str) -> bool:
    """Whether ``text`` matches the glob ``pattern`` (case counts)."""
    return fnmatchcase(text, pattern)
