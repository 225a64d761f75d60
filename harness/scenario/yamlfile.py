"""Load YAML files that users write and validate them into pydantic models, with line numbers.

Every error names the file and the line of the offending key, in one line::

    stacks/payments.yaml:12: targets.baseline.health: Input should be a valid string

>>> doc = YamlDocument.from_text("a: 1\\nb:\\n  c: x\\n", Path("f.yaml"), ScenarioError)
>>> doc.line_of(("b", "c"))
3
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import InputError, printable
from harness.scenario.yamlcheck import (
    DEFAULT_LIMITS,
    BoundedLoader,
    YamlLimits,
    check_expansion,
    node_findings,
)

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


@dataclass
class YamlDocument:
    """A parsed YAML document and the line (1-based) of every key and list item in it.

    ``findings`` are problems of the text itself that still let it parse (a duplicate key, a
    number that is not finite): ``(loc, line, message)``. :meth:`validate` refuses them;
    ``harness lint`` lists them all.
    """

    path: Path
    data: object
    error_cls: type[InputError]
    lines: dict[Loc, int] = field(default_factory=dict)
    findings: list[tuple[Loc, int, str]] = field(default_factory=list)
    #: line of the document's first node (1 when empty)
    root_line: int = 1

    @classmethod
    def load(
        cls, path: Path, error_cls: type[InputError], limits: YamlLimits = DEFAULT_LIMITS
    ) -> YamlDocument:
        """Read and parse ``path``; raise ``error_cls`` naming the file (and line) on failure."""
        return cls.from_text(cls.read_text(path, error_cls, limits), path, error_cls, limits)

    @staticmethod
    def read_text(
        path: Path, error_cls: type[InputError], limits: YamlLimits = DEFAULT_LIMITS
    ) -> str:
        """The text of ``path``: at most ``limits.max_bytes``, UTF-8 (a BOM is allowed)."""
        name = printable(str(path))
        try:
            with path.open("rb") as fo:
                raw = fo.read(limits.max_bytes + 1)
        except FileNotFoundError:
            raise error_cls(f"{name}: no such file") from None
        except IsADirectoryError:
            raise error_cls(f"{name}: is a directory, not a file") from None
        except OSError as exc:
            raise error_cls(f"{name}: cannot read: {exc.strerror}") from None
        if len(raw) > limits.max_bytes:
            raise error_cls(
                f"{name}: byte {limits.max_bytes}: larger than {limits.max_bytes >> 20} MiB, "
                "more than a file a person writes"
            )
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            raise error_cls(
                f"{name}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {column})"
            ) from None
        return text

    @classmethod
    def from_text(
        cls,
        text: str,
        path: Path,
        error_cls: type[InputError],
        limits: YamlLimits = DEFAULT_LIMITS,
    ) -> YamlDocument:
        """Parse ``text`` (read from ``path``) within ``limits``; errors name the line."""
        name = printable(str(path))
        loader: BoundedLoader | None = None
        doc = cls(path=path, data=None, error_cls=error_cls)
        try:
            loader = BoundedLoader(text, limits.max_depth)
            node = loader.get_single_node()
            if node is not None:
                check_expansion(node, limits.max_nodes)
                doc.root_line = node.start_mark.line + 1
                doc._index(loader, node)
                doc.data = loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            at = f":{mark.line + 1}" if mark is not None else ""
            problem = exc.problem or exc.context or "invalid YAML"
            raise error_cls(f"{name}{at}: invalid YAML: {printable(problem)}") from None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            raise error_cls(
                f"{name}:{line}: invalid YAML: character {chr(exc.character)!r} is not allowed"
            ) from None
        except yaml.YAMLError as exc:
            raise error_cls(f"{name}: invalid YAML: {printable(str(exc))}") from None
        except (ValueError, OverflowError) as exc:
            # a value the safe constructor cannot build: a number found unusable already (it
            # has a line), or a date such as 2024-02-30
            found = doc.text_problems()
            if found:
                raise error_cls(f"{found[0][0]}: {found[0][1]}") from None
            raise error_cls(f"{name}: invalid YAML value: {printable(str(exc))}") from None
        finally:
            if loader is not None:
                loader.dispose()
        return doc

    def _index(self, loader: yaml.SafeLoader, root: yaml.Node) -> None:
        """Lines of every key and item (aliases expanded: the graph is bounded by now), and the
        findings of every node (once per node, at the first place it appears)."""
        checked: set[int] = set()
        todo: list[tuple[yaml.Node, Loc]] = [(root, ())]
        while todo:
            node, loc = todo.pop()
            if id(node) not in checked:
                checked.add(id(node))
                for key, line, message in node_findings(loader, node):
                    self.findings.append(((*loc, key) if key is not None else loc, line, message))
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in reversed(node.value):
                    scalar = isinstance(key_node, yaml.ScalarNode)
                    key = key_node.value if scalar else "<complex key>"
                    self.lines.setdefault((*loc, key), key_node.start_mark.line + 1)
                    todo.append((value_node, (*loc, key)))
                    if not scalar:
                        todo.append((key_node, (*loc, key)))
            elif isinstance(node, yaml.SequenceNode):
                for i in reversed(range(len(node.value))):
                    item = node.value[i]
                    self.lines[(*loc, i)] = item.start_mark.line + 1
                    todo.append((item, (*loc, i)))
        self.findings.sort(key=lambda finding: finding[1])

    def line_of(self, loc: Sequence[str | int]) -> int:
        """Line of the deepest known prefix of ``loc`` (the document's first line if none)."""
        parts = tuple(loc)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.root_line

    def where(self, loc: Sequence[str | int]) -> str:
        """``file:line`` for ``loc``."""
        return f"{printable(str(self.path))}:{self.line_of(loc)}"

    def fail(self, loc: Sequence[str | int], message: str) -> InputError:
        """An error of this document's kind at ``loc``, ready to raise."""
        dotted = ".".join(str(p) for p in loc)
        prefix = f"{dotted}: " if dotted else ""
        return self.error_cls(f"{self.where(loc)}: {prefix}{message}")

    def shape_problem(self) -> tuple[str, str] | None:
        """``(file:line, message)`` when the document is not a mapping (empty, a scalar, a list)."""
        if isinstance(self.data, dict):
            return None
        where = f"{printable(str(self.path))}:{self.root_line}"
        if self.data is None:
            return where, "the file is empty (expected a mapping such as `name: ...`)"
        kind = "a list" if isinstance(self.data, list) else f"a single value ({_kind(self.data)})"
        return where, f"expected a mapping of keys at the top (such as `name: ...`), got {kind}"

    def text_problems(self) -> list[tuple[str, str]]:
        """``(file:line, message)`` of every finding (duplicate keys, unusable numbers)."""
        out = []
        for loc, line, message in self.findings:
            dotted = ".".join(str(p) for p in loc)
            prefix = f"{dotted}: " if dotted else ""
            out.append((f"{printable(str(self.path))}:{line}", prefix + message))
        return out

    def validate(self, model: type[M]) -> M:
        """Validate the document into ``model``; the first error names its file and line."""
        problems = self.text_problems()
        shape = self.shape_problem()
        if shape is not None:
            problems.insert(0, shape)
        if problems:
            where, message = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise self.error_cls(f"{where}: {message}{more}")
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise self._from_validation(exc) from None

    def _from_validation(self, exc: ValidationError) -> InputError:
        errors = exc.errors(include_url=False)
        first = errors[0]
        loc = tuple(p for p in first["loc"] if isinstance(p, str | int))
        message = _short_message(first["type"], first["msg"], loc)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return self.fail(loc, message + more)


def _kind(value: object) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


def _short_message(kind: str, msg: str, loc: Loc) -> str:
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}" if loc else "unknown key"
    if kind == "missing":
        return "required key is missing"
    return printable(msg.removeprefix("Value error, "))
