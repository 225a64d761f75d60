"""Route parameters learned from the whole capture: user names, slugs and the like.

Shapes catch ids (:mod:`harness.capture.routes`), but not values that look like words:
``/api/profiles/alice``, ``/api/articles/how-to-train-your-dragon``. Those are found by their
number: a segment position (under one templated prefix) where at least ``min_distinct``
different values occur is a parameter, and its values become the placeholder::

    /api/profiles/alice, /api/profiles/bob, ... (110 names)  ->  /api/profiles/{id}
    /api/articles/feed (30 % of them), /api/articles/how-to-..., ...  ->  /api/articles/feed,
                                                                         /api/articles/{id}

A value that carries at least ``keep_share`` of the position's requests (and ten requests) stays
a route of its own (``feed`` above: a real endpoint next to the parameter; also, by the same
measure, a very popular user's page). The first segment is never a
parameter (``/api``, ``/health``, static files at the root). Routes given by a configured rule or
template are the user's and are left alone.

The import streams, so learning does too: the capture writer shows each batch of routes to
:meth:`RouteLearner.observe` (distinct values with counts, so repeats cost nothing) and maps
each row group through the rules learned so far (:meth:`RouteLearner.apply`) when it writes it;
a capture that fits in one row group is learned whole before any row is written. Later rules
only add parameters or drop kept values, so at the end :meth:`RouteLearner.needs_rewrite` says
whether rows already written must be mapped again (the writer then rewrites the file once).
Memory is bounded: at most ``max_children`` values per position and ``max_nodes`` in all, and
only the first ``max_depth`` segments of a route learn structure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from harness.capture.config import RoutesConfig

_PARAM = "\0param"  # the child of a parameter position that all merged values share
# a value is kept as its own route only with this many requests at least (noise in small captures)
_KEEP_MIN = 10
# a parameter is used for rows written before the end only once this many requests went through
# its position, so which values it keeps is decided on enough traffic (they may go, never come)
_SETTLE = 200


class LearnedRoute(BaseModel):
    """One learned parameter, as the capture metadata keeps it (``capture inspect`` shows it)."""

    template: str = Field(description="the prefix and the parameter, e.g. /api/profiles/{id}")
    distinct: int = Field(description="different values seen at that position (at least)")
    requests: int = Field(description="requests through that position")
    kept: list[str] = Field(default_factory=list, description="values kept as their own route")


class _Node:
    """Counts of one segment position: requests through it and its following segments."""

    __slots__ = ("children", "count", "overflow", "overflow_distinct")

    def __init__(self) -> None:
        self.count = 0
        self.children: dict[str, _Node] = {}
        self.overflow: _Node | None = None  # values past ``max_children``, merged
        self.overflow_distinct = 0  # values sent there (repeats counted again: "many")

    def absorb(self, other: _Node) -> None:
        """Add ``other``'s counts and subtree into this node (a merged copy)."""
        self.count += other.count
        self.overflow_distinct += other.overflow_distinct
        for key, child in other.children.items():
            mine = self.children.get(key)
            if mine is None:
                mine = self.children[key] = _Node()
            mine.absorb(child)
        if other.overflow is not None:
            if self.overflow is None:
                self.overflow = _Node()
            self.overflow.absorb(other.overflow)


@dataclass
class _Rule:
    """The learned rules at one position: parameter or not, and where to go next."""

    param: bool = False
    kept: frozenset[str] = frozenset()
    children: dict[str, _Rule] = field(default_factory=dict)


class _Position:
    """One learned parameter as a mapping: its value (unless kept) becomes the placeholder."""

    def __init__(self, prefix: tuple[str, ...], kept: frozenset[str], placeholder: str) -> None:
        head = re.escape("/" + "/".join(prefix) + "/")
        self._placeholder = placeholder
        # a value is a whole segment without a brace (one with a brace is a placeholder already)
        self._value = re.compile(f"^({head})[^/{{}}]+(/|$)")
        self._arrow_value = self._value.pattern
        self._arrow_replacement = "\\1" + placeholder.replace("\\", "\\\\") + "\\2"
        alternatives = "|".join(re.escape(k) for k in sorted(kept))
        self._kept = f"^{head}(?:{alternatives})(?:/|$)" if kept else None
        self._kept_re = re.compile(self._kept) if self._kept else None

    def map(self, route: str) -> str:
        if self._kept_re is not None and self._kept_re.match(route):
            return route
        return self._value.sub(lambda m: m.group(1) + self._placeholder + m.group(2), route, 1)

    def map_array(self, routes: pa.Array) -> pa.Array:
        out = pc.replace_substring_regex(
            routes, self._arrow_value, self._arrow_replacement, max_replacements=1
        )
        if self._kept is not None:
            out = pc.if_else(pc.match_substring_regex(routes, self._kept), routes, out)
        return out


