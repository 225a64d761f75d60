"""Stack files: valid forms, build selection, env values, and line-numbered errors."""

import re
from pathlib import Path

import pytest

from harness.errors import StackFileError
from harness.scenario.stackcommands import command_argv
from harness.scenario.stackfile import FromEnv, expand_vars, load_stack

GOOD = """\
name: shop
postgres:
  template: shop_template
  init_sql: schema.sql
builds:
  v1: "{python} app.py --port {port} --dsn {postgres.url}"
  v2: "{python} app.py --port {port} --dsn {postgres.url} --fast"
targets:
  baseline: {build: v1}
  candidate:
    build: "${SHOP_CANDIDATE:-v2}"
    env: {API_TOKEN: {from_env: SHOP_TOKEN, default: dev}}
    headers: {Authorization: {from_env: SHOP_AUTH}}
  external:
    url: http://127.0.0.1:9999
    postgres_proxy: shop-pg
"""


def _stack(tmp_path: Path, text: str) -> Path:
    (tmp_path / "schema.sql").write_text("select 1;")
    path = tmp_path / "stack.yaml"
    path.write_text(text)
    return path


def test_load_good(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOP_CANDIDATE", raising=False)
    stack = load_stack(_stack(tmp_path, GOOD))
    assert stack.file.targets["candidate"].build == "v2"
    assert stack.file.targets["external"].url == "http://127.0.0.1:9999"
    assert stack.resolve_path(Path("schema.sql")) == tmp_path / "schema.sql"
    assert stack.file.defaults.startup_timeout == 30.0


def test_build_from_env_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _stack(tmp_path, GOOD)
    monkeypatch.setenv("SHOP_CANDIDATE", "v1")
    assert load_stack(path).file.targets["candidate"].build == "v1"
    assert load_stack(path, {"candidate": "v2"}).file.targets["candidate"].build == "v2"
    with pytest.raises(StackFileError, match="no target named 'nobody'"):
        load_stack(path, {"nobody": "v1"})


def test_unknown_build_names_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_CANDIDATE", "v9")
    with pytest.raises(StackFileError, match=r"stack\.yaml:11: targets\.candidate\.build: unknown"):
        load_stack(_stack(tmp_path, GOOD))


def test_wrong_key_names_line(tmp_path: Path) -> None:
    bad = GOOD.replace("  baseline: {build: v1}", "  baseline: {build: v1, helth: /h}")
    with pytest.raises(StackFileError, match=r":9: targets\.baseline\.helth: unknown key"):
        load_stack(_stack(tmp_path, bad))


def test_wrong_type_names_line(tmp_path: Path) -> None:
    bad = GOOD + "defaults: {startup_timeout: forever}\n"
    with pytest.raises(StackFileError, match=r":17: defaults\.startup_timeout: not a duration"):
        load_stack(_stack(tmp_path, bad))


def test_target_needs_exactly_one_source(tmp_path: Path) -> None:
    bad = GOOD.replace("  baseline: {build: v1}", "  baseline: {build: v1, url: http://x}")
    with pytest.raises(StackFileError, match="exactly one of build, command or url"):
        load_stack(_stack(tmp_path, bad))


def test_missing_init_sql(tmp_path: Path) -> None:
    path = _stack(tmp_path, GOOD)
    (tmp_path / "schema.sql").unlink()
    with pytest.raises(StackFileError, match=r":4: postgres\.init_sql: no such file"):
        load_stack(path)


def test_env_values() -> None:
    assert FromEnv(from_env="A").resolve({"A": "x"}) == "x"
    assert FromEnv(from_env="A", default="d").resolve({}) == "d"
    with pytest.raises(StackFileError, match="A is not set"):
        FromEnv(from_env="A").resolve({})
    assert expand_vars("${A:-b}/${C}", {"C": "c"}) == "b/c"
    with pytest.raises(StackFileError, match="Z is not set"):
        expand_vars("${Z}", {})


def test_target_defined_twice_names_both_lines(tmp_path: Path) -> None:
    bad = GOOD.replace(
        "  external:\n", "  baseline:\n    command: \"sh -c 'rm -rf data'\"\n  external:\n"
    )
    with pytest.raises(
        StackFileError,
        match=r":14: targets\.baseline: duplicate key 'baseline' \(first at line 9\)",
    ):
        load_stack(_stack(tmp_path, bad))


@pytest.mark.parametrize(
    ("command", "what"),
    [
        ("{python} app.py --port {prot}", r"unknown placeholder \{prot\} \(known: \{port\}"),
        ("{python} app.py --dsn '{postgres.url}", "cannot split the command into words"),
        ("   ", "the command is empty"),
    ],
)
def test_build_command_problems_name_the_line(tmp_path: Path, command: str, what: str) -> None:
    bad = GOOD.replace(
        '  v2: "{python} app.py --port {port} --dsn {postgres.url} --fast"', f'  v2: "{command}"'
    )
    with pytest.raises(StackFileError, match=r"stack\.yaml:7: builds\.v2: " + what):
        load_stack(_stack(tmp_path, bad))


def test_target_command_placeholders_checked(tmp_path: Path) -> None:
    bad = GOOD.replace(
        "  baseline: {build: v1}", "  baseline: {command: 'run --port {port} {nme}'}"
    )
    with pytest.raises(
        StackFileError, match=r":9: targets\.baseline\.command: unknown placeholder \{nme\}"
    ):
        load_stack(_stack(tmp_path, bad))


def test_unset_variables_name_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOP_NOPE", raising=False)
    bad = GOOD.replace('"${SHOP_CANDIDATE:-v2}"', '"${SHOP_NOPE}"')
    with pytest.raises(
        StackFileError,
        match=r":11: targets\.candidate\.build: environment variable SHOP_NOPE is not set",
    ):
        load_stack(_stack(tmp_path, bad))
    bad = GOOD.replace("url: http://127.0.0.1:9999", "url: http://${SHOP_NOPE}:9999")
    with pytest.raises(
        StackFileError, match=r":15: targets\.external\.url: environment variable SHOP_NOPE"
    ):
        load_stack(_stack(tmp_path, bad))
    bad = GOOD.replace(
        "  init_sql: schema.sql\n", "  init_sql: schema.sql\n  dsn: postgresql://${SHOP_NOPE}/x\n"
    )
    with pytest.raises(StackFileError, match=r":5: postgres\.dsn: environment variable SHOP_NOPE"):
        load_stack(_stack(tmp_path, bad))
    # with dsn_env set, the dsn is not used: its variables need not be
    bad = bad.replace("  dsn:", "  dsn_env: SHOP_DSN\n  dsn:")
    monkeypatch.setenv("SHOP_DSN", "postgresql://db/x")
    assert load_stack(_stack(tmp_path, bad)).file.postgres.dsn_env == "SHOP_DSN"


def test_stack_placeholders_are_the_runtime_ones() -> None:
    import inspect

    from harness.scenario.stackfile import COMMAND_PLACEHOLDERS
    from harness.stack import runtime

    source = inspect.getsource(runtime.StackRuntime._launch)
    filled = set(re.findall(r'^\s+"([a-z_.]+)": ', source, re.MULTILINE))
    assert filled == set(COMMAND_PLACEHOLDERS)


def test_paths_are_absolute_whatever_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "stack").mkdir()
    _stack(tmp_path / "stack", GOOD)
    monkeypatch.chdir(tmp_path)
    stack = load_stack(Path("stack/stack.yaml"))
    assert stack.dir == tmp_path / "stack"
    assert stack.dir.is_absolute()
    assert stack.resolve_path(Path("../venv/bin/app")) == tmp_path / "venv" / "bin" / "app"
    assert stack.resolve_path(Path("/opt/app")) == Path("/opt/app")


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (
            ('--dsn {postgres.url}"\n  v2', '--dsn {pg.url}"\n  v2'),
            r":6: builds\.v1: unknown placeholder \{pg\.url\} \(known: \{port\}, \{python\}",
            "",
        ),
        (
            ('--fast"', '--fast \\"unclosed"'),
            r":7: builds\.v2: cannot split the command into words",
            "",
        ),
        (
            ("  baseline: {build: v1}", "  baseline: {build: v1, cwd: ../nowhere}"),
            r":9: targets\.baseline\.cwd: no such directory: .*nowhere",
            "",
        ),
        (
            ("  baseline: {build: v1}", '  baseline: {command: "run {port} {hostname}"}'),
            r":9: targets\.baseline\.command: unknown placeholder \{hostname\}",
            "",
        ),
        (
            ("  baseline: {build: v1}", '  baseline: {build: v1, env: {DB: "{postgres.uri}"}}'),
            r":9: targets\.baseline\.env\.DB: unknown placeholder \{postgres\.uri\}",
            "",
        ),
        (
            ("  init_sql: schema.sql\n", "  init_dump: data.dump\n"),
            r":4: postgres\.init_dump: no such file or directory: .*data\.dump",
            "",
        ),
        (
            ("  init_sql: schema.sql\n", '  init_sql: schema.sql\n  migrate: "migrate {port}"\n'),
            r":5: postgres\.migrate\.0\.run: unknown placeholder \{port\} \(known: \{python\}",
            "",
        ),
        (
            (
                "  init_sql: schema.sql\n",
                "  init_sql: schema.sql\n  migrate:\n    - ok {postgres.url}\n"
                "    - {run: 'x', env: {A: '{name}'}}\n",
            ),
            r":7: postgres\.migrate\.1\.env\.A: unknown placeholder \{name\}",
            "",
        ),
    ],
)
def test_bad_commands_and_paths_name_the_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: tuple[str, str],
    where: str,
    message: str,
) -> None:
    monkeypatch.delenv("SHOP_CANDIDATE", raising=False)
    assert change[0] in GOOD
    with pytest.raises(StackFileError, match=where + message):
        load_stack(_stack(tmp_path, GOOD.replace(change[0], change[1], 1)))


