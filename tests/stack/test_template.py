"""The template database from real pg_dump output, archives and migration commands.

Dumps are made by the real `pg_dump` of the embedded server from a database with a function,
a sequence, data and objects owned by (and granted to) roles that are dropped before the
load, as production roles are absent from staging. Plain dumps get the `\\restrict` lines that
pg_dump writes since 17.6 / 16.10, which the bundled psql 16.2 does not know.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import DatabaseError, StackFileError
from harness.scenario.stackfile import Stack, load_stack
from harness.stack.pg_embedded import bin_dir
from harness.stack.postgres import EmbeddedPostgres
from harness.stack.template import build_template

pytestmark = pytest.mark.slow

SOURCE = "tpl_source"
TEMPLATE = "tpl_template"
CLONE = "tpl_clone"
SCHEMA = """
CREATE ROLE tpl_prod_owner;
CREATE ROLE tpl_prod_reader;
CREATE SEQUENCE tag_ids;
CREATE TABLE tags (id int PRIMARY KEY DEFAULT nextval('tag_ids'), name text NOT NULL);
CREATE FUNCTION shout(t text) RETURNS text LANGUAGE plpgsql AS $body$
BEGIN
  IF t IS NULL THEN  -- a line like one the loader skips, inside a function body (kept):
GRANT ALL ON tags TO tpl_prod_reader;
  END IF;
  RETURN upper(t);
END
$body$;
ALTER TABLE tags OWNER TO tpl_prod_owner;
GRANT SELECT ON tags TO tpl_prod_reader;
INSERT INTO tags (name) VALUES ('GRANT ALL ON tags TO x;'), ('dragons'), (E'two\\nlines');
COMMENT ON TABLE tags IS 'it''s the
ALTER TABLE tags OWNER TO x;
tag table';
"""


@pytest.fixture(scope="module")
def dumps(postgres: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """plain.sql (with \\restrict), plain.sql.gz, custom.dump, dir.dump/ of one database."""
    out = tmp_path_factory.mktemp("dumps")
    postgres.create_database(SOURCE)
    postgres.execute(SOURCE, SCHEMA)
    env = postgres.client_env(SOURCE)
    pg_dump = str(bin_dir() / "pg_dump")
    for fmt, name in (("p", "raw.sql"), ("c", "custom.dump"), ("d", "dir.dump")):
        subprocess.run([pg_dump, "-F", fmt, "-f", str(out / name)], env=env, check=True)
    raw = (out / "raw.sql").read_text().splitlines(keepends=True)
    # what pg_dump >= 17.6 writes: \restrict after the header comments, \unrestrict at the end
    first = next(i for i, line in enumerate(raw) if not line.startswith("--") and line.strip())
    text = "".join([*raw[:first], "\\restrict AbC123\n", *raw[first:], "\\unrestrict AbC123\n"])
    (out / "plain.sql").write_text(text)
    (out / "plain.sql.gz").write_bytes(gzip.compress(text.encode()))
    postgres.drop(SOURCE)
    postgres.execute("postgres", "DROP ROLE tpl_prod_owner; DROP ROLE tpl_prod_reader;")
    return out


@pytest.fixture
def stack_dir(tmp_path: Path, dumps: Path) -> Iterator[Path]:
    for item in dumps.iterdir():
        if item.is_dir():
            shutil.copytree(item, tmp_path / item.name)
        else:
            shutil.copy(item, tmp_path / item.name)
    yield tmp_path


def _stack(directory: Path, postgres_yaml: str) -> Stack:
    path = directory / "stack.yaml"
    path.write_text(
        f"name: tpl\npostgres:\n  template: {TEMPLATE}\n{postgres_yaml}"
        "targets:\n  baseline: {command: 'true'}\n"
    )
    return load_stack(path)


def _clone_rows(postgres: EmbeddedPostgres) -> list[tuple[object, ...]]:
    postgres.clone(TEMPLATE, CLONE)
    try:
        body = postgres.query(CLONE, "SELECT prosrc FROM pg_proc WHERE proname = 'shout'")
        assert "\nGRANT ALL ON tags TO tpl_prod_reader;\n" in str(body[0][0])
        return postgres.query(CLONE, "SELECT id, shout(name) FROM tags ORDER BY id")
    finally:
        postgres.drop(CLONE)


EXPECTED = [(1, "GRANT ALL ON TAGS TO X;"), (2, "DRAGONS"), (3, "TWO\nLINES")]


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("init_sql", "plain.sql"),
        ("init_sql", "plain.sql.gz"),
        ("init_dump", "custom.dump"),
        ("init_dump", "dir.dump"),
        ("init_dump", "plain.sql"),  # either key takes either kind: the content decides
    ],
)
def test_dump_loads_without_production_roles(
    postgres: EmbeddedPostgres, stack_dir: Path, key: str, name: str
) -> None:
    log = stack_dir / "logs" / "template.log"
    build_template(postgres, _stack(stack_dir, f"  {key}: {name}\n"), log)
    assert _clone_rows(postgres) == EXPECTED
    comment = postgres.query(
        "postgres", "SELECT datistemplate, datallowconn FROM pg_database WHERE datname = %s",
        (TEMPLATE,),
    )  # fmt: skip
    assert comment == [(True, False)]
    if name.startswith("plain"):
        assert re.search(r"ownership x\d+, privileges x1, restrict x2\n", log.read_text())
        assert "set_config" not in log.read_text()  # query results are not logged


def test_sql_error_names_file_and_line(postgres: EmbeddedPostgres, tmp_path: Path) -> None:
    (tmp_path / "seed.sql").write_text(
        "CREATE TABLE t (id int);\n\nINSERT INTO t\n  VALUES (1, 'too many');\nSELECT 1;\n"
    )
    with pytest.raises(StackFileError) as caught:
        build_template(postgres, _stack(tmp_path, "  init_sql: seed.sql\n"), tmp_path / "t.log")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'seed.sql'}:4: ERROR: INSERT has more expressions")
    assert caught.value.exit_code == 3
    assert "\n" not in message
    # the half-built template is gone
    assert (
        postgres.query("postgres", "SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE,))
        == []
    )


def test_meta_command_inside_restrict_is_refused(
    postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    (tmp_path / "evil.sql").write_text("\\restrict k\nSELECT 1;\n\\! touch pwned\n\\unrestrict k\n")
    with pytest.raises(StackFileError, match=r"evil\.sql:3: psql meta-command \\! inside"):
        build_template(postgres, _stack(tmp_path, "  init_sql: evil.sql\n"), tmp_path / "t.log")
    assert not (tmp_path / "pwned").exists()


def test_broken_archive_is_an_input_error(postgres: EmbeddedPostgres, tmp_path: Path) -> None:
    (tmp_path / "bad.dump").write_bytes(b"PGDMP" + b"\x00" * 40)
    with pytest.raises(StackFileError, match=r"bad\.dump: .*(archive|header)"):
        build_template(postgres, _stack(tmp_path, "  init_dump: bad.dump\n"), tmp_path / "t.log")


def test_archive_error_names_its_entry(postgres: EmbeddedPostgres, stack_dir: Path) -> None:
    # the dump's table already exists in the template: its entry fails
    stack = _stack(stack_dir, "  init_dump: custom.dump\n  init_sql: plain.sql\n")
    with pytest.raises(StackFileError) as caught:
        build_template(postgres, stack, stack_dir / "t.log")
    assert "plain.sql:" in str(caught.value) and "already exists" in str(caught.value)


MIGRATION = """\
import os, sys
import psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute("CREATE TABLE migrated (v text)")
    conn.execute("INSERT INTO migrated VALUES (%s)", (os.environ["MARK"],))
    assert os.environ["PGDATABASE"] == sys.argv[2]
