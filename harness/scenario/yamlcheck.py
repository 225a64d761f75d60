"""What a YAML file a user writes must pass before it becomes Python data: limits and strictness.

PyYAML's ``SafeLoader`` on its own accepts documents that either exhaust the machine or mean
something other than what was written:

- an alias bomb ("billion laughs": nine aliases of nine aliases of ...) is a few hundred bytes
  that expand to billions of nodes once anything walks them;
- a self-referencing alias (``a: &x [*x]``) or thousands of nested levels end in a
  ``RecursionError``;
- a key written twice silently keeps the last value (``speed`` twice; a target defined twice);
- ``.nan``, ``.inf`` and integers beyond 64 bits are numbers that no timeline or toxic can use
  (and a date such as ``2024-02-30`` fails to build, far from its line).

:class:`BoundedLoader` composes the document with a nesting limit (so the limit fails before the
recursion does), :func:`check_expansion` measures the node graph with aliases expanded (without
expanding it) and refuses cycles and bombs, and :func:`node_findings` lists duplicate keys and
unusable numbers of one node. Every failure names the line. The limits are in
:class:`YamlLimits` and documented in docs/scenarios.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import yaml
from yaml.composer import ComposerError

_FLOAT_TAG = "tag:yaml.org,2002:float"
_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
#: Integers a YAML file may hold: what a signed 64-bit field (toxiproxy, Arrow, JSON) can take.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class YamlLimits:
    """Limits on a YAML file (scenario, stack, capture config); see docs/scenarios.md."""

    #: largest file read
    max_bytes: int = 4 << 20
    #: deepest nesting of mappings and sequences
    max_depth: int = 64
    #: most nodes in the document once every alias is expanded
    max_nodes: int = 100_000


DEFAULT_LIMITS = YamlLimits()


class YamlLimitError(ComposerError):
    """A document over one of the limits, or with a recursive alias; names the line."""


class BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses nesting deeper than ``max_depth`` while composing."""

    def __init__(self, stream: str, max_depth: int = DEFAULT_LIMITS.max_depth) -> None:
        super().__init__(stream)
        self._depth = 0
        self._max_depth = max_depth

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Compose one node, counting nesting (an alias adds none: it is checked later)."""
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        if self._depth >= self._max_depth:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise YamlLimitError(None, None, f"nested deeper than {self._max_depth} levels", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def children(node: yaml.Node) -> list[yaml.Node]:
    """The nodes directly under ``node`` (keys and values of a mapping)."""
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_expansion(root: yaml.Node, max_nodes: int) -> None:
    """Refuse a recursive alias, or a graph over ``max_nodes`` nodes with aliases expanded.

    Aliases make the composed document a graph that shares nodes; its expanded size is
    computed bottom-up once per node (iteratively: no recursion limit), never by expanding.
    """
    size: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        key = id(node)
        if leaving:
            entered.discard(key)
            total = 1 + sum(size[id(child)] for child in children(node))
            if total > max_nodes:
                raise YamlLimitError(
                    None,
                    None,
                    f"more than {max_nodes} nodes once aliases are expanded (an alias bomb?)",
                    node.start_mark,
                )
            size[key] = total
            continue
        if key in size:
            continue
        entered.add(key)
        stack.append((node, True))
        for child in children(node):
            if id(child) in entered:  # an ancestor: the alias refers to a node containing it
                raise YamlLimitError(
                    None, None, "recursive alias (a node that contains itself)", child.start_mark
                )
            if id(child) not in size:
                stack.append((child, False))


def node_findings(loader: yaml.SafeLoader, node: yaml.Node) -> list[tuple[str | None, int, str]]:
    """What is wrong with ``node`` itself: ``(key or None, line, message)`` for each problem.

    A mapping's key given twice (merge keys ``<<`` aside: overriding them is what they are
    for); a float that is not finite; an integer beyond 64 bits or too long to read.
    """
    found: list[tuple[str | None, int, str]] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            line = key_node.start_mark.line + 1
            ident = (key_node.tag, key_node.value)
            if ident not in first:
                first[ident] = line
                continue
            found.append(
                (
                    key_node.value,
                    line,
                    f"duplicate key {key_node.value!r} (first at line {first[ident]}): "
                    "one would silently replace the other",
                )
            )
    elif isinstance(node, yaml.ScalarNode) and node.tag in (_FLOAT_TAG, _INT_TAG):
        message = _number_problem(loader, node)
        if message is not None:
            found.append((None, node.start_mark.line + 1, message))
    elif isinstance(node, yaml.ScalarNode) and node.tag == _TIMESTAMP_TAG:
        try:
            loader.construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            found.append((None, node.start_mark.line + 1, f"{node.value} is not a valid date"))
    return found


def _number_problem(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str | None:
    text = node.value if len(node.value) <= 40 else node.value[:37] + "..."
    try:
        if node.tag == _FLOAT_TAG:
            value = loader.construct_yaml_float(node)
            return None if math.isfinite(value) else f"{text} is not a finite number"
        number = loader.construct_yaml_int(node)
    except (ValueError, OverflowError):
        return f"{text} is not a number this tool can hold"
    if not INT_MIN <= number <= INT_MAX:
        return f"{text} is out of range (a 64-bit integer at most)"
    return None
