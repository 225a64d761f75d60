"""The demo stack through the real components: toxiproxy, embedded PostgreSQL, two builds.

`harness stack up` runs as a real subprocess; the test reads its state, checks `stack status
--json`, stops it with SIGINT and checks that no process and no proxy is left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.cli.main import main

REPO = Path(__file__).resolve().parents[2]
DEMO_STACK = REPO / "examples" / "payments" / "stack.yaml"
pytestmark = pytest.mark.slow


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    """A work dir outside pytest's 0700 tmp root, so the `pgserver` user can reach its data dir."""
    path = Path(tempfile.mkdtemp(prefix="harness-test-stack-"))
    try:
        yield path / "stack"
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split()[2] == "Z"


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 90.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"stack up exited early: {proc.communicate()[1]}")
        if path.exists():
            return json.loads(path.read_text())  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError("stack did not come up in time")


def _harness(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_stack_up_status_and_ctrl_c(work: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "stack",
            "up",
            str(DEMO_STACK),
            "--work-dir",
            str(work),
            "--build",
            "candidate=hotfix-naive",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state = _wait_for(work / "stack.json", proc)
        status = _harness("stack", "status", "--json", "--work-dir", str(work))
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert set(report["targets"]) == {"baseline", "candidate"}
        for name, info in report["targets"].items():
            assert info["healthy"] is True, name
        assert report["targets"]["candidate"]["build"] == "hotfix-naive"
        proxies = report["proxies"]
        assert set(proxies) == {"payments-baseline-postgres", "payments-candidate-postgres"}
        for info in proxies.values():
            assert info["enabled"] is True
            assert info["listen"].startswith("127.0.0.1:")
            assert info["upstream"].startswith("127.0.0.1:")
        # Each build serves from its own database: a payment on one is not seen by the other.
        base = report["targets"]["baseline"]["url"]
        cand = report["targets"]["candidate"]["url"]
        before = httpx.get(f"{cand}/accounts/1/balance").json()
        created = httpx.post(
            f"{base}/payments",
            json={"account_id": 1, "amount_cents": 500, "currency": before["currency"]},
        )
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        assert httpx.get(f"{base}{location}").status_code == 200
        assert httpx.get(f"{cand}{location}").status_code == 404
        assert httpx.get(f"{cand}/accounts/1/balance").json() == before
        pids = [int(t["pid"]) for t in state["targets"].values()]  # type: ignore[union-attr]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:  # never leave a stack running behind a failed test
            proc.terminate()
            proc.communicate(timeout=60)
            raise
    assert proc.returncode == 0, err
    assert "stack is down" in err
    for pid in pids:
        assert _gone(pid)
    assert not (work / "stack.json").exists()


def test_sigterm_tears_down(work: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "stack", "up", str(DEMO_STACK), "--work-dir", str(work)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state = _wait_for(work / "stack.json", proc)
        pids = [int(t["pid"]) for t in state["targets"].values()]  # type: ignore[union-attr]
        down = _harness("stack", "down", "--work-dir", str(work))
        assert down.returncode == 0, down.stderr
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    for pid in pids:
        assert _gone(pid)


def test_sigkill_then_stack_down_stops_what_was_left(work: Path) -> None:
    """It used to say "the stack process ... is gone already", exit 0 and leave it all running."""
    from harness.stack.lifetime import ProcessIdentity

    # a state directory of its own: no other test's orphan to find
    env = {**os.environ, "HARNESS_STATE_DIR": str(work.parent / "state")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "stack", "up", str(DEMO_STACK), "--work-dir", str(work)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        state = _wait_for(work / "stack.json", proc)
    finally:
        proc.kill()  # SIGKILL: no teardown at all
        proc.communicate(timeout=30)
    ledger = json.loads(Path(str(state["ledger"])).read_text())
    postmaster = ProcessIdentity.from_json(ledger["postgres"]["process"])
    assert postmaster is not None and postmaster.alive()  # a daemon: left behind
    targets = [ProcessIdentity.from_json(p) for p in ledger["processes"].values()]
    assert len(targets) == 2
    deadline = time.monotonic() + 20  # the targets die with their parent
    while any(t is not None and t.alive() for t in targets) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(t is not None and t.alive() for t in targets)
    down = _harness("stack", "down", "--work-dir", str(work), env=env)
    assert down.returncode == 0, down.stderr
    assert f"stopped PostgreSQL (pid {postmaster.pid})" in down.stdout
    assert f"removed {work / 'stack.json'}" in down.stdout
    assert not postmaster.alive()
    assert not Path(str(state["ledger"])).exists()
    again = _harness("stack", "down", "--work-dir", str(work), env=env)
    assert again.returncode == 3  # nothing running, nothing left to clean


def test_sigkill_during_a_slow_migration_leaves_nothing(work: Path) -> None:
    """The template's processes are in the ledger before they run and die with the harness."""
    from harness.stack.lifetime import ProcessIdentity

    env = {**os.environ, "HARNESS_STATE_DIR": str(work.parent / "state")}
    stack_dir = work.parent / "slow"
    stack_dir.mkdir()
    pids = stack_dir / "migrate.pids"
    # the migration's shell, and a job it leaves in the background (no parent-death signal)
    (stack_dir / "stack.yaml").write_text(
        "name: slowmig\n"
        "postgres:\n"
        "  template: slowmig_template\n"
        "  migrate:\n"
        "    - run: \"sh -c 'sleep 60 & echo $$ $! > {stack_dir}/migrate.pids; exec sleep 61'\"\n"
        "      timeout: 120s\n"
        "targets:\n"
        "  baseline: {command: '{python} -m http.server {port}'}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "stack", "up", str(stack_dir / "stack.yaml"),
         "--work-dir", str(work)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    found: list[int] = []
    state = work.parent / "state" / "stacks"
    try:
        try:
            deadline = time.monotonic() + 180  # PostgreSQL first: slow on a loaded machine
            while len(found) < 2 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.1)
                found = [int(w) for w in pids.read_text().split()] if pids.exists() else []
            assert len(found) == 2, "the migration did not start"
            (ledger_path,) = state.glob("*.json")
            ledger = json.loads(ledger_path.read_text())
            recorded = ProcessIdentity.from_json(ledger["processes"]["template migrate 0"])
            assert recorded is not None and recorded.pid == found[0] and recorded.alive()
            toxiproxy = ProcessIdentity.from_json(ledger["toxiproxy"]["process"])
        finally:
            proc.kill()  # SIGKILL: no teardown at all
            proc.communicate(timeout=30)
        deadline = time.monotonic() + 30  # the migration and its job die with the harness
        while not all(_gone(pid) for pid in found) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(_gone(pid) for pid in found)
        down = _harness("stack", "down", "--work-dir", str(work), env=env)
        assert down.returncode == 0, down.stderr
        assert "stopped PostgreSQL (pid " in down.stdout
        assert "template migrate" not in down.stdout  # nothing of it was left to stop
        assert toxiproxy is None or not toxiproxy.alive()
        assert not ledger_path.exists()
        again = _harness("stack", "down", "--work-dir", str(work), env=env)
        assert again.returncode == 3  # nothing running, nothing left to clean
    finally:
        for pid in found:  # whatever happened, nothing of the test outlives it
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
        if state.is_dir() and any(state.glob("*.json*")):
            _harness("stack", "down", "--work-dir", str(work), env=env)


def test_status_without_a_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stack", "status", "--work-dir", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "no running stack" in err
    assert err.count("\n") == 1


def test_bad_stack_file_names_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "stack.yaml"
    bad.write_text("name: x\ntargets:\n  a: {command: 'true', helth: /h}\n")
    assert main(["stack", "up", str(bad), "--work-dir", str(tmp_path / "w")]) == 3
    err = capsys.readouterr().err
    assert f"{bad}:3: targets.a.helth: unknown key" in err
    assert err.count("\n") == 1


def test_target_never_healthy(tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(
        "name: sick\n"
        "targets:\n"
        "  baseline:\n"
        # a shell prints at once even on a loaded machine (a Python may not start in 2 s)
        "    command: \"/bin/sh -c 'echo cannot open config; exec sleep 30'\"\n"
        "    startup_timeout: 2s\n"
        "    stop_grace: 1s\n"
    )
    work = tmp_path / "w"
    result = _harness("stack", "up", str(stack), "--work-dir", str(work))
    assert result.returncode == 4, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("harness: error")]
    assert len(lines) == 1
    assert "did not become healthy" in lines[0]
    assert "cannot open config" in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_toxiproxy_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text("name: t\ntargets:\n  baseline: {command: 'true'}\n")
    monkeypatch.delenv("TOXIPROXY_URL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    assert main(["stack", "up", str(stack), "--work-dir", str(tmp_path / "w")]) == 4
    err = capsys.readouterr().err
    assert "toxiproxy-server" in err
    assert "make setup" in err
    assert [line for line in err.splitlines() if line.startswith("harness: error")] == [
        line for line in err.splitlines() if "toxiproxy-server" in line
    ]
    assert "Traceback" not in err
