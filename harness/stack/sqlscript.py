"""Plain SQL and ``pg_dump`` scripts, made ready for loading into the template database.

``psql`` runs the script (so its meta-commands, ``COPY ... FROM stdin`` data and errors with
line numbers all work); this module streams the script to it line by line and changes a few
statements on the way, the way ``pg_restore --no-owner --no-privileges`` would for an archive:

- ``\\restrict KEY`` / ``\\unrestrict KEY`` (written by pg_dump since 17.6, 16.10, 15.14...) are
  handled here, since older psql binaries do not know them: between the two, any other
  meta-command is refused, as a current psql would;
- ownership (``ALTER ... OWNER TO``, ``SET SESSION AUTHORIZATION``) and privileges (``GRANT``,
  ``REVOKE``, ``ALTER DEFAULT PRIVILEGES``) are skipped: the roles of production do not exist on
  the staging server, and the targets connect as the harness's own user;
- what ``pg_dump --create`` adds for the database itself (``CREATE/ALTER/DROP DATABASE``,
  ``COMMENT ON DATABASE`` and its one ``\\connect``) is skipped: everything goes into the
  template. A second ``\\connect`` (``pg_dumpall`` output) is refused.

Skipped lines become empty lines, so psql's line numbers stay those of the file.
Statements are recognised only where one starts, outside quotes, comments and ``COPY`` data.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import StackFileError

#: The first bytes of a custom-format archive (``pg_dump -Fc``).
CUSTOM_MAGIC = b"PGDMP"

_SKIP: list[tuple[str, re.Pattern[bytes]]] = [
    ("ownership", re.compile(rb"ALTER\s.+\sOWNER\s+TO\s.+;", re.IGNORECASE)),
    ("ownership", re.compile(rb"(SET|RESET)\s+SESSION\s+AUTHORIZATION\b.*;", re.IGNORECASE)),
    ("privileges", re.compile(rb"(GRANT|REVOKE)\s.+;", re.IGNORECASE)),
    ("privileges", re.compile(rb"ALTER\s+DEFAULT\s+PRIVILEGES\s.+;", re.IGNORECASE)),
    ("database", re.compile(rb"(CREATE|ALTER|DROP)\s+DATABASE\s.+;", re.IGNORECASE)),
    ("database", re.compile(rb"COMMENT\s+ON\s+DATABASE\s.+;", re.IGNORECASE)),
]
_COPY_FROM_STDIN = re.compile(rb"COPY\s.+\sFROM\s+stdin\b.*;", re.IGNORECASE)
_META = re.compile(rb"\\([A-Za-z!?.]+)")
# What can change the lexical state inside a line (outside a quote or comment).
_SPECIAL = re.compile(rb"'|\"|--|/\*|\$([A-Za-z_][A-Za-z0-9_]*)?\$|;")


@dataclass
class ScriptFilter:
    """Streams the lines of one script, changed as the module docstring says.

    >>> f = ScriptFilter(Path("dump.sql"))
    >>> list(f.lines([b"\\\\restrict abc\\n", b"ALTER TABLE t OWNER TO prod;\\n", b"SELECT 1;\\n"]))
    [b'\\n', b'\\n', b'SELECT 1;\\n']
    >>> dict(f.skipped)
    {'restrict': 1, 'ownership': 1}
    """

    path: Path
    skipped: Counter[str] = field(default_factory=Counter)
    _restricted: bool = False
    _connects: int = 0
    _copy: bool = False
    _quote: bytes | None = None  # b"'", b'"', b"*/" or a dollar tag such as b"$body$"
    _pending: bool = False  # statement text seen since the last ';'

    def lines(self, raw: Iterable[bytes]) -> Iterator[bytes]:
        """The script's lines (each with its line ending) as psql should read them."""
        for number, line in enumerate(raw, start=1):
            yield self._line(number, line)

    def _line(self, number: int, line: bytes) -> bytes:
        if self._copy:
            if line.rstrip(b"\r\n") == b"\\.":
                self._copy = False
            return line
        ending = line[len(line.rstrip(b"\r\n")) :]
        text = line.strip()
        if self._quote is None and not self._pending:
            if text.startswith(b"\\"):
                return self._meta(number, text, ending, line)
            for kind, pattern in _SKIP:
                if pattern.fullmatch(text):
                    self.skipped[kind] += 1
                    return ending
            if _COPY_FROM_STDIN.fullmatch(text):
                self._copy = True
                return line
        self._scan(line)
        return line

    def _meta(self, number: int, text: bytes, ending: bytes, line: bytes) -> bytes:
        match = _META.match(text)
        name = match.group(1).decode() if match else text[:20].decode(errors="replace")
        if name in ("restrict", "unrestrict"):
            self._restricted = name == "restrict"
            self.skipped["restrict"] += 1
            return ending
        if self._restricted:
            raise self.error(
                number,
                f"psql meta-command \\{name} inside a \\restrict block: refused (a dump made by "
                "pg_dump never has one there; the file may have been tampered with)",
            )
        if name in ("connect", "c"):
            self._connects += 1
            if self._connects > 1:
                raise self.error(
                    number,
                    "a second \\connect: this looks like pg_dumpall output with several "
                    "databases; dump the one database with `pg_dump` instead",
                )
            self.skipped["database"] += 1
            return ending
        return line

    def _scan(self, line: bytes) -> None:
        """Follow quotes, comments and statement ends through ``line``."""
        pos, end = 0, len(line)
        while pos < end:
            if self._quote is not None:
                close = line.find(self._quote, pos)
                if close < 0:
                    return
                pos = close + len(self._quote)
                if self._quote in (b"'", b'"') and line[pos : pos + 1] == self._quote:
                    pos += 1  # a doubled quote stays inside
                    continue
                self._quote = None
                self._pending = True
                continue
            match = _SPECIAL.search(line, pos)
            if match is None:
                self._pending = self._pending or bool(line[pos:].strip())
                return
            if line[pos : match.start()].strip():
                self._pending = True
            token = match.group(0)
            pos = match.end()
            if token == b"--":
                return
            if token == b";":
                self._pending = False
            elif token == b"/*":
                self._quote = b"*/"
            else:
                self._quote = token
                self._pending = True

    def error(self, number: int, message: str) -> StackFileError:
        """An error naming this script's file and ``number`` (1-based line)."""
        return StackFileError(f"{self.path}:{number}: {message}")


def dump_kind(path: Path) -> str:
    """``directory``, ``custom``, ``tar`` (pg_restore archives), ``gzip`` or ``plain`` (SQL)."""
    if path.is_dir():
        return "directory"
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(CUSTOM_MAGIC):
        return "custom"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return "plain"
