"""The example workflow .github/workflows/hotfix-gate.yml: triggers, the gate, its artifacts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli.main import build_parser
from harness.scenario.model import load_scenario
from harness.scenario.stackcommands import fill_placeholders
from harness.scenario.stackfile import load_stack
from harness.workflows.specs import parse_spec

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "hotfix-gate.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    return job["steps"]  # type: ignore[no-any-return]


def gate_argv(steps: list[dict[str, Any]], env: dict[str, str]) -> list[str]:
    """The `harness ci` command line of the gate step, with the job's variables filled in."""
    runs = [s["run"] for s in steps if "harness ci" in s.get("run", "")]
    assert len(runs) == 1, "exactly one step runs `harness ci`"
    text = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], runs[0])
    argv = shlex.split(text)
    assert Path(argv[0]).name == "harness"
    return argv[1:]


def test_triggers_on_hotfix_branches(workflow: dict[Any, Any]) -> None:
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1)
    on = workflow.get("on", workflow.get(True))
    assert on["push"]["branches"] == ["hotfix/**"]
    assert "workflow_dispatch" in on


def test_sets_up_python_go_and_make_setup(steps: list[dict[str, Any]]) -> None:
    uses = {s.get("uses", "").split("@")[0]: s for s in steps}
    assert "actions/checkout" in uses
    assert uses["actions/setup-python"]["with"]["python-version"] == "3.11"
    assert "actions/setup-go" in uses
    assert any(s.get("run", "").strip() == "make setup" for s in steps)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^setup:", makefile, re.MULTILINE)


def test_runs_harness_ci_on_db_kill(steps: list[dict[str, Any]], tmp_path: Path) -> None:
    argv = gate_argv(steps, {"CANDIDATE_VARIANT": "hotfix-safe", "RUN_DIR": str(tmp_path)})
    args = build_parser().parse_args(argv)
    assert argv[0] == "ci"
    assert args.scenario == Path("scenarios/db-kill.yaml")
    assert args.baseline == "v2.3.1"
    assert args.junit == Path("reports/junit.xml")
    # the specs are ones `harness ci` accepts for this scenario's stack
    scenario = load_scenario(ROOT / args.scenario)
    stack = load_stack(scenario.stack)
    assert parse_spec(args.baseline, stack, role="baseline").build == "v2.3.1"
    candidate = parse_spec(args.candidate, stack, role="candidate")
    assert candidate.command is not None
    known = {
        "port": "1",
        "python": "python",
        "name": "candidate",
        "stack_dir": ".",
        "postgres.url": "postgresql://x",
        "postgres.host": "h",
        "postgres.port": "2",
        "postgres.dbname": "d",
    }
    assert "--variant hotfix-safe" in fill_placeholders(candidate.command, known)


def test_uploads_junit_and_run_dir_always(
    workflow: dict[Any, Any], steps: list[dict[str, Any]]
) -> None:
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert uploads and all(s.get("if") == "always()" for s in uploads)
    paths = "\n".join(str(s["with"]["path"]) for s in uploads)
    assert "reports/junit.xml" in paths
    (job,) = workflow["jobs"].values()
    argv = gate_argv(steps, {"CANDIDATE_VARIANT": "hotfix-safe", "RUN_DIR": "RUN"})
    assert argv[argv.index("-o") + 1] == "RUN"
    assert "${{ env.RUN_DIR }}" in paths and "RUN_DIR" in job["env"]
    # the uploads come after the gate, so they also run when it fails the job
    gate = next(i for i, s in enumerate(steps) if "harness ci" in s.get("run", ""))
    assert all(steps.index(s) > gate for s in uploads)
