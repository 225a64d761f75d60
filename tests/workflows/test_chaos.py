"""`harness chaos DIR` end to end on the embedded stack (real toxiproxy, PostgreSQL, Locust).

Night 1, with --promote, runs a suite of three short scenarios on the same traffic and fault:
- `a-pass`: the stack's candidate (hotfix-safe) against v2.3.1 on a short database kill: passes
  and is promoted to known-good;
- `b-fail`: the same, but it declares a database route independent of the database, so the
  cascade gate must fail: reported `fail`, never promoted;
- `c-crash`: its capture file does not exist: reported `error` with the one-line message, and
  the other two still run.
Night 2 runs `a-pass` again: it is judged against night 1's promoted run (a merged run
directory), and the index shows a trend over both nights.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.analysis.model import Verdict
from harness.cli.main import main
from tests.workflows.traffic import payments_capture

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "examples" / "payments" / "stack.yaml"
pytestmark = pytest.mark.slow

FAULT = "  - {at: 3s, for: 3s, dependency: postgres, kind: down}"
GATES = (
    "gates:\n"
    "  error_rate: {max_increase_pp: 5.0}\n"
    "  cascade: {max_error_rate: 0.05}\n"
    "  min_samples: 20\n"
)


def _scenario(path: Path, capture: Path, *, independent: str) -> Path:
    path.write_text(
        f"name: {path.stem}\ncapture: {capture}\nspeed: 1.0\nstack: {STACK}\n"
        f"faults:\n{FAULT}\n"
        "probes:\n"
        "  - name: db_attempts\n"
        "    prometheus: {path: /metrics, metric: payments_db_attempts_total}\n"
        f"independent_routes: [{independent}]\n" + GATES
    )
    return path


@dataclass
class Nights:
    """What the module's two nights left behind."""

    work: Path
    results: Path
    code1: int
    code2: int
    out1: str

    def summary(self, night: str) -> dict[str, object]:
        data: dict[str, object] = json.loads(
            (self.results / "nights" / night / "summary.json").read_text()
        )
        return data

    def scenario(self, night: str, name: str) -> dict[str, object]:
        scenarios = self.summary(night)["scenarios"]
        assert isinstance(scenarios, list)
        found = [s for s in scenarios if s["name"] == name]
        assert len(found) == 1, scenarios
        result: dict[str, object] = found[0]
        return result


@pytest.fixture(scope="module")
def nights() -> Iterator[Nights]:
    """Two nights run once for the whole module (outside pytest's 0700 tmp root)."""
    work = Path(tempfile.mkdtemp(prefix="harness-test-chaos-"))
    try:
        capture = payments_capture(work, seconds=10, rate=40)
        suite = work / "suite"
        suite.mkdir()
        _scenario(suite / "a-pass.yaml", capture, independent="/health, /catalog")
        _scenario(suite / "b-fail.yaml", capture, independent='/health, "/payments/{id}"')
        _scenario(suite / "c-crash.yaml", work / "missing.capture.parquet", independent="/health")
        results = work / "results"
        common = ["--results", str(results), "--processes", "1", "--quiet"]
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code1 = main(["chaos", str(suite), "--night", "night-1", "--promote", *common])
        suite2 = work / "suite2"
        suite2.mkdir()
        shutil.copy(suite / "a-pass.yaml", suite2 / "a-pass.yaml")
        code2 = main(["chaos", str(suite2), "--night", "night-2", *common])
        yield Nights(work, results, code1, code2, out.getvalue())
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_night_reports_pass_fail_and_error_and_exits_with_the_worst(nights: Nights) -> None:
    assert nights.scenario("night-1", "a-pass")["status"] == "pass"
    failed = nights.scenario("night-1", "b-fail")
    assert failed["status"] == "fail"
    assert "cascade" in str(failed["reason"])
    crashed = nights.scenario("night-1", "c-crash")
    assert crashed["status"] == "error"
    assert crashed["exit_code"] == 3
    assert "missing.capture.parquet" in str(crashed["reason"])
    assert "\n" not in str(crashed["reason"])
    # the worst of 0 (pass), 1 (fail) and 3 (invalid scenario input)
    assert nights.code1 == 3
    assert nights.summary("night-1")["exit_code"] == 3
    lines = nights.out1.splitlines()
    assert any(line.startswith("b-fail: fail (vs stack baseline)") for line in lines)
    assert any(line.startswith("c-crash: error: ") for line in lines)


