"""harness compare and harness report, through harness.cli.main.main."""

import json
from pathlib import Path

import pytest

from harness.cli.main import main
from tests.analysis.runs import SyntheticRun


def test_compare_each_candidate_into_its_own_folder(
    three_targets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(three_targets)]) == 1
    for name, status in (("hotfix-naive", "fail"), ("hotfix-safe", "pass")):
        folder = three_targets / f"compare-{name}"
        for file in ("verdict.json", "junit.xml", "summary.md", "report.html"):
            assert (folder / file).is_file()
        assert json.loads((folder / "verdict.json").read_text())["status"] == status
    out = capsys.readouterr().out
    assert "FAIL" in out and "PASS" in out


def test_compare_one_candidate_writes_into_the_run(three_targets: Path) -> None:
    code = main(
        ["compare", str(three_targets), "--candidate", "hotfix-safe", "--baseline", "v2.3.1"]
    )
    assert code == 0
    assert json.loads((three_targets / "verdict.json").read_text())["candidate"] == "hotfix-safe"


def test_compare_json_and_out(
    three_targets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "elsewhere"
    code = main(
        ["compare", str(three_targets), "--candidate", "hotfix-naive", "--json", "--out", str(out)]
    )
    assert code == 1
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "fail" and document["candidate"] == "hotfix-naive"
    assert (out / "report.html").is_file()
    assert not (three_targets / "verdict.json").exists()


def test_inconclusive_can_be_allowed(tmp_path: Path) -> None:
    run = SyntheticRun(duration_s=2, rate=5, gates={"error_rate": {"max_increase_pp": 1}})
    root = run.target("b", "baseline").target("c", "candidate").write(tmp_path / "run")
    assert main(["compare", str(root)]) == 1
    assert main(["compare", str(root), "--allow-inconclusive"]) == 0


def test_unknown_target_is_a_usage_error(three_targets: Path) -> None:
    assert main(["compare", str(three_targets), "--candidate", "ghost"]) == 2


def test_not_a_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(tmp_path)]) == 3
    assert "not a run directory" in capsys.readouterr().err


def test_report_renders_again(three_targets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["compare", str(three_targets)])
    page = three_targets / "compare-hotfix-safe" / "report.html"
    page.unlink()
    capsys.readouterr()
    assert main(["report", str(three_targets)]) == 0
    assert page.is_file() and "<svg" in page.read_text()
    assert "compare-hotfix-naive/junit.xml" in capsys.readouterr().out
    (three_targets / "requests.parquet").unlink()
    assert main(["report", str(three_targets / "compare-hotfix-safe")]) == 0
    assert "charts omitted" in page.read_text()


def test_report_without_verdict(tmp_path: Path) -> None:
    assert main(["report", str(tmp_path)]) == 3


def test_roles_left_null_by_a_bare_replay(three_targets: Path) -> None:
    manifest = json.loads((three_targets / "manifest.json").read_text())
    for info in manifest["targets"].values():
        info["role"] = None
    (three_targets / "manifest.json").write_text(json.dumps(manifest))
    assert main(["compare", str(three_targets), "--baseline", "v2.3.1"]) == 1
    assert not (three_targets / "compare-v2.3.1").exists()
    verdict = json.loads((three_targets / "compare-hotfix-safe" / "verdict.json").read_text())
    assert (verdict["baseline"], verdict["status"]) == ("v2.3.1", "pass")