def test_migrate_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOP_CANDIDATE", raising=False)
    one = GOOD.replace("  init_sql: schema.sql\n", "  migrate: alembic upgrade head\n")
    steps = load_stack(_stack(tmp_path, one)).file.postgres.migrate
    assert [s.run for s in steps] == ["alembic upgrade head"]
    assert steps[0].timeout == 600.0
    many = GOOD.replace(
        "  init_sql: schema.sql\n",
        "  init_dump: schema.sql\n  migrate:\n    - a {postgres.url}\n"
        "    - {run: b, env: {DATABASE_URL: '{postgres.url}'}, timeout: 30s, cwd: .}\n",
    )
    pg = load_stack(_stack(tmp_path, many)).file.postgres
    assert pg.init_dump == Path("schema.sql")
    assert [s.run for s in pg.migrate] == ["a {postgres.url}", "b"]
    assert pg.migrate[1].env == {"DATABASE_URL": "{postgres.url}"}
    assert pg.migrate[1].timeout == 30.0


def test_literal_braces_are_not_placeholders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOP_CANDIDATE", raising=False)
    text = GOOD.replace('--fast"', '--fast --json \'{{\\"a\\": 1}}\'"')
    command = load_stack(_stack(tmp_path, text)).file.builds["v2"]
    argv = command_argv(command, {"python": "py", "port": "1", "postgres.url": "pg://x"})
    assert argv[-3:] == ["--fast", "--json", '{"a": 1}']