def test_index_lists_every_scenario_with_status_figures_and_report_links(nights: Nights) -> None:
    night = nights.results / "nights" / "night-1"
    html = (night / "index.html").read_text()
    for name, status in (("a-pass", "pass"), ("b-fail", "fail"), ("c-crash", "error")):
        assert f'<tr><td>{name}</td><td><span class="status' in html
        assert f">{status}</span>" in html
    assert "missing.capture.parquet" in html
    assert "no known-good run yet" in html
    assert 'href="a-pass/report.html"' in html
    assert 'href="b-fail/report.html"' in html
    assert (night / "a-pass" / "report.html").is_file()
    for remote in ("<script", "<link", 'src="http', 'href="http'):  # self-contained, offline
        assert remote not in html
    figures = nights.scenario("night-1", "b-fail")["figures"]
    assert isinstance(figures, dict)
    # the candidate answers 503 while its database is down: its fault-phase error rate shows it
    assert figures["error_rate_during"] > 0.5
    assert nights.scenario("night-1", "b-fail")["compared_with"] == "stack baseline"


def test_promote_copies_only_the_passing_run(nights: Nights) -> None:
    known_good = nights.results / "known-good"
    assert sorted(p.name for p in known_good.iterdir()) == ["a-pass"]
    kept = known_good / "a-pass"
    for name in ("manifest.json", "requests.parquet", "events.jsonl", "verdict.json"):
        assert (kept / name).is_file()
    assert not (kept / "stack").exists()  # the stack's database and logs are not copied
    # each night keeps the stack's logs but not its throwaway database cluster
    run = nights.results / "nights" / "night-1" / "b-fail"
    assert (run / "stack" / "toxiproxy.log").is_file()
    assert not (run / "stack" / "postgres" / "data").exists()
    assert json.loads((kept / "promoted.json").read_text())["night"] == "night-1"
    assert nights.scenario("night-1", "a-pass")["promoted"] is True
    assert nights.scenario("night-1", "b-fail")["promoted"] is False


def test_second_night_is_judged_against_the_promoted_run(nights: Nights) -> None:
    result = nights.scenario("night-2", "a-pass")
    assert result["compared_with"] == "known-good"
    assert "night-1" in str(result["known_good"])
    assert result["report"] == "a-pass/vs-known-good/report.html"
    merged = nights.results / "nights" / "night-2" / "a-pass" / "vs-known-good"
    manifest = json.loads((merged / "manifest.json").read_text())
    assert {n: t["role"] for n, t in manifest["targets"].items()} == {
        "known-good": "baseline",
        "candidate": "candidate",
    }
    assert manifest["merged_from"]["known-good"]["path"].endswith("known-good/a-pass")
    verdict = Verdict.model_validate_json((merged / "verdict.json").read_text())
    assert (verdict.baseline, verdict.candidate) == ("known-good", "candidate")
    assert any(p.kind == "during" for p in verdict.phases)
    # both sides replayed the same capture on the same schedule: every request is paired
    assert verdict.responses.paired > 300
    # the same build as the promoted one, on the same traffic and fault: it passes
    assert result["status"] == "pass", result
    assert verdict.status == "pass"
    assert result["exit_code"] == nights.code2 == 0
    assert nights.summary("night-2")["exit_code"] == 0
    assert result["promoted"] is False  # not asked on night 2


def test_second_night_index_draws_the_trend_over_both_nights(nights: Nights) -> None:
    html = (nights.results / "nights" / "night-2" / "index.html").read_text()
    assert html.count('<svg class="plot"') >= 2
    assert "night-1 · night-2" in html
    history = html.split("Status by night", 1)[1]
    for name in ("a-pass", "b-fail", "c-crash"):  # last night's scenarios, errors too
        assert f"<td>{name}</td>" in history


def test_a_night_that_already_ran_is_refused(nights: Nights) -> None:
    suite = nights.work / "suite2"
    code = main(["chaos", str(suite), "--results", str(nights.results), "--night", "night-2"])
    assert code == 2
    summary = nights.summary("night-2")
    assert summary["night"] == "night-2"  # untouched


def test_a_folder_without_scenarios_is_a_usage_error(nights: Nights) -> None:
    empty = nights.work / "empty"
    empty.mkdir()
    assert main(["chaos", str(empty), "--results", str(nights.results)]) == 2
