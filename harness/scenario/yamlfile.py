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

from harness.errors import InputError

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


@dataclass
class YamlDocument:
    """A parsed YAML document and the line (1-based) of every key and list item in it."""

    path: Path
    data: object
    error_cls: type[InputError]
    lines: dict[Loc, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, error_cls: type[InputError]) -> YamlDocument:
        """Read and parse ``path``; raise ``error_cls`` naming the file (and line) on failure."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise error_cls(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise error_cls(f"{path}: cannot read: {exc}") from None
        return cls.from_text(text, path, error_cls)

    @classmethod
    def from_text(cls, text: str, path: Path, error_cls: type[InputError]) -> YamlDocument:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = exc.problem or exc.context or "invalid YAML"
            raise error_cls(f"{path}{line}: invalid YAML: {problem}") from None
        except yaml.YAMLError as exc:
            raise error_cls(f"{path}: invalid YAML: {exc}") from None
        finally:
            loader.dispose()
        doc = cls(path=path, data=data, error_cls=error_cls)
        if node is not None:
            doc._index(node, ())
        return doc

    def _index(self, node: yaml.Node, loc: Loc) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = (
                    key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
                )
                self.lines[(*loc, key)] = key_node.start_mark.line + 1
                self._index(value_node, (*loc, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[(*loc, i)] = item.start_mark.line + 1
                self._index(item, (*loc, i))

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """Line of the deepest known prefix of ``loc`` (None for an empty document)."""
        parts = tuple(loc)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return min(self.lines.values(), default=None)

    def where(self, loc: Sequence[str | int]) -> str:
        """``file:line`` for ``loc``."""
        line = self.line_of(loc)
        return f"{self.path}:{line}" if line is not None else str(self.path)

    def fail(self, loc: Sequence[str | int], message: str) -> InputError:
        """An error of this document's kind at ``loc``, ready to raise."""
        dotted = ".".join(str(p) for p in loc)
        prefix = f"{dotted}: " if dotted else ""
        return self.error_cls(f"{self.where(loc)}: {prefix}{message}")

    def validate(self, model: type[M]) -> M:
        """Validate the document into ``model``; the first error names its file and line."""
        if self.data is None:
            raise self.error_cls(f"{self.path}: the file is empty")
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


def _short_message(kind: str, msg: str, loc: Loc) -> str:
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}" if loc else "unknown key"
    if kind == "missing":
        return "required key is missing"
    return msg.removeprefix("Value error, ")
