"""`harness calibrate` end to end: two A/A replays of the production build on the embedded stack
(real PostgreSQL, toxiproxy-server and payments services), then re-judged from the directories."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli.main import main
from tests.workdirs import reachable_tmpdir
from tests.workflows.traffic import write_short_kill

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def work() -> Iterator[Path]:
    # not pytest's tmp_path: the embedded PostgreSQL runs as an unprivileged user, who cannot
    # enter root's private pytest folder
    with reachable_tmpdir("calibrate") as path:
        yield path


def test_replays_copies_and_rejudges_them(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tmp_path = work
    scenario = write_short_kill(tmp_path / "short-kill.yaml", REPO / "examples/payments/stack.yaml")
    with scenario.open("a") as handle:  # a machine shared by many test runs: judge, whatever lag
        handle.write("lag_bound_ms: 1000\n")
    out = tmp_path / "calibration"
    args = ["calibrate", str(scenario), "--build", "v2.3.1", "--runs", "2", "-o", str(out)]
    code = main([*args, "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads((out / "calibration.json").read_text())
    assert (result["runs"], result["judged"]) == (2, 2)
    assert [g["name"] for g in result["gates"]] == [
        "error_rate",
        "latency_p99",
        "retry_amplification",
        "recovery_time",
        "cascade",
    ]
    for number in (1, 2):
        manifest = json.loads((out / f"aa-0{number}" / "manifest.json").read_text())
        builds = {t["role"]: t["build"] for t in manifest["targets"].values()}
        assert builds == {"baseline": "v2.3.1", "candidate": "v2.3.1"}
        assert (out / f"aa-0{number}" / "verdict.json").is_file()
    assert "false fails on 2 A/A runs (of 2)" in captured.out

    again = tmp_path / "again"
    runs = [str(out / "aa-01"), str(out / "aa-02")]
    assert main(["calibrate", str(scenario), "--from", *runs, "-o", str(again), "--quiet"]) == 0
    rejudged = json.loads((again / "calibration.json").read_text())
    # the same runs, the same gates: the same counts
    assert [(g["failed"], g["judged"]) for g in rejudged["gates"]] == [
        (g["failed"], g["judged"]) for g in result["gates"]
    ]