print("migrated", sys.argv[2])
"""


def test_migrations_run_in_order_on_the_template(
    postgres: EmbeddedPostgres, stack_dir: Path
) -> None:
    (stack_dir / "tools").mkdir()
    (stack_dir / "tools" / "migrate.py").write_text(MIGRATION)
    stack = _stack(
        stack_dir,
        "  init_dump: custom.dump\n"
        "  migrate:\n"
        "    - run: '{python} tools/migrate.py {postgres.url} {postgres.dbname}'\n"
        "      env: {MARK: 'from {stack_dir}'}\n"
        '    - "{python} -c \'import os; print(os.environ[\\"PGHOST\\"])\'"\n',
    )
    log = stack_dir / "logs" / "template.log"
    build_template(postgres, stack, log)
    postgres.clone(TEMPLATE, CLONE)
    try:
        rows = postgres.query(CLONE, "SELECT v FROM migrated")
    finally:
        postgres.drop(CLONE)
    assert rows == [(f"from {stack_dir}",)]
    text = log.read_text()
    assert f"migrated {TEMPLATE}" in text
    assert "(exit status 0 after" in text
    assert "\n127.0.0.1\n" in text


def test_failing_migration_is_exit_4_with_its_last_lines(
    postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    stack = _stack(
        tmp_path,
        "  migrate:\n"
        '    - "{python} -c \'print(\\"applying 0042_users\\"); raise SystemExit(3)\'"\n',
    )
    with pytest.raises(DatabaseError) as caught:
        build_template(postgres, stack, tmp_path / "t.log")
    message = str(caught.value)
    assert caught.value.exit_code == 4
    assert message.startswith(f"{tmp_path / 'stack.yaml'}:5: postgres.migrate.0")
    assert "failed with exit status 3" in message
    assert "applying 0042_users" in message
    assert "\n" not in message


def test_missing_migration_program_is_an_input_error(
    postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    stack = _stack(tmp_path, "  migrate: '{stack_dir}/../venv/bin/alembic upgrade head'\n")
    with pytest.raises(StackFileError, match=r"stack\.yaml:4: postgres\.migrate\.0\.run: cannot "
                       r"run: no such file: .*/venv/bin/alembic"):  # fmt: skip
        build_template(postgres, stack, tmp_path / "t.log")


def test_migration_timeout(postgres: EmbeddedPostgres, tmp_path: Path) -> None:
    stack = _stack(
        tmp_path,
        "  migrate:\n    - {run: \"{python} -c 'import time; time.sleep(60)'\", timeout: 1s}\n",
    )
    with pytest.raises(DatabaseError, match="did not finish within 1s"):
        build_template(postgres, stack, tmp_path / "t.log")
