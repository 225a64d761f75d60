"""`harness lint` through the CLI entry: exit codes, line-numbered messages, --json."""

import json
from pathlib import Path

import pytest

from harness.cli.main import main
from tests.scenario.test_lint import HEAD, STACK, write_capture


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    (tmp_path / "stack.yaml").write_text(STACK)
    write_capture(tmp_path / "c.capture.parquet")
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + "faults:\n  - {at: 1s, for: 2s, kind: down}\n")
    return path


def test_clean_exits_0(scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(scenario)]) == 0
    assert "ok: s: 1 faults, 0 actions, 1 probes" in capsys.readouterr().out


def test_broken_exits_3_with_line(scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario.write_text(HEAD + "faults:\n  - {at: 1s, for: 2s, kind: dwon}\n")
    assert main(["lint", str(scenario)]) == 3
    err = capsys.readouterr().err
    assert f"{scenario}:5: error: faults.0: unknown fault kind 'dwon'" in err


def test_invalid_yaml_exits_3(scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario.write_text(HEAD + "faults: [\n")
    assert main(["lint", str(scenario)]) == 3
    assert f"{scenario}:5: error: invalid YAML" in capsys.readouterr().err


def test_json(scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario.write_text(HEAD + "faults:\n  - {at: 1s, for: 2s, kind: down, targets: [x]}\n")
    assert main(["lint", "--json", str(scenario)]) == 3
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    assert document["problems"] == [
        {
            "severity": "error",
            "where": f"{scenario}:5",
            "message": "no target named 'x' (targets: baseline, candidate)",
        }
    ]


def test_directory(scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (scenario.parent / "stack.yaml").unlink()
    assert main(["lint", "--json", str(scenario.parent)]) == 3
    documents = json.loads(capsys.readouterr().out)
    assert [Path(d["scenario"]).name for d in documents] == ["s.yaml"]
    assert main(["lint"]) == 2
