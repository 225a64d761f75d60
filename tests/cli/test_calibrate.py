"""`harness calibrate`: usage errors, re-judging A/A runs (synthetic run directories)."""

import json
from pathlib import Path

import pytest

from harness.cli.main import main
from tests.analysis.runs import Behaviour, Fault, SyntheticRun

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "db-kill.yaml"
SAME = Behaviour(fault_error=1.0, latency_ms=15)


def _run(root: Path, builds: tuple[str, str] = ("v2.3.1", "v2.3.1")) -> Path:
    run = SyntheticRun(duration_s=50, rate=30, faults=[Fault(18, 15)])
    run.target("baseline", "baseline", SAME).target("candidate", "candidate", SAME)
    run.builds = dict(zip(("baseline", "candidate"), builds, strict=True))
    return run.write(root)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--build", "v2.3.1", "--runs", "0"], "argument --runs: needs at least 1 run, got 0"),
        (["--build", "v2.3.1", "--runs", "two"], "expected a whole number, got 'two'"),
        ([], "give --build NAME"),
        (["--build", "v2.3.1", "--from", "x"], "--from re-judges runs already made"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate", str(SCENARIO), *args]) == 2
    assert message in capsys.readouterr().err


def test_rejudges_aa_runs_with_the_scenarios_gates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [_run(tmp_path / f"aa-{n}") for n in range(2)]
    out = tmp_path / "out"
    code = main(["calibrate", str(SCENARIO), "--from", *map(str, runs), "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads((out / "calibration.json").read_text())
    assert (result["runs"], result["judged"], result["failed_runs"]) == (2, 2, 0)
    # db-kill.yaml's five gates
    names = [g["name"] for g in result["gates"]]
    assert names == ["error_rate", "latency_p99", "retry_amplification", "recovery_time", "cascade"]
    errors = result["gates"][0]
    assert (errors["failed"], errors["judged"], errors["rate"]) == (0, 2, 0.0)
    assert all(g["failed"] == 0 and g["inconclusive"] == 0 for g in result["gates"])
    assert "false fails on 2 A/A runs (of 2)" in captured.out
    assert "A/A 1: pass" in captured.err


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(tmp_path / "aa")
    assert main(["calibrate", str(SCENARIO), "--from", str(run), "--json", "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["runs"] == 1 and printed["gates"][0]["name"] == "error_rate"


def test_a_run_of_two_builds_is_not_an_aa_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(tmp_path / "ab", builds=("v2.3.1", "hotfix-safe"))
    assert main(["calibrate", str(SCENARIO), "--from", str(run)]) == 3
    err = capsys.readouterr().err
    assert f"{run}: not an A/A run: baseline baseline ran v2.3.1" in err
    assert "'candidate': 'hotfix-safe'" in err


def test_a_broken_scenario_is_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ncapture: x\nstack: y\ngates: {latency_p99: {max_ratio: -1}}\n")
    run = _run(tmp_path / "aa")
    assert main(["calibrate", str(bad), "--from", str(run)]) == 3
    assert f"{bad}:4" in capsys.readouterr().err
