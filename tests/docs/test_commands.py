"""Every command line of README.md and docs/*.md is a real one.

Each ``harness`` line is parsed by the real parser (a renamed option breaks this test); the
cheap ones (lint, capture import/inspect, compare, report, --help, stack status, and any line
that says ``# exits N``) are RUN, in-process, on the bundled captures and on a run directory
synthesised once; the expensive ones (they bring a stack up) must be listed in ``EXPENSIVE``
with the end-to-end test that runs that command. ``make`` lines must name Makefile targets.
Nothing is written into the checkout: outputs go to a temporary directory.
"""

from __future__ import annotations

import importlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cli.main import build_parser, main
from tests.analysis.runs import DEMO_GATES, Behaviour, demo_like
from tests.docs.commands import (
    PARSE_ONLY_PAGES,
    ROOT,
    Command,
    all_commands,
    named_path,
    page_name,
    pages,
    yaml_blocks,
)

#: command -> the end-to-end test that runs it for real (module, function)
EXPENSIVE: dict[str, tuple[str, str]] = {
    "validate": ("tests.workflows.test_validate", "test_validate_passes_the_safe_hotfix"),
    "ci": (
        "tests.workflows.test_validate",
        "test_ci_fails_the_naive_hotfix_with_junit_summary_and_annotations",
    ),
    "demo": ("tests.workflows.test_validate", "test_demo_json"),
    "calibrate": ("tests.workflows.test_calibrate", "test_replays_copies_and_rejudges_them"),
    "chaos": (
        "tests.workflows.test_chaos",
        "test_night_reports_pass_fail_and_error_and_exits_with_the_worst",
    ),
    "run": ("tests.workflows.test_run", "test_db_kill_observed_from_the_target_side"),
    "stack up": ("tests.stack.test_runtime", "test_stack_up_status_and_ctrl_c"),
    "stack down": ("tests.stack.test_runtime", "test_sigterm_tears_down"),
    "replay": ("tests.replay.test_cli", "test_distributed_master_and_two_workers_on_loopback"),
    "worker": ("tests.replay.test_cli", "test_distributed_master_and_two_workers_on_loopback"),
}
#: validate/ci against running builds (URL,proxy=NAME specs) have their own end-to-end test
RUNNING_BUILDS = ("tests.compose.test_url_targets", "test_validate_against_running_builds")
COMPOSE_STACK_FILE = ("tests.compose.test_url_targets", "test_run_on_the_compose_stack_file")
#: commands run for real, with the exit code they must end with unless the line says otherwise
CHEAP: dict[str, int] = {
    "init": 0,
    "lint": 0,
    "capture import": 0,
    "capture inspect": 0,
    "compare": 0,
    "report": 0,
    "stack status": 3,  # no stack is running in the test's work directory
}
#: the user's own recordings in the docs -> the bundled recordings of the demo service
RECORDINGS: dict[str, str] = {
    "traffic/payments_*.gor": "captures/payments-demo.gor",
    "traffic/payments.mitm": "captures/payments-demo.mitm",
}
#: placeholders a page may use in a command line -> what stands in for them
PLACEHOLDERS: dict[str, str] = {
    "SCENARIO": "scenarios/db-kill.yaml",
    "STACK": "examples/payments/stack.yaml",
    "CAPTURE": "captures/payments-demo-mitm.capture.parquet",
}
OUTPUT_OPTIONS = frozenset({"-o", "--output", "--out", "--junit", "--summary-file", "--results"})

HARNESS = all_commands("harness")
MAKE = all_commands("make")


def ids(commands: list[Command]) -> list[str]:
    return [f"{c.where}:{c.key}" for c in commands]


def is_help(command: Command) -> bool:
    return "--help" in command.argv or "-h" in command.argv


def runs_here(command: Command) -> bool:
    if command.page in PARSE_ONLY_PAGES:
        return False
    return is_help(command) or command.exits is not None or command.key in CHEAP


@dataclass
class Workspace:
    """Where documented commands run: outputs in ``out``, a judged run directory in ``run``."""

    out: Path
    run: Path

    def path(self, arg: str) -> str:
        """An argument naming a file, mapped to where the test keeps that file."""
        for name, value in PLACEHOLDERS.items():
            arg = re.sub(rf"\b{name}\b", value, arg)
        match = re.fullmatch(r"runs/[^/]+(/.*)?", arg)
        if match:
            return str(self.run) + (match.group(1) or "")
        if arg in RECORDINGS:
            return str(ROOT / RECORDINGS[arg])
        if (self.out / arg).is_file():
            return str(self.out / arg)  # written by an earlier command, or a page's example
        return arg

    def output(self, arg: str) -> str:
        mapped = self.path(arg)
        if mapped != arg:
            return mapped
        target = self.out / arg
        target.parent.mkdir(parents=True, exist_ok=True)
        return str(target)

    def argv(self, command: Command) -> list[str]:
        out: list[str] = []
        args = command.argv[1:]
        for i, arg in enumerate(args):
            after_output = i > 0 and args[i - 1] in OUTPUT_OPTIONS
            out.append(self.output(arg) if after_output else self.path(arg))
        if command.key in ("stack status", "stack down") and "--work-dir" not in out:
            out += ["--work-dir", str(self.out / "no-stack")]
        return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("docs")
    safe = Behaviour(fault_error=1.0, latency_ms=15, fault_attempts=0.2)
    run = demo_like(safe, DEMO_GATES).write(root / "run")
    assert main(["compare", str(run)]) == 0  # report needs a verdict.json to render from
    out = root / "out"
    for block in yaml_blocks():  # files the pages show, such as the capture config
        name = named_path(block)
        if name is not None and not (ROOT / name).exists():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text(block.text, encoding="utf-8")
    return Workspace(out=out, run=run)