_Key = tuple[tuple[tuple[str, ...], frozenset[str]], ...]


def _is_value(key: str) -> bool:
    """A segment that may be a parameter's value (not empty, no brace: not a placeholder)."""
    return bool(key) and "{" not in key and "}" not in key


@dataclass
class RouteLearner:
    """Learns parameters from route values and maps routes through them (module docstring)."""

    config: RoutesConfig = field(default_factory=RoutesConfig)
    pinned: frozenset[str] = frozenset()
    max_children: int = 512
    max_nodes: int = 200_000
    #: segments of a route that learn structure (the learning recurses per segment: a hostile
    #: path of thousands of segments must not exhaust the stack)
    max_depth: int = 32
    _root: _Node = field(default_factory=_Node)
    _nodes: int = 0
    _full: bool = False
    _frozen: dict[tuple[str, ...], frozenset[str]] = field(default_factory=dict)
    _applied: set[_Key] = field(default_factory=set)
    _key: _Key = ()
    _mapping: list[_Position] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.max_children = max(self.max_children, 2 * self.config.min_distinct)

    # -- learning -----------------------------------------------------------------------------
    def observe(self, routes: pa.Array | pa.ChunkedArray) -> None:
        """Count a batch of routes (distinct values with their counts)."""
        if not self.config.learn:
            return
        counted = pc.value_counts(routes)
        pinned, add = self.pinned, self.add
        for route, count in zip(
            counted.field(0).to_pylist(), counted.field(1).to_pylist(), strict=True
        ):
            if route is not None and route not in pinned:
                add(route, count)

    def add(self, route: str, count: int = 1) -> None:
        """Count ``count`` requests of ``route``."""
        node = self._root
        node.count += count
        for segment in route.split("/", self.max_depth + 1)[1 : self.max_depth + 1]:
            child = node.children.get(segment)
            if child is None:
                if len(node.children) >= self.max_children:
                    node.overflow_distinct += 1
                    if node.overflow is None:
                        node.overflow = _Node()
                    child = node.overflow
                elif self._nodes >= self.max_nodes:
                    self._full = True
                    return  # bounded memory: learn no new structure past here
                else:
                    child = node.children[segment] = _Node()
                    self._nodes += 1
            child.count += count
            node = child

    def _learn(self, node: _Node, prefix: tuple[str, ...], final: bool) -> _Rule:
        rule = _Rule()
        values = {k: c for k, c in node.children.items() if _is_value(k)}
        distinct = len(values) + node.overflow_distinct
        total = sum(c.count for c in node.children.values())
        total += node.overflow.count if node.overflow else 0
        settled = final or total >= _SETTLE or prefix in self._frozen
        if prefix and distinct >= self.config.min_distinct and settled:
            least = max(self.config.keep_share * total, _KEEP_MIN)
            kept = {k for k, c in values.items() if c.count >= least}
            if prefix in self._frozen:
                kept &= self._frozen[prefix]  # kept values may go, never come back
            merged = _Node()
            for key, child in node.children.items():
                if key not in kept:
                    merged.absorb(child)
            if node.overflow is not None:
                merged.absorb(node.overflow)
            rule.param, rule.kept = True, frozenset(kept)
            rule.children[_PARAM] = self._learn(merged, (*prefix, self.config.placeholder), final)
            for key in kept:
                rule.children[key] = self._learn(node.children[key], (*prefix, key), final)
            return rule
        for key, child in node.children.items():
            sub = self._learn(child, (*prefix, key), final)
            if sub.param or sub.children:
                rule.children[key] = sub
        return rule

    def rules(self) -> list[tuple[tuple[str, ...], frozenset[str]]]:
        """The parameter positions learned so far: (templated prefix, kept values)."""
        out: list[tuple[tuple[str, ...], frozenset[str]]] = []
        _positions(self._learn(self._root, (), True), (), self.config.placeholder, out)
        return out

    # -- mapping ------------------------------------------------------------------------------
    def apply(
        self, routes: pa.Array | pa.ChunkedArray, final: bool = False
    ) -> pa.Array | pa.ChunkedArray:
        """``routes`` mapped through the rules learned so far, which are remembered as used.

        ``final`` says no rows come after these: every parameter is decided now.
        """
        if not self.config.learn:
            return routes
        positions: list[tuple[tuple[str, ...], frozenset[str]]] = []
        _positions(self._learn(self._root, (), final), (), self.config.placeholder, positions)
        key = tuple(sorted(positions, key=lambda p: p[0]))
        self._applied.add(key)
        for prefix, kept in positions:
            self._frozen[prefix] = kept
        self._use(key)
        return self.map_array(routes)

    def _use(self, key: tuple[tuple[tuple[str, ...], frozenset[str]], ...]) -> None:
        """Map with the parameters ``key`` from now on (shallow positions first)."""
        if key != self._key:
            self._key = key
            ordered = sorted(key, key=lambda p: len(p[0]))
            self._mapping = [
                _Position(prefix, kept, self.config.placeholder) for prefix, kept in ordered
            ]

    def map_array(self, routes: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        """``routes`` mapped through the rules last applied (no learning, nothing remembered).

        Vectorised: one regular-expression pass over the array per parameter (in C).
        """
        if not self._mapping:
            return routes
        if isinstance(routes, pa.ChunkedArray):
            return pa.chunked_array([self.map_array(c) for c in routes.chunks], type=routes.type)
        out = routes
        for position in self._mapping:
            out = position.map_array(out)
        if self.pinned:
            out = pc.if_else(pc.is_in(routes, pa.array(sorted(self.pinned))), routes, out)
        return out

    def route(self, route: str) -> str:
        """One route mapped through the rules last applied (as :meth:`map_array` does)."""
        if route in self.pinned:
            return route
        for position in self._mapping:
            route = position.map(route)
        return route

    def needs_rewrite(self) -> bool:
        """Whether rows were written under rules other than the final ones (call at the end).

        When they were, the final rules are the ones :meth:`map_array` uses from now on.
        """
        if not self.config.learn or not self._applied:
            return False
        positions: list[tuple[tuple[str, ...], frozenset[str]]] = []
        _positions(self._learn(self._root, (), True), (), self.config.placeholder, positions)
        final = tuple(sorted(positions, key=lambda p: p[0]))
        if self._applied == {final}:
            return False
        self._use(final)
        return True

    def report(self) -> list[LearnedRoute]:
        """The learned parameters, for the capture's metadata."""
        if not self.config.learn:
            return []
        out = []
        for prefix, kept, node in self._report_nodes():
            values = [k for k in node.children if _is_value(k)]
            template = "/" + "/".join((*prefix, self.config.placeholder))
            out.append(
                LearnedRoute(
                    template=template,
                    distinct=len(values) + node.overflow_distinct,
                    requests=sum(c.count for c in node.children.values())
                    + (node.overflow.count if node.overflow else 0),
                    kept=sorted(kept),
                )
            )
        return out

    def _report_nodes(self) -> list[tuple[tuple[str, ...], frozenset[str], _Node]]:
        found: list[tuple[tuple[str, ...], frozenset[str], _Node]] = []
        self._walk(self._root, self._learn(self._root, (), True), (), found)
        return sorted(found, key=lambda item: item[0])

    def _walk(
        self,
        node: _Node,
        rule: _Rule,
        prefix: tuple[str, ...],
        found: list[tuple[tuple[str, ...], frozenset[str], _Node]],
    ) -> None:
        if rule.param:
            found.append((prefix, rule.kept, node))
            merged = _Node()
            for key, child in node.children.items():
                if key not in rule.kept:
                    merged.absorb(child)
            if node.overflow is not None:
                merged.absorb(node.overflow)
            sub = rule.children.get(_PARAM)
            if sub is not None:
                self._walk(merged, sub, (*prefix, self.config.placeholder), found)
            for key in rule.kept:
                if key in rule.children:
                    self._walk(node.children[key], rule.children[key], (*prefix, key), found)
            return
        for key, below in rule.children.items():
            next_node = node.children.get(key)
            if next_node is not None:
                self._walk(next_node, below, (*prefix, key), found)

    @property
    def truncated(self) -> bool:
        """Whether the node budget ran out (later structure was not learned)."""
        return self._full


def _positions(
    rule: _Rule,
    prefix: tuple[str, ...],
    placeholder: str,
    out: list[tuple[tuple[str, ...], frozenset[str]]],
) -> None:
    if rule.param:
        out.append((prefix, rule.kept))
    for key, child in rule.children.items():
        _positions(child, (*prefix, placeholder if key == _PARAM else key), placeholder, out)
