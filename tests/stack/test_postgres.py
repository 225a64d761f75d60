"""Template cloning, DSNs and errors, on the session's real PostgreSQL (embedded and external)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness.errors import DatabaseError
from harness.stack.postgres import (
    EmbeddedPostgres,
    ExternalPostgres,
    Postgres,
    open_postgres,
    to_url,
)

SCHEMA = """
CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance_cents bigint NOT NULL);
INSERT INTO accounts SELECT i, 'owner-' || i, i * 100 FROM generate_series(1, 50) AS i;
CREATE TABLE payments (id serial PRIMARY KEY, account_id int REFERENCES accounts (id));
"""


@pytest.fixture(params=["embedded", "external"])
def server(request: pytest.FixtureRequest, postgres: EmbeddedPostgres) -> Iterator[Postgres]:
    """The session's server, used directly and as an external server given by its DSN."""
    if request.param == "embedded":
        yield postgres
        return
    with ExternalPostgres(postgres.dsn("postgres")) as external:
        yield external


@pytest.fixture
def names(request: pytest.FixtureRequest, server: Postgres) -> Iterator[tuple[str, str, str]]:
    """A template and two target database names unique to the test; dropped afterwards."""
    stem = "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[-40:]
    found = (f"{stem}_tpl", f"{stem}_a", f"{stem}_b")
    yield found
    for name in found:
        server.drop(name)


def rows(pg: Postgres, dbname: str, sql: str = "SELECT * FROM accounts ORDER BY id") -> list[tuple]:
    return pg.query(dbname, sql)


def test_clones_of_one_template_hold_equal_data(
    server: Postgres, names: tuple[str, str, str]
) -> None:
    template, a, b = names
    server.create_template(template, SCHEMA)
    server.clone(template, a)
    server.clone(template, b)

    assert len(rows(server, a)) == 50
    assert rows(server, a) == rows(server, b)


def test_a_write_to_one_clone_is_not_visible_in_the_other(
    server: Postgres, names: tuple[str, str, str]
) -> None:
    template, a, b = names
    server.create_template(template, SCHEMA)
    server.clone(template, a)
    server.clone(template, b)

    server.execute(
        a, "INSERT INTO payments (account_id) VALUES (1); DELETE FROM accounts WHERE id > 40"
    )

    assert server.query(a, "SELECT count(*) FROM payments") == [(1,)]
    assert server.query(b, "SELECT count(*) FROM payments") == [(0,)]
    assert server.query(b, "SELECT count(*) FROM accounts") == [(50,)]


def test_cloning_again_resets_the_data_and_closes_open_sessions(
    server: Postgres, names: tuple[str, str, str]
) -> None:
    template, a, _ = names
    server.create_template(template, SCHEMA)
    server.clone(template, a)
    server.execute(a, "UPDATE accounts SET balance_cents = 0")
    # A target still connected must not block the reset (DROP ... WITH (FORCE)).
    with psycopg.connect(server.dsn(a)) as open_session:
        server.clone(template, a)
        with pytest.raises(psycopg.OperationalError):
            open_session.execute("SELECT 1")

    assert server.query(a, "SELECT sum(balance_cents) FROM accounts") == [(127500,)]


def test_template_is_marked_and_refuses_connections(
    server: Postgres, names: tuple[str, str, str]
) -> None:
    template, _, _ = names
    server.create_template(template, SCHEMA)

    flags = server.query(
        server.admin_db,
        "SELECT datistemplate, datallowconn FROM pg_database WHERE datname = %s",
        (template,),
    )
    assert flags == [(True, False)]
    with pytest.raises(DatabaseError, match="not currently accepting connections"):
        server.query(template, "SELECT 1")


def test_create_template_again_replaces_it(server: Postgres, names: tuple[str, str, str]) -> None:
    template, a, _ = names
    server.create_template(template, SCHEMA)
    server.create_template(
        template, "CREATE TABLE only_this (x int); INSERT INTO only_this VALUES (7)"
    )
    server.clone(template, a)

    assert server.query(a, "SELECT x FROM only_this") == [(7,)]
    assert server.query(a, "SELECT to_regclass('accounts') IS NULL") == [(True,)]