@pytest.fixture
def in_checkout(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Documented paths are relative to the checkout; nothing is written there."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("TOXIPROXY_URL", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    yield


#: pages that show no harness command line, and why
NO_COMMANDS = {
    "docs/chaos.md": "its commands are run by tests/workflows/test_chaos.py",
    "docs/file-formats.md": "a contract: it describes files, not commands",
}


def test_the_pages_have_commands() -> None:
    names = {c.page for c in HARNESS}
    expected = {page_name(p) for p in pages()} - set(NO_COMMANDS)
    assert names >= expected, f"pages without a harness command: {expected - names}"


@pytest.mark.parametrize("command", HARNESS, ids=ids(HARNESS))
def test_every_harness_line_parses(command: Command, tmp_path: Path) -> None:
    workspace = Workspace(out=tmp_path, run=tmp_path / "run")
    argv = workspace.argv(command)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help
        assert is_help(command) and exc.code == 0, f"{command.where}: {command.text}"
        return
    except Exception as exc:  # the parser's usage error
        pytest.fail(f"{command.where}: `{command.text}` does not parse: {exc}")
    assert getattr(args, "handler", None) is not None, f"{command.where}: {command.text}"


def end_to_end_test(command: Command) -> tuple[str, str] | None:
    """The end-to-end test that runs what ``command`` does (None: nothing is mapped)."""
    if command.key in ("validate", "ci") and ",proxy=" in command.text:
        return RUNNING_BUILDS
    if command.key == "run" and "compose" in command.text:
        return COMPOSE_STACK_FILE
    return EXPENSIVE.get(command.key)


NOT_RUN_HERE = [c for c in HARNESS if not runs_here(c)]


@pytest.mark.parametrize("command", NOT_RUN_HERE, ids=ids(NOT_RUN_HERE))
def test_expensive_lines_name_their_end_to_end_test(command: Command) -> None:
    assert end_to_end_test(command) is not None, (
        f"{command.where}: `harness {command.key}` is neither run here nor mapped to an "
        "end-to-end test in EXPENSIVE"
    )


@pytest.mark.parametrize(
    "test", sorted({*EXPENSIVE.values(), RUNNING_BUILDS, COMPOSE_STACK_FILE}), ids=str
)
def test_the_end_to_end_tests_exist(test: tuple[str, str]) -> None:
    module_name, function = test
    module = importlib.import_module(module_name)
    assert callable(getattr(module, function, None)), f"{module_name}.{function} is missing"


RUN_PAGES = sorted({c.page for c in HARNESS if runs_here(c)})


def test_most_pages_run_lines_for_real() -> None:
    assert len([c for c in HARNESS if runs_here(c)]) >= 20
    assert set(RUN_PAGES) >= {"README.md", "docs/capture.md", "docs/metrics-and-gates.md"}


@pytest.mark.parametrize("page", RUN_PAGES)
def test_cheap_lines_run(
    page: str,
    workspace: Workspace,
    in_checkout: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # one test per page, in page order: a line may read what an earlier line wrote
    for command in [c for c in HARNESS if c.page == page and runs_here(c)]:
        with monkeypatch.context() as env:
            for name, value in command.env.items():
                env.setenv(name, value)
            try:
                code = main(workspace.argv(command))
            except SystemExit as exc:  # --help
                code = int(exc.code or 0)
        output = capsys.readouterr()
        expected = command.exits if command.exits is not None else CHEAP.get(command.key, 0)
        assert code == expected, (
            f"{command.where}: `{command.text}` exited {code}, expected {expected}\n"
            f"{output.err[-2000:]}"
        )


@pytest.mark.parametrize("command", MAKE, ids=ids(MAKE))
def test_make_lines_name_makefile_targets(command: Command) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z0-9_.-]+):", makefile, re.MULTILINE))
    for target in command.argv[1:]:
        if not target.startswith("-") and "=" not in target:
            assert target in targets, f"{command.where}: no Makefile target {target!r}"


def test_readme_starts_with_the_two_commands() -> None:
    first = next(c for c in [*MAKE, *HARNESS] if c.page == "README.md")
    readme_make = [c.argv for c in MAKE if c.page == "README.md"]
    assert first.argv == ["make", "demo"]
    assert readme_make[:2] == [["make", "demo"], ["make", "test"]]


def test_outputs_stay_out_of_the_checkout(workspace: Workspace) -> None:
    for command in [c for c in HARNESS if runs_here(c)]:
        argv = workspace.argv(command)
        for option, value in itertools.pairwise(argv):
            if option in OUTPUT_OPTIONS:
                where = Path(value)
                inside = (workspace.out, workspace.run)
                assert any(where == d or d in where.parents for d in inside), command.where
