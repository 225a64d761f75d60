"""The nightly suite's pieces without a stack: merging two runs, promotion, crashes, the docs.

Run directories here are written by hand with the run-directory contract (a fault from 2 s to
4 s, 40 req/s for 6 s per target), then judged by the real analysis.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.analysis.frames import load_run
from harness.analysis.gates import ATTEMPTS_PROBE
from harness.cli.main import build_parser, main
from harness.errors import InputError
from harness.report.render import compare_run
from harness.rundir import PROBES_SCHEMA, REQUESTS_SCHEMA, RunDir, requests_table
from harness.workflows.chaos import NightRequest, promote, run_night
from harness.workflows.chaos_model import figures_of
from harness.workflows.merge import (
    RunSide,
    judged_target,
    merge_runs,
    schedule_differences,
)
from tests.workdirs import reachable_tmpdir

REPO = Path(__file__).resolve().parents[2]
SCENARIO = {
    "name": "synthetic",
    "speed": 1.0,
    "duration": 6.0,
    "loop": False,
    "seed": 0,
    "faults": [{"at": 2.0, "for": 3.0, "kind": "down", "dependency": "postgres"}],
    "independent_routes": ["/health"],
    "gates": {"error_rate": {"max_increase_pp": 5.0}, "min_samples": 10},
}


@pytest.fixture
def work() -> Iterator[Path]:
    with reachable_tmpdir("chaos-merge") as path:
        yield path


def write_run(root: Path, *, candidate_errors: bool, run_id: str, faults: object = None) -> Path:
    """A run with targets baseline and candidate; with ``candidate_errors`` the candidate
    fails every other request in the fault."""
    root.mkdir(parents=True)
    rows: dict[str, list[object]] = {name: [] for name in REQUESTS_SCHEMA.names[:13]}
    for target in ("baseline", "candidate"):
        for idx in range(240):
            due = idx * 25_000_000  # 40 req/s
            in_fault = 2_000_000_000 <= due < 4_000_000_000
            failed = in_fault and candidate_errors and target == "candidate" and idx % 2 == 0
            route = "/health" if idx % 5 == 0 else "/payments/{id}"
            for name, value in (
                ("target", target),
                ("idx", idx),
                ("route", route),
                ("method", "GET"),
                ("due_ns", due),
                ("sent_ns", due + 100_000),
                ("lag_ms", 0.1),
                ("latency_ms", 5.0),
                ("latency_corrected_ms", 5.1),
                ("status", 503 if failed else 200),
                ("error", "none"),
                ("bytes", 10),
                ("body_sha256", "x" if failed else "ok"),
            ):
                rows[name].append(value)
    pq.write_table(requests_table(rows), RunDir(root).requests)
    probes = {
        "t_ns": [i * 1_000_000_000 for i in range(7)] * 2,
        "target": ["baseline"] * 7 + ["candidate"] * 7,
        "probe": [ATTEMPTS_PROBE] * 14,  # what the default retry_amplification gate reads
        "value": [float(i * 40) for i in range(7)] + [float(i * 80) for i in range(7)],
    }
    pq.write_table(pa.table(probes, schema=PROBES_SCHEMA), RunDir(root).probes)
    fault = {"id": "f1", "label": "postgres down", "kind": "down", "dependency": "postgres"}
    events = [
        {"t_ns": 0, "kind": "run_started"},
        {"t_ns": 2_000_000_000, "kind": "fault_applied", "fault": fault},
        {"t_ns": 4_000_000_000, "kind": "fault_reverted", "fault": fault},
        {"t_ns": 6_000_000_000, "kind": "run_finished"},
    ]
    RunDir(root).events.write_text("".join(json.dumps(e) + "\n" for e in events))
    scenario = dict(SCENARIO, faults=faults if faults is not None else SCENARIO["faults"])
    manifest = {
        "run_id": run_id,
        "t0_ns": 1,
        "status": "complete",
        "targets": {
            "baseline": {"url": "http://127.0.0.1:1", "role": "baseline", "build": "v2.3.1"},
            "candidate": {"url": "http://127.0.0.1:2", "role": "candidate", "build": "hotfix"},
        },
        "scenario": scenario,
        "validity": {"valid": True, "reasons": [], "lag_p99_ms": 0.5},
    }
    RunDir(root).manifest.write_text(json.dumps(manifest))
    return root


def test_merged_run_pairs_known_good_candidate_with_tonights(work: Path) -> None:
    old = write_run(work / "known-good", candidate_errors=False, run_id="old")
    new = write_run(work / "tonight", candidate_errors=True, run_id="new")
    assert judged_target(old) == "candidate"
    assert schedule_differences(old, new) == []
    merged = merge_runs(RunSide(old, "candidate"), RunSide(new, "candidate"), work / "merged")
    run = load_run(merged)
    assert sorted(run.requests["target"].unique()) == ["candidate", "known-good"]
    assert len(run.requests) == 480
    assert sorted(run.probes["target"].unique()) == ["candidate", "known-good"]
    assert run.manifest.names_with_role("baseline") == ["known-good"]
    assert [f.label for f in run.faults] == ["postgres down"]
    (comparison,) = compare_run(merged, baseline="known-good", candidate="candidate")
    verdict = comparison.verdict
    # tonight's candidate fails half its requests in the fault; the known-good one failed none
    assert verdict.status == "fail"
    assert (verdict.baseline, verdict.candidate) == ("known-good", "candidate")
    figures = figures_of(verdict)
    assert figures.error_rate_during == pytest.approx(0.5, abs=0.02)
    assert figures.amplification == pytest.approx(2.0, rel=0.1)
    assert (merged / "report.html").is_file()


def test_merged_run_is_invalid_when_either_run_was(work: Path) -> None:
    old = write_run(work / "known-good", candidate_errors=False, run_id="old")
    new = write_run(work / "tonight", candidate_errors=False, run_id="new")
    manifest = json.loads(RunDir(old).manifest.read_text())
    manifest["validity"] = {"valid": False, "reasons": ["send lag p99 40 ms > 10 ms"]}
    RunDir(old).manifest.write_text(json.dumps(manifest))
    merged = merge_runs(RunSide(old, "candidate"), RunSide(new, "candidate"), work / "merged")
    (comparison,) = compare_run(merged, baseline="known-good", candidate="candidate")
    assert comparison.verdict.status == "invalid"
    assert "known-good run: send lag p99 40 ms > 10 ms" in comparison.verdict.reason


def test_a_changed_schedule_is_detected(work: Path) -> None:
    old = write_run(work / "known-good", candidate_errors=False, run_id="old")
    new = write_run(work / "tonight", candidate_errors=False, run_id="new", faults=[])
    assert schedule_differences(old, new) == ["faults"]


def test_a_run_without_the_target_cannot_be_merged(work: Path) -> None:
    old = write_run(work / "known-good", candidate_errors=False, run_id="old")
    new = write_run(work / "tonight", candidate_errors=False, run_id="new")
    with pytest.raises(InputError, match="no rows of target 'hotfix'"):
        merge_runs(RunSide(old, "hotfix"), RunSide(new, "candidate"), work / "merged")


def test_promote_replaces_the_previous_known_good_run(work: Path) -> None:
    first = write_run(work / "n1" / "s", candidate_errors=False, run_id="first")
    second = write_run(work / "n2" / "s", candidate_errors=False, run_id="second")
    (second / "stack").mkdir()
    known_good = work / "known-good" / "s"
    promote(first, known_good, night="n1")
    promote(second, known_good, night="n2")
    assert json.loads(RunDir(known_good).manifest.read_text())["run_id"] == "second"
    assert json.loads((known_good / "promoted.json").read_text())["night"] == "n2"
    assert not (known_good / "stack").exists()
    assert sorted(p.name for p in known_good.parent.iterdir()) == ["s"]  # no leftovers


def test_a_night_of_crashes_is_indexed_and_exits_with_their_code(work: Path) -> None:
    suite = work / "suite"
    suite.mkdir()
    (suite / "broken.yaml").write_text("name: broken\nspeed: fast\n")
    (suite / "no-capture.yaml").write_text(
        f"name: no-capture\ncapture: {work / 'nope.parquet'}\n"
        f"stack: {REPO / 'examples' / 'payments' / 'stack.yaml'}\n"
    )
    summary = run_night(NightRequest(suite=suite, results=work / "results", night="n1"))
    assert [(s.name, s.status, s.exit_code) for s in summary.scenarios] == [
        ("broken", "error", 3),
        ("no-capture", "error", 3),
    ]
    assert all(s.reason and "\n" not in s.reason for s in summary.scenarios)
    assert summary.exit_code == 3
    html = (work / "results" / "nights" / "n1" / "index.html").read_text()
    assert "nope.parquet" in html and "broken.yaml" in html


def _doc_commands() -> list[list[str]]:
    text = (REPO / "docs" / "chaos.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    return [shlex.split(line) for block in blocks for line in block.splitlines() if line.strip()]


def test_every_command_line_of_the_docs_parses() -> None:
    commands = _doc_commands()
    assert len(commands) >= 3
    parser = build_parser()
    for argv in commands:
        assert argv[:2] == ["harness", "chaos"], argv
        args = parser.parse_args(argv[1:])
        assert args.suite == Path("scenarios/nightly/")
        assert (REPO / args.suite).is_dir()
    promoted = parser.parse_args(commands[-1][1:])
    assert promoted.promote and promoted.quiet
    assert promoted.results == Path("/srv/harness/results")
    built = parser.parse_args(commands[1][1:])
    assert built.build == ["candidate=hotfix-naive"]


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:  # argparse's --help exits through SystemExit
        main(["chaos", "--help"])
    assert stopped.value.code == 0
    text = capsys.readouterr().out
    for needle in ("worst of the scenarios' exit codes", "0 every scenario passed", "--promote"):
        assert needle in " ".join(text.split())


def _two_scenarios(work: Path) -> Path:
    suite = work / "suite"
    suite.mkdir()
    for name in ("first", "second"):
        (suite / f"{name}.yaml").write_text(f"name: {name}\n")
    return suite


def test_an_unexpected_exception_is_an_error_with_exit_70(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.workflows.chaos as chaos

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom\nwith a second line")

    monkeypatch.setattr(chaos, "run_scenario", crash)  # a fake, in addition to the real runs
    request = NightRequest(suite=_two_scenarios(work), results=work / "results", night="n1")
    summary = run_night(request)
    assert [(s.status, s.exit_code) for s in summary.scenarios] == [("error", 70), ("error", 70)]
    night = work / "results" / "nights" / "n1"
    for scenario in summary.scenarios:
        head, saved = str(scenario.reason).split("; traceback saved to ")
        assert (
            head == "internal error (a bug in the harness): RuntimeError: boom with a second line"
        )
        assert Path(saved).parent == night  # no run folder was made: the night's folder
        assert "RuntimeError: boom" in Path(saved).read_text()
    assert summary.exit_code == 70


def test_sigterm_between_runs_stops_the_night(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    import harness.workflows.chaos as chaos
    from harness.errors import Interrupted

    def terminated(*_args: object, **_kwargs: object) -> None:
        raise Interrupted("terminated by SIGTERM", signum=int(signal.SIGTERM))

    monkeypatch.setattr(chaos, "run_scenario", terminated)
    request = NightRequest(suite=_two_scenarios(work), results=work / "results", night="n1")
    summary = run_night(request)
    first, second = summary.scenarios
    assert (first.status, first.exit_code) == ("interrupted", 143)
    assert second.status == "error" and second.reason.startswith("not run")
    assert summary.exit_code == 143
