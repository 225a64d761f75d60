"""Read the command lines and YAML examples out of README.md and docs/*.md.

A command line is a line of a fenced ``sh``/``console`` (or ``shell``/``bash``) block: a ``$ ``
prompt is dropped, ``\\`` continuations are joined, ``#`` comments are kept apart (a comment
``# exits N`` says which exit code the line must end with), leading ``VAR=value`` assignments
become the line's environment, and ``&&``, ``||``, ``;`` and ``|`` split it into commands.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGS = frozenset({"sh", "console", "shell", "bash"})
#: pages whose commands their owner runs elsewhere: parsed here, never run
PARSE_ONLY_PAGES = frozenset({"docs/chaos.md"})

_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_EXITS = re.compile(r"#.*\bexits? (\d+)")
_OPERATORS = frozenset({"&&", "||", ";", "|", "&"})


@dataclass(frozen=True)
class Block:
    """One fenced code block: its page, first line number, language and text."""

    page: str
    line: int
    lang: str
    text: str


@dataclass
class Command:
    """One command of a documented command line."""

    page: str
    line: int
    text: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    exits: int | None = None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def key(self) -> str:
        """``validate``, ``stack up``, ``capture import``... (the command without options)."""
        args = self.argv[1:]
        if args and args[0] in ("stack", "capture") and len(args) > 1:
            return f"{args[0]} {args[1]}"
        return args[0] if args else ""


def pages() -> list[Path]:
    """README.md, every docs/*.md and scenarios/README.md, in a fixed order."""
    docs = sorted((ROOT / "docs").glob("*.md"))
    return [ROOT / "README.md", *docs, ROOT / "scenarios" / "README.md"]


def page_name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page."""
    out: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, lang, start = match.group(2), match.group(3).lower(), i + 1
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        out.append(Block(page_name(path), start + 1, lang, "\n".join(body) + "\n"))
        i += 1
    return out


def commands(block: Block) -> list[Command]:
    """The commands of a shell block (see the module docstring)."""
    if block.lang not in SHELL_LANGS:
        return []
    out: list[Command] = []
    pending, first = "", 0
    for offset, raw in enumerate(block.text.splitlines()):
        line = raw.strip()
        if not pending:
            first = block.line + offset
            if block.lang == "console" and not line.startswith("$ "):
                continue  # output of the previous command
            line = line.removeprefix("$ ")
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text, pending = pending + line, ""
        if text and not text.startswith("#"):
            out.extend(_split(block.page, first, text))
    return out


def _split(page: str, line: int, text: str) -> list[Command]:
    exits = _EXITS.search(text)
    lexer = shlex.shlex(text, posix=True, punctuation_chars="&|;")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    tokens = list(lexer)
    out: list[Command] = []
    current: list[str] = []
    for token in [*tokens, ";"]:
        if token not in _OPERATORS:
            current.append(token)
            continue
        env = {}
        while current and _ASSIGNMENT.match(current[0]):
            name, _, value = current.pop(0).partition("=")
            env[name] = value
        if current:
            code = int(exits.group(1)) if exits else None
            out.append(Command(page, line, text, current, env, code))
        current = []
    return out


def all_commands(program: str) -> list[Command]:
    """Every documented command that starts with ``program`` (``harness``, ``make``)."""
    found = []
    for path in pages():
        for block in blocks(path):
            found += [c for c in commands(block) if c.argv[0] == program]
    return found


def yaml_blocks() -> list[Block]:
    """Every fenced YAML block of the pages."""
    return [b for path in pages() for b in blocks(path) if b.lang in ("yaml", "yml")]


def named_path(block: Block) -> str | None:
    """The file a YAML block shows, from a first line like ``# stacks/orders.yaml: ...``."""
    first = block.text.splitlines()[0] if block.text.strip() else ""
    match = re.match(r"#\s*([\w./-]+\.ya?ml)\b", first)
    return match.group(1) if match else None
