"""`harness validate`, `harness ci` and `harness demo` end to end on the embedded stack."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from harness.cli.main import main
from tests.workdirs import reachable_tmpdir
from tests.workflows.traffic import write_short_kill

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def work() -> Iterator[Path]:
    with reachable_tmpdir("validate") as path:
        yield path


@pytest.fixture(scope="module")
def scenario(work: Path) -> Path:
    return write_short_kill(work / "short-kill.yaml", REPO / "examples" / "payments" / "stack.yaml")


def test_validate_passes_the_safe_hotfix(
    scenario: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = work / "safe"
    args = ["validate", str(scenario), "--baseline", "v2.3.1", "--candidate", "hotfix-safe"]
    code = main([*args, "-o", str(run_dir), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["status"] == "pass"
    assert verdict["candidate"] == "candidate"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["targets"]["candidate"]["build"] == "hotfix-safe"
    assert manifest["targets"]["baseline"]["build"] == "v2.3.1"
    for name in ("junit.xml", "summary.md", "report.html"):
        assert (run_dir / name).stat().st_size > 0


def test_ci_fails_the_naive_hotfix_with_junit_summary_and_annotations(
    scenario: Path, work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = work / "step-summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    junit = work / "reports" / "junit.xml"
    code = main(
        [
            "ci",
            str(scenario),
            "--baseline",
            "v2.3.1",
            "--candidate",
            "hotfix-naive",
            "-o",
            str(work / "naive"),
            "--junit",
            str(junit),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    suite = ET.parse(junit).getroot()
    cases = suite.iter("testcase")
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert {"error_rate", "retry_amplification", "cascade"} <= {
        name.split(" ")[0] if name else "" for name in failed
    } or {"error_rate", "retry_amplification", "cascade"} <= failed
    text = summary.read_text()
    assert text.startswith("# earlier step\n")  # appended, not replaced
    assert "fail" in text.lower()
    annotations = [line for line in out.splitlines() if line.startswith("::error ")]
    assert any("retry_amplification" in line for line in annotations)
    assert any("cascade" in line for line in annotations)


def test_validate_bad_spec_is_a_usage_error(
    scenario: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "validate",
            str(scenario),
            "--baseline",
            "v2.3.1",
            "--candidate",
            "hotfix-nope",
            "-o",
            str(work / "nope"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "'hotfix-nope' is not a build" in err
    assert not (work / "nope").exists()


def _gates(run_dir: Path) -> str:
    """Each verdict's status and its gates that did not pass, for a failure message."""
    lines = []
    for path in sorted(run_dir.glob("**/verdict.json")):
        verdict = json.loads(path.read_text())
        failed = [
            f"{gate['name']}={gate['status']}: {gate.get('reason', '')}"
            for gate in verdict.get("gates", [])
            if gate.get("status") != "pass"
        ]
        validity = "" if verdict.get("valid", True) else f" invalid: {verdict['invalid_reasons']}"
        lines.append(f"{path.parent.name}: {verdict.get('status')}{validity} {failed}")
    return "\n".join(lines)


def test_demo_json(work: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness", "demo", "--json", "-o", str(work / "demo")],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
        check=False,
    )
    # exit 1 = not the expected outcome: say which verdict was not, and which gates failed
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout + _gates(work / "demo")
    document = json.loads(result.stdout)
    assert document["hotfix-naive"] == "fail"
    assert document["hotfix-safe"] == "pass"
    for build in ("hotfix-naive", "hotfix-safe"):
        assert Path(document["reports"][build]).is_file()
    assert "replaying" in result.stderr  # progress is shown along the way
    naive = json.loads(
        (Path(document["reports"]["hotfix-naive"]).parent / "verdict.json").read_text()
    )
    failed = {gate["name"] for gate in naive["gates"] if gate["status"] == "fail"}
    assert {"error_rate", "retry_amplification", "cascade"} <= failed
    safe = json.loads(
        (Path(document["reports"]["hotfix-safe"]).parent / "verdict.json").read_text()
    )
    assert all(gate["status"] == "pass" for gate in safe["gates"])


def test_validate_aa_runs_a_second_baseline_for_the_noise(
    scenario: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = work / "aa"
    args = ["validate", str(scenario), "--baseline", "v2.3.1", "--candidate", "hotfix-safe"]
    code = main([*args, "--aa", "-o", str(run_dir), "--quiet"])
    assert code == 0, capsys.readouterr().out  # the safe hotfix passes, with or without A/A
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["targets"]["baseline-aa"] == {
        "url": manifest["targets"]["baseline-aa"]["url"],
        "role": "aa",
        "build": "v2.3.1",
    }
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["aa"] == "baseline-aa"
    assert verdict["status"] == "pass"
    requests = pd.read_parquet(run_dir / "requests.parquet", columns=["target"])
    counts = requests.target.value_counts()
    assert counts["baseline-aa"] == counts["baseline"] == counts["candidate"]
