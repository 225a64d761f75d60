"""Staging identities end to end: sessions that logged in before the capture began.

The notes recording is imported from its 12th second on (API traffic only): the API writers'
logins are not in it, so their requests carry tokens that no captured answer delivered. Replayed
to the notes service on the embedded stack with the stack file's ``auth: login`` (a login per
session with the example's staging accounts, before the replay starts), those requests are
answered; without it they are refused with 401. A login that fails stops the run with exit 4.
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
NOTES = REPO / "examples" / "notes"
pytestmark = pytest.mark.slow

AUTH = """\
  auth:
    login:
      request:
        path: /api/users/login
        json: {{user: {{email: "{{account.email}}", password: "{{account.password}}"}}}}
      accounts: {accounts}
      token: json:$.user.token
      apply: header:Authorization
      format: "Token {{token}}"
"""
#: API routes whose writes (and /api/user) need the token; their GETs are public
AUTHENTICATED = ("/api/user", "/api/notes", "/api/notes/{id}/comments", "/api/notes/{id}")


@pytest.fixture(scope="module")
def work() -> Iterator[Path]:
    with reachable_tmpdir("identities") as path:
        yield path


@pytest.fixture(scope="module")
def capture(work: Path) -> Path:
    config = work / "late.yaml"
    config.write_text("filters: {since_s: 12, routes: ['/api/*']}\n")
    out = work / "late.capture.parquet"
    source = str(REPO / "captures" / "notes-demo.mitm")
    assert main(["capture", "import", source, "-o", str(out), "--config", str(config)]) == 0
    return out


def _stack(work: Path, name: str, accounts: Path | None) -> Path:
    text = (NOTES / "stack.yaml").read_text()
    text = text.replace("{python} app.py", "{python} " + str(NOTES / "app.py"))
    text = text.replace("init_sql: schema.sql", f"init_sql: {NOTES / 'schema.sql'}")
    if accounts is not None:
        text += AUTH.format(accounts=accounts)
    path = work / f"{name}.stack.yaml"
    path.write_text(text)
    return path


def _scenario(work: Path, name: str, capture: Path, stack: Path) -> Path:
    path = work / f"{name}.yaml"
    path.write_text(
        f"name: {name}\ncapture: {capture}\nstack: {stack}\nspeed: 2.0\n"
        "allow_original_host: true\ntimeout: 5s\nfidelity: 0\n"
    )
    return path


def _run(work: Path, name: str, capture: Path, accounts: Path | None) -> tuple[int, Path]:
    scenario = _scenario(work, name, capture, _stack(work, name, accounts))
    run_dir = work / name
    code = main(["run", str(scenario), "-o", str(run_dir), "--no-judge", "--quiet"])
    return code, run_dir


def _refused(run_dir: Path) -> float:
    rows = pd.read_parquet(run_dir / "requests.parquet")
    needs_token = (rows["method"] != "GET") | (rows["route"] == "/api/user")
    mine = rows[(rows["target"] == "baseline") & rows["route"].isin(AUTHENTICATED) & needs_token]
    captured_ok = mine[mine["orig_status"] < 300]
    assert len(captured_ok) > 50
    return float(captured_ok["status"].isin([401, 403]).mean())


def test_sessions_without_their_login_get_a_staging_identity(work: Path, capture: Path) -> None:
    code, run_dir = _run(work, "with-auth", capture, NOTES / "accounts.csv")
    assert code == 0
    assert _refused(run_dir) == 0.0
    manifest = json.loads((run_dir / "manifest.json").read_text())
    # the six API writers log in, once per target
    assert manifest["identities"] == {
        "baseline": {"logins": 6, "logins_failed": 0},
        "candidate": {"logins": 6, "logins_failed": 0},
    }


def test_without_identities_the_same_requests_are_refused(work: Path, capture: Path) -> None:
    code, run_dir = _run(work, "without-auth", capture, None)
    assert code == 0
    assert _refused(run_dir) > 0.9


def test_a_login_that_fails_stops_the_run_naming_target_and_status(
    work: Path, capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = work / "wrong.csv"
    wrong.write_text("email,password\nstaging-01@example.org,not-the-password\n" * 1)
    rows = "email,password\n" + "staging-01@example.org,not-the-password\n" * 6
    wrong.write_text(rows)
    code, _ = _run(work, "bad-login", capture, wrong)
    err = capsys.readouterr().err
    assert code == 4
    assert "target baseline: staging login failed: POST /api/users/login answered 401:" in err
    assert "not-the-password" not in err


def test_too_few_accounts_stop_the_run_before_the_stack_starts(
    work: Path, capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    few = work / "few.csv"
    few.write_text("email,password\nstaging-01@example.org,staging-pass-01\n")
    code, run_dir = _run(work, "few-accounts", capture, few)
    err = capsys.readouterr().err
    assert code == 3
    assert "few-accounts.stack.yaml:" in err
    assert "auth.login: 1 account(s) for 6 sessions that need a staging identity" in err
    assert "share: true" in err
    assert not (run_dir / "requests.parquet").exists()