def test_bad_template_sql_is_one_line_error_and_leaves_no_database(
    server: Postgres, names: tuple[str, str, str]
) -> None:
    template, _, _ = names

    with pytest.raises(DatabaseError) as caught:
        server.create_template(template, "CREATE TABLE t (x int);\nINSERT INTO nope VALUES (1);")

    message = str(caught.value)
    assert "\n" not in message
    assert repr(template) in message
    assert 'relation "nope" does not exist' in message
    exists = "SELECT count(*) FROM pg_database WHERE datname = %s"
    assert server.query(server.admin_db, exists, (template,)) == [(0,)]


def test_query_with_parameters_and_without_rows(
    server: Postgres, names: tuple[str, str, str]
) -> None:
    template, a, _ = names
    server.create_template(template, SCHEMA)
    server.clone(template, a)

    found = server.query(a, "SELECT owner FROM accounts WHERE id = %s AND owner LIKE %s", (3, "%3"))
    assert found == [("owner-3",)]
    assert server.query(a, "UPDATE accounts SET owner = 'x' WHERE id = %s", (3,)) == []


def test_version_is_major_dot_minor(server: Postgres) -> None:
    assert server.version() == "16.2"


def test_protected_databases_are_refused(server: Postgres) -> None:
    for name in ("postgres", "template1", "x" * 64, ""):
        with pytest.raises(DatabaseError):
            server.clone("template0", name)


def test_embedded_dsn_and_host_port_override(postgres: EmbeddedPostgres) -> None:
    assert postgres.dsn("db1") == f"postgresql://postgres@127.0.0.1:{postgres.port}/db1"
    assert postgres.dsn("db1", host="127.0.0.2", port=25001) == (
        "postgresql://postgres@127.0.0.2:25001/db1"
    )
    # The override is what a target uses to go through its proxy: here, straight back.
    with psycopg.connect(postgres.dsn("postgres", host="127.0.0.1", port=postgres.port)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("postgres",)


def test_external_dsn_swaps_dbname_host_and_port_only() -> None:
    given = "host=db.internal port=6432 user=app password=p@ss/w dbname=admin sslmode=disable"
    external = ExternalPostgres(given)

    assert (external.host, external.port, external.user, external.admin_db) == (
        "db.internal",
        6432,
        "app",
        "admin",
    )
    swapped = external.dsn("target_a", host="127.0.0.1", port=21000)
    assert psycopg.conninfo.conninfo_to_dict(swapped) == {
        "host": "127.0.0.1",
        "port": "21000",
        "user": "app",
        "password": "p@ss/w",
        "dbname": "target_a",
        "sslmode": "disable",
    }
    assert external.dsn("b").startswith("postgresql://app:p%40ss%2Fw@db.internal:6432/b?")


def test_url_of_a_unix_socket_keeps_the_directory_in_the_query() -> None:
    url = to_url({"host": "/run/postgresql", "port": "5433", "dbname": "x"})
    assert psycopg.conninfo.conninfo_to_dict(url) == {
        "host": "/run/postgresql",
        "port": "5433",
        "dbname": "x",
    }


def test_bad_dsn_is_one_line_database_error() -> None:
    with pytest.raises(DatabaseError, match=r"^invalid PostgreSQL DSN: ") as caught:
        ExternalPostgres("this is not a dsn")
    assert "\n" not in str(caught.value)


def test_unreachable_server_is_one_line_database_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        external = ExternalPostgres(f"postgresql://postgres@127.0.0.1:{port}/postgres")
        with pytest.raises(DatabaseError) as caught:
            external.start()

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"PostgreSQL 127.0.0.1:{port}, database 'postgres': ")
    assert "refused" in message


def test_open_postgres_picks_external_or_embedded(tmp_path: Path) -> None:
    external = open_postgres("postgresql://u@h:1/d", tmp_path)
    embedded = open_postgres(None, tmp_path)

    assert isinstance(external, ExternalPostgres)
    assert isinstance(embedded, EmbeddedPostgres)
    assert embedded.log_path == tmp_path / "postgres" / "postgres.log"
    assert embedded.pid is None  # not started by open_postgres


def test_importing_the_module_does_not_import_psycopg() -> None:
    code = "import sys, harness.stack.postgres; print('psycopg' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
