"""Captured logins and the browser's Origin end to end, on the notes example's form pages.

The browser users of the notes recording, imported without their sign-ups (``--deny-route
/signup``: as in a production capture, the users existed before it began) and as if recorded on
``https://notes.example.com`` behind a TLS terminator (``--host``, and the ``Origin`` a browser
sends there). Replayed by ``harness run`` to the notes builds on the embedded stack:

- each session's own login (login page, CSRF cookie and token, POST, session cookie) logs in with
  a staging account from ``auth: captured_login``, and every page after it answers as captured;
  the notes service checks ``Origin`` against the ``Host`` it was sent, as Django does, so this
  also needs the replay to name the target's origin where the capture named its own;
- without the rule the same logins fail (200 with the form's error) and the pages redirect to
  the login page;
- an ``Origin`` of another site is kept, so the service refuses the login (403), and a wrong
  password: both stop the run before any traffic with exit 4, no password printed;
- the same rule on the API's JSON login (the API writers without their registrations): each
  login gets an account, and the token it answers carries the session.
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
    captured_login:
      route: /login
      fields: {{username: "{{account.user}}", password: "{{account.password}}"}}
      accounts: {accounts}
"""
JSON_AUTH = """\
  auth:
    captured_login:
      route: /api/users/login
      fields: {{email: "{{account.email}}", password: "{{account.password}}"}}
      accounts: {accounts}
"""
#: the browser users' logins in the recording (one each)
LOGINS = 4


@pytest.fixture(scope="module")
def work() -> Iterator[Path]:
    with reachable_tmpdir("captured-login") as path:
        yield path


def _import(work: Path, name: str, origin: str) -> Path:
    out = work / f"{name}.capture.parquet"
    args = ["capture", "import", str(REPO / "captures" / "notes-demo.mitm"), "-o", str(out)]
    args += ["--route", "/login", "--route", "/notes*", "--route", "/logout"]
    args += ["--deny-route", "/signup", "--host", "notes.example.com"]
    args += ["--set-header", f"Origin={origin}"]
    assert main(args) == 0
    return out


@pytest.fixture(scope="module")
def capture(work: Path) -> Path:
    return _import(work, "browsers", "https://notes.example.com")


def _run(
    work: Path, name: str, capture: Path, accounts: Path | None, *, auth: str = AUTH
) -> tuple[int, Path]:
    text = (NOTES / "stack.yaml").read_text()
    text = text.replace("{python} app.py", "{python} " + str(NOTES / "app.py"))
    text = text.replace("init_sql: schema.sql", f"init_sql: {NOTES / 'schema.sql'}")
    if accounts is not None:
        text += auth.format(accounts=accounts)
    stack = work / f"{name}.stack.yaml"
    stack.write_text(text)
    scenario = work / f"{name}.yaml"
    scenario.write_text(
        f"name: {name}\ncapture: {capture}\nstack: {stack}\nspeed: 3.0\ntimeout: 5s\nfidelity: 0\n"
    )
    run_dir = work / name
    code = main(["run", str(scenario), "-o", str(run_dir), "--no-judge", "--quiet"])
    return code, run_dir


def _baseline(run_dir: Path) -> pd.DataFrame:
    rows = pd.read_parquet(run_dir / "requests.parquet")
    return rows[rows["target"] == "baseline"]


def test_each_captured_login_logs_in_with_a_staging_account(work: Path, capture: Path) -> None:
    code, run_dir = _run(work, "with-rule", capture, NOTES / "accounts.csv")
    assert code == 0
    manifest = json.loads((run_dir / "manifest.json").read_text())
    counts = {"captured_logins": LOGINS, "captured_logins_failed": 0}
    assert manifest["identities"] == {"baseline": counts, "candidate": counts}
    rows = _baseline(run_dir)
    logins = rows[(rows["method"] == "POST") & (rows["route"] == "/login")]
    assert logins["status"].tolist() == [302] * LOGINS
    assert set(logins["location_route"]) == {"/notes"}
    # every page and form after the login answers as captured (form POSTs pass the origin check)
    same = rows["status"] // 100 == rows["orig_status"] // 100
    assert len(rows) > 300 and same.mean() >= 0.99, rows[~same][["route", "status"]].head()
    posts = rows[(rows["method"] == "POST") & (rows["route"] != "/login")]
    assert len(posts) > 50 and not (posts["status"] == 403).any()


def test_without_the_rule_the_pseudonymised_passwords_fail(work: Path, capture: Path) -> None:
    code, run_dir = _run(work, "without-rule", capture, None)
    assert code == 0
    rows = _baseline(run_dir)
    logins = rows[(rows["method"] == "POST") & (rows["route"] == "/login")]
    assert logins["status"].tolist() == [200] * LOGINS  # the form again, with its error
    pages = rows[(rows["method"] == "GET") & (rows["orig_status"] == 200)]
    pages = pages[pages["route"] != "/login"]
    assert len(pages) > 100 and (pages["status"] == 302).mean() > 0.95


def test_another_sites_origin_is_kept_and_refused_before_any_traffic(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = _import(work, "foreign", "https://partner.example.org")
    code, run_dir = _run(work, "foreign-origin", foreign, NOTES / "accounts.csv")
    err = capsys.readouterr().err
    assert code == 4, err
    assert "target baseline: the captured login POST /login (capture idx " in err
    assert "with staging account 1 answered 403 where the capture has 302 to /notes" in err
    assert "foreign-origin.stack.yaml:" in err
    assert not (run_dir / "requests.parquet").exists()


def test_a_wrong_password_stops_the_run_without_printing_it(
    work: Path, capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = work / "wrong.csv"
    rows = [f"staging-0{n},staging-0{n}@example.org,not-the-password-{n}" for n in range(1, 5)]
    wrong.write_text("user,email,password\n" + "\n".join(rows) + "\n")
    code, run_dir = _run(work, "wrong-password", capture, wrong)
    err = capsys.readouterr().err
    assert code == 4, err
    assert "with staging account 1 answered 200 where the capture has 302 to /notes" in err
    assert "not-the-password" not in err
    assert not (run_dir / "requests.parquet").exists()


def test_a_json_login_takes_its_account_from_the_same_rule(work: Path) -> None:
    # the API writers, without their registrations: each JSON login needs a staging account
    api = work / "api.capture.parquet"
    args = ["capture", "import", str(REPO / "captures" / "notes-demo.mitm"), "-o", str(api)]
    assert main([*args, "--route", "/api/*", "--deny-route", "/api/users"]) == 0
    code, run_dir = _run(work, "json-login", api, NOTES / "accounts.csv", auth=JSON_AUTH)
    assert code == 0
    manifest = json.loads((run_dir / "manifest.json").read_text())
    counts = {"captured_logins": 6, "captured_logins_failed": 0}
    assert manifest["identities"] == {"baseline": counts, "candidate": counts}
    rows = _baseline(run_dir)
    logins = rows[rows["route"] == "/api/users/login"]
    assert logins["status"].tolist() == [200] * 6
    # the token each login got is sent by the session's later requests: none refused
    token = rows[(rows["link"] != "none") & (rows["orig_status"] < 300)]
    assert len(token) > 200 and not token["status"].isin([401, 403]).any()
