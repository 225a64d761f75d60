"""The SQL script filter: what is skipped, what is kept, where errors point (fast, no server)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from harness.errors import StackFileError
from harness.stack.sqlscript import ScriptFilter, dump_kind


def _run(text: str) -> tuple[list[str], ScriptFilter]:
    script = ScriptFilter(Path("dump.sql"))
    raw = [line.encode() for line in text.splitlines(keepends=True)]
    out = [line.decode() for line in script.lines(raw)]
    assert len(out) == len(raw)  # line numbers stay those of the file
    return out, script


def test_owner_grant_and_database_statements_become_empty_lines() -> None:
    out, script = _run(
        "CREATE DATABASE shop WITH TEMPLATE = template0;\r\n"
        "ALTER DATABASE shop OWNER TO prod;\n"
        "\\connect shop\n"
        "SET SESSION AUTHORIZATION 'prod';\n"
        "CREATE TABLE t (id int);\n"
        "ALTER TABLE public.t OWNER TO prod;\n"
        "GRANT SELECT ON TABLE public.t TO reader;\n"
        "REVOKE ALL ON SCHEMA public FROM PUBLIC;\n"
        "ALTER DEFAULT PRIVILEGES FOR ROLE prod GRANT ALL ON TABLES TO app;\n"
        "COMMENT ON DATABASE shop IS 'x';\n"
    )
    assert out == ["\r\n", "\n", "\n", "\n", "CREATE TABLE t (id int);\n", *["\n"] * 5]
    assert script.skipped == {"database": 3, "ownership": 3, "privileges": 3}


def test_copy_data_quotes_comments_and_bodies_are_left_alone() -> None:
    text = (
        "COPY public.t (a) FROM stdin;\n"
        "GRANT ALL ON t TO x;\n"  # a data row
        "\\restrict in data\n"
        "\\.\n"
        "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $fn$\n"
        "BEGIN\n"
        "GRANT ALL ON t TO x;\n"
        "END $fn$;\n"
        "COMMENT ON TABLE t IS 'it''s\n"
        "ALTER TABLE t OWNER TO x;\n"
        "done';\n"
        "/* a block\n"
        "GRANT ALL ON t TO x;\n"
        "*/ SELECT 1;\n"
        'CREATE TABLE "odd;name" (\n'
        "GRANT int);\n"
        "-- GRANT ALL ON t TO x; in a comment: the next line starts a statement\n"
        "GRANT ALL ON t TO x;\n"
    )
    out, script = _run(text)
    assert out == [*text.splitlines(keepends=True)[:-1], "\n"]
    assert script.skipped == {"privileges": 1}


def test_restrict_lines_are_handled_and_guard_meta_commands() -> None:
    out, _ = _run("\\restrict Ab1\nSELECT 1;\n\\unrestrict Ab1\n\\set ON_ERROR_STOP on\n")
    assert out == ["\n", "SELECT 1;\n", "\n", "\\set ON_ERROR_STOP on\n"]
    with pytest.raises(StackFileError, match=r"^dump\.sql:3: psql meta-command \\i inside"):
        _run("\\restrict Ab1\nSELECT 1;\n\\i other.sql\n")


def test_second_connect_is_pg_dumpall() -> None:
    with pytest.raises(StackFileError, match=r"^dump\.sql:4: a second \\connect: .*pg_dumpall"):
        _run("\\connect a\nSELECT 1;\n\n\\connect b\n")


def test_dump_kinds(tmp_path: Path) -> None:
    (tmp_path / "plain.sql").write_text("SELECT 1;\n")
    (tmp_path / "c.dump").write_bytes(b"PGDMP\x01\x0f\x00")
    (tmp_path / "z.sql.gz").write_bytes(gzip.compress(b"SELECT 1;\n"))
    tar = bytearray(512)
    tar[257:262] = b"ustar"
    (tmp_path / "t.tar").write_bytes(bytes(tar))
    (tmp_path / "d").mkdir()
    kinds = {p.name: dump_kind(p) for p in tmp_path.iterdir()}
    assert kinds == {
        "plain.sql": "plain",
        "c.dump": "custom",
        "z.sql.gz": "gzip",
        "t.tar": "tar",
        "d": "directory",
    }
