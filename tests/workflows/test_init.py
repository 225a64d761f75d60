"""`harness init`: the files it writes from real recordings, its questions, its bad inputs.

The files are checked as the harness reads them (stack file loaded, capture config validated,
scenario linted) and for what they say; the end-to-end runs on the real stack are in
tests/workflows/test_init_e2e.py.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harness.capture.config import load_config
from harness.cli.main import main
from harness.scenario.lint import lint
from harness.scenario.stackfile import load_stack
from harness.workflows.init import InitRequest, init_service

REPO = Path(__file__).resolve().parents[2]
NOTES = REPO / "captures" / "notes-demo.mitm"
PAYMENTS = REPO / "captures" / "payments-demo.mitm"
BUILD = "{python} app.py --port {port} --dsn {postgres.url} --variant v1.8.0"


def _init(tmp_path: Path, *args: str) -> int:
    return main(["init", *args, "-o", str(tmp_path / "replay")])


def test_notes_recording_gives_a_stack_a_config_and_a_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO / "examples" / "notes")  # where the user would type the command
    code = _init(tmp_path, str(NOTES), "--build", BUILD, "--init-sql", "schema.sql", "--yes")
    out, err = capsys.readouterr()
    assert code == 0, out
    replay = tmp_path / "replay"
    assert sorted(p.name for p in replay.iterdir()) == [
        "capture.yaml",
        "db-kill.yaml",
        "notes-demo.capture.parquet",
        "stack.yaml",
    ]
    stack = load_stack(replay / "stack.yaml")
    assert stack.resolve_path(stack.file.postgres.init_sql or Path()) == (
        REPO / "examples" / "notes" / "schema.sql"
    )
    assert stack.resolve_path(stack.file.defaults.cwd or Path()) == REPO / "examples" / "notes"
    assert stack.file.builds == {"current": BUILD}
    assert stack.file.defaults.health == "/health"
    assert stack.file.defaults.env == {"DATABASE_URL": "{postgres.url}"}
    assert {t.build for t in stack.file.targets.values()} == {"current"}
    config = load_config(replay / "capture.yaml")
    assert len(config.routes.templates) == 16
    assert "/api/notes/{id}/comments/{id}" in config.routes.templates
    report = lint(replay / "db-kill.yaml")
    assert report.problems == []
    scenario = report.scenario
    assert scenario is not None
    assert scenario.duration == 62.0 and scenario.speed == 1.0 and not scenario.loop
    (fault,) = scenario.fault_list()
    assert (fault.at, fault.for_, fault.kind) == (19.0, 16.0, "down")
    # /health 8 times in 62.8 s: even a 30 s fault would hold too few for the cascade check
    # to pass; the fault is left as it was, and init says so
    assert (
        "warning: the capture sends 0.13 requests a second to its independent routes: about 2 "
        "in the 16 s fault, fewer than the 30 a gate needs to pass"
    ) in err
    assert scenario.independent_routes == ["/health"]
    assert scenario.allow_original_host
    assert scenario.gates.cascade is not None and scenario.gates.retry_amplification is not None
    assert f"harness run {replay / 'db-kill.yaml'}" in out


def test_a_short_capture_loops_and_a_capture_file_is_used_as_it_is(tmp_path: Path) -> None:
    capture = REPO / "captures" / "payments-demo-mitm.capture.parquet"
    request = InitRequest(
        sources=[str(capture)], out_dir=tmp_path, build="app --port {port}", name="pay"
    )
    result = init_service(request, _Script([]))
    assert result.capture == capture
    text = (tmp_path / "db-kill.yaml").read_text()
    # 29 s, looped; the fault long enough for ~45 requests of /health (2.4 a second)
    assert "loop: true" in text and "duration: 50s" in text and "for: 19s" in text
    scenario = lint(tmp_path / "db-kill.yaml").scenario
    assert scenario is not None and scenario.capture == capture.resolve()
    assert scenario.independent_routes == ["/health"]


class _Script:
    """Answers the questions of init in order, and records them."""

    def __init__(self, answers: list[str | bool]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def ask(self, question: str, default: str | None) -> str | None:
        self.asked.append(question)
        answer = self.answers.pop(0) if self.answers else ""
        assert isinstance(answer, str)
        return answer or default

    def confirm(self, question: str, default: bool) -> bool:
        self.asked.append(question)
        answer = self.answers.pop(0) if self.answers else default
        assert isinstance(answer, bool)
        return answer

    def say(self, text: str) -> None:
        pass


def test_questions_are_asked_for_what_the_options_leave_open(tmp_path: Path) -> None:
    script = _Script(["shop", "uvicorn app:app --port {port}", "/ready", False, "/api/tags, /x"])
    request = InitRequest(sources=[str(PAYMENTS)], out_dir=tmp_path)
    init_service(request, script)
    assert [q.split(" (")[0] for q in script.asked] == [
        "name of the stack",
        "command that starts your service",
        "health path",
        "  /health works without the database?",
        "more independent routes",
    ]
    stack = yaml.safe_load((tmp_path / "stack.yaml").read_text())
    assert stack["name"] == "shop"
    assert stack["builds"]["current"] == "uvicorn app:app --port {port}"
    assert stack["defaults"]["health"] == "/ready"
    scenario = yaml.safe_load((tmp_path / "db-kill.yaml").read_text())
    assert scenario["independent_routes"] == ["/api/tags", "/x"]
    assert (tmp_path / "payments-demo.capture.parquet").is_file()  # named after the recording


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "needs the command that starts your service: --build"),
        (["--build", "app --listen 8080"], 2, "has no {port}"),
        (["--build", "app --port {port} --db {pg.url}"], 2, "unknown placeholder {pg.url}"),
        (["--build", "app --port {port}", "--init-sql", "nowhere.sql"], 3, "no such file"),
    ],
)
def test_bad_options_are_one_line_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    assert _init(tmp_path, str(PAYMENTS), "--yes", *args) == code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("harness: error:")]
    assert len(lines) == 1 and message in lines[0], err


def test_bad_traffic_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "junk.gor").write_bytes(b"not a recording\n")
    assert _init(tmp_path, str(tmp_path / "missing.mitm"), "--build", "a {port}", "--yes") == 3
    assert "missing.mitm: no such file" in capsys.readouterr().err
    assert _init(tmp_path, str(tmp_path / "junk.gor"), "--build", "a {port}", "--yes") == 3
    assert "junk.gor" in capsys.readouterr().err
    (tmp_path / "x.capture.parquet").write_bytes(b"PAR1 broken")
    assert _init(tmp_path, str(tmp_path / "x.capture.parquet"), "--build", "a {port}", "-y") == 3


def test_existing_files_are_kept_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [str(PAYMENTS), "--build", "app --port {port}", "--yes"]
    assert _init(tmp_path, *args) == 0
    (tmp_path / "replay" / "stack.yaml").write_text("# mine\n")
    assert _init(tmp_path, *args) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "replay" / "stack.yaml").read_text() == "# mine\n"
    assert _init(tmp_path, *args, "--force") == 0
    assert "# mine" not in (tmp_path / "replay" / "stack.yaml").read_text()


def _read_until(fd: int, text: str, timeout: float = 120.0) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        assert time.monotonic() < deadline, f"no {text!r} in {seen.decode(errors='replace')}"
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def test_a_terminal_gets_questions(tmp_path: Path) -> None:
    main_fd, tty = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "init", str(PAYMENTS), "-o", str(tmp_path / "r")],
        stdin=tty, stdout=tty, stderr=tty, cwd=tmp_path, close_fds=True,
    )  # fmt: skip
    os.close(tty)
    try:
        for prompt, answer in (
            ("name of the stack", "termshop"),
            ("command that starts your service", "app --port {port}"),
            ("health path", ""),
            ("works without the database?", "n"),
            ("more independent routes", "/catalog"),
        ):
            _read_until(main_fd, prompt)
            os.write(main_fd, answer.encode() + b"\r")
        rest = _read_until(main_fd, "next:")
        assert proc.wait(timeout=60) == 0, rest
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main_fd)
    scenario = yaml.safe_load((tmp_path / "r" / "db-kill.yaml").read_text())
    assert scenario["name"] == "termshop-db-kill"
    assert scenario["independent_routes"] == ["/catalog"]
    assert yaml.safe_load((tmp_path / "r" / "stack.yaml").read_text())["defaults"]["health"] == (
        "/health"
    )


def test_proposals_from_the_facts_of_a_capture() -> None:
    from collections import Counter

    from harness.workflows.initplan import (
        CaptureFacts,
        propose_health,
        propose_independent,
        propose_name,
        propose_timing,
    )

    calls = Counter(
        {("GET", "/"): 5, ("GET", "/healthz"): 3, ("GET", "/api/items/{id}"): 40,
         ("GET", "/static/app.js"): 2, ("GET", "/metrics"): 1, ("POST", "/ping"): 1}
    )  # fmt: skip
    ok = Counter({("GET", "/"): 5, ("GET", "/healthz"): 3, ("GET", "/api/items/{id}"): 40})
    facts = CaptureFacts(Path("c"), 52, 10.0, Counter({"shop.example.com:443": 52}), calls, ok)
    assert propose_health(facts) == "/healthz"
    assert propose_independent(facts) == ["/healthz", "/metrics", "/static/app.js"]
    assert propose_name(facts, "fallback") == "shop"
    assert not facts.loopback
    facts.ok = Counter({("GET", "/api/items/{id}"): 40, ("GET", "/"): 5})
    assert propose_health(facts) == "/"  # the busiest answered route without a parameter
    facts.hosts = Counter({"127.0.0.1:8080": 1})
    assert facts.loopback and propose_name(facts, "My Service!") == "my-service"
    assert propose_timing(600).duration_s == 90 and propose_timing(600).speed == 1
    long = propose_timing(62.8)
    assert (long.duration_s, long.fault_at_s, long.fault_for_s, long.loop) == (62, 19, 16, False)
    short = propose_timing(12)
    assert short.loop and short.fault_at_s + short.fault_for_s < short.duration_s


def test_the_proposed_fault_holds_enough_requests_for_a_gate_to_pass() -> None:
    from harness.workflows.initplan import propose_timing, thin_phases

    # the payments capture: 29.3 s, 14.2 req/s, /health 2.4 a second: 8 s held ~19 of them;
    # 22 s after the fault (it had 13: an `after` phase of 3 s)
    t = propose_timing(29.3, 14.2, 2.4)
    assert (t.fault_at_s, t.fault_for_s, t.duration_s, t.loop) == (9, 19, 50, True)
    assert thin_phases(t, 14.2, 2.4) is None
    # busy enough already: the proposal is the one by the capture's length alone
    assert propose_timing(62.8, 20, 5) == propose_timing(62.8)
    assert propose_timing(29.3, 14.2, None) == propose_timing(29.3)
    # a long capture: the fault grows to 30 s at most, the time after it shrinks to stay in 90 s
    t = propose_timing(600, 100, 1.2)
    assert (t.fault_at_s, t.fault_for_s, t.duration_s, t.loop) == (27, 30, 90, False)
    assert thin_phases(t, 100, 1.2) is None  # 36 requests
    # routes too sparse for 30 requests in 30 s: the fault stays as it was, with a warning
    assert propose_timing(600, 100, 0.2) == propose_timing(600)
    assert thin_phases(propose_timing(600), 100, 0.2) == (
        "the capture sends 0.2 requests a second to its independent routes: about 4 in the 22 s "
        "fault, fewer than the 30 a gate needs to pass (a build can still fail on them; an "
        "unchanged one is judged inconclusive): raise `speed` or the fault's `for` in the scenario"
    )
    # a slow capture: the time before the fault grows too (the `before` phase)
    t = propose_timing(12, 1.0)
    assert (t.fault_at_s, t.fault_for_s, t.loop) == (45, 30, True)
    assert t.duration_s == 45 + 30 + 22
    # at least 22 s after the fault: a 10 s recovery phase and 12 s after it
    short = propose_timing(12)
    assert (short.fault_at_s, short.fault_for_s, short.duration_s) == (9, 8, 39)


def test_environment_and_paths_as_a_project_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    (project / "db").mkdir(parents=True)
    (project / "db" / "schema.sql").write_text("CREATE TABLE t (id int);\n")
    monkeypatch.chdir(project)
    code = main(
        [
            "init", str(PAYMENTS), "--build", "venv/bin/app --port {port}",
            "--migrate", "venv/bin/alembic upgrade head", "--init-sql", "db/schema.sql",
            "--env", "APP_ENV=staging", "--env", "SECRET_KEY", "-o", "replay", "--yes",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr()
    stack = yaml.safe_load((project / "replay" / "stack.yaml").read_text())
    # inside the project: relative paths, so the folder can be committed and moved with it
    assert stack["postgres"]["init_sql"] == "../db/schema.sql"
    assert stack["defaults"]["cwd"] == ".."
    env = stack["defaults"]["env"]
    assert env == {
        "DATABASE_URL": "{postgres.url}",
        "APP_ENV": "staging",
        "SECRET_KEY": {"from_env": "SECRET_KEY"},  # a secret is read when the stack starts
    }
    (migrate,) = stack["postgres"]["migrate"]
    assert migrate["run"] == "venv/bin/alembic upgrade head"
    assert migrate["cwd"] == ".."
    assert migrate["env"] == env
    loaded = load_stack(project / "replay" / "stack.yaml")
    assert loaded.resolve_path(Path(migrate["cwd"])) == project
    assert main(["init", str(PAYMENTS), "--build", "a {port}", "--env", "9X=1", "-y"]) == 2
