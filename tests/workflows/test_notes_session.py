"""The stateful notes example end to end: default import, replay with session state, DB kill.

The committed recording (captures/notes-demo.mitm: users who register and log in, a token in a
JSON body, cookie sessions with CSRF tokens, notes and comments by server-assigned slug and id)
is imported with the defaults and replayed by ``harness validate`` to two builds of the notes
service on the embedded stack, with the database killed in the middle. Before the fault the
baseline must answer like the capture (>= 99 % status classes, redirects to the same routes),
links must be filled from each target's own replies, and the verdict must come from
authenticated routes that answered, not from 401s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from harness.cli.main import main
from tests.workdirs import reachable_tmpdir

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

#: routes that need the API token or the session cookie
AUTHENTICATED = ("/api/user", "/api/notes/{id}/comments", "/notes", "/notes/{id}")


@pytest.fixture(scope="module")
def work() -> Iterator[Path]:
    with reachable_tmpdir("notes") as path:
        yield path


@pytest.fixture(scope="module")
def scenario(work: Path) -> Path:
    capture = work / "notes.capture.parquet"
    assert (
        main(["capture", "import", str(REPO / "captures" / "notes-demo.mitm"), "-o", str(capture)])
        == 0
    )
    text = (REPO / "scenarios" / "notes-db-kill.yaml").read_text()
    text = text.replace("../captures/notes-demo-mitm.capture.parquet", str(capture))
    text = text.replace(
        "../examples/notes/stack.yaml", str(REPO / "examples" / "notes" / "stack.yaml")
    )
    path = work / "notes-db-kill.yaml"
    path.write_text(text)
    return path


def _validate(scenario: Path, run_dir: Path, candidate: str) -> int:
    args = ["validate", str(scenario), "--baseline", "v1.8.0", "--candidate", candidate]
    return main([*args, "-o", str(run_dir), "--quiet"])


def test_safe_hotfix_passes_on_a_faithful_replay_of_authenticated_traffic(
    scenario: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = work / "safe"
    code = _validate(scenario, run_dir, "hotfix-safe")
    out = capsys.readouterr().out
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert code == 0, out + json.dumps(verdict.get("fidelity"), indent=1)
    assert verdict["status"] == "pass"
    fidelity = {t["target"]: t for t in verdict["fidelity"]["targets"]}
    for name in ("baseline", "candidate"):
        assert fidelity[name]["share"] >= 0.99, fidelity[name]
    rows = pd.read_parquet(run_dir / "requests.parquet")
    before = rows[rows["due_ns"] < 15e9]
    linked = before[before["link"] != "none"]
    assert len(linked) > 200 and (linked["link"] == "ok").mean() >= 0.99
    # the authenticated routes answered as captured before the fault: no 401/403 where the
    # capture had a 2xx (the capture's own 401s are anonymous readers), no 302 to the login page
    auth = before[before["route"].isin(AUTHENTICATED)]
    assert len(auth) > 100
    answered = auth[auth["orig_status"] < 300]
    assert len(answered) > 100
    assert not answered["status"].isin([401, 403]).any()
    assert not (auth["location_route"] == "/login").any()
    # and they are what the fault hit: 503 while the database was down
    moved = rows["due_ns"] + rows["wait_ms"] * 1e6  # a session wait moves the schedule
    during = rows[(moved >= 16e9) & (moved < 26e9)]
    assert (during[during["route"].isin(AUTHENTICATED)]["status"] == 503).mean() > 0.9
    assert (rows["wait_ms"] > 0).any()
    assert "Replay fidelity before the first fault" in (run_dir / "summary.md").read_text()


def test_naive_hotfix_fails_on_the_same_traffic(
    scenario: Path, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = work / "naive"
    code = _validate(scenario, run_dir, "hotfix-naive")
    out = capsys.readouterr().out
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert code == 1, out
    assert verdict["status"] == "fail"
    assert verdict["fidelity"]["valid"] is True
