"""`harness run` end to end: the real stack, real toxiproxy, real PostgreSQL, real Locust workers.

- a DB kill under replayed traffic: errors inside the fault window and not outside, the fault
  verified, probes moving (hotfix-naive makes more database attempts per request than v2.3.1);
- SIGINT / SIGTERM in the middle of a fault, against an external toxiproxy (TOXIPROXY_URL):
  every proxy enabled with no toxics after, the run marked interrupted, exit 130 / 143;
- SIGKILL in the middle of a fault, then a new run: it starts by resetting its proxies;
- a broken scenario (exit 3, line-numbered) and an unreachable toxiproxy (exit 4).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.cli.main import main
from harness.stack.ledger import LEDGER_DIR
from harness.stack.orphans import clean_orphans
from harness.stack.ports import free_port
from harness.stack.postgres import EmbeddedPostgres
from harness.stack.targets import TargetProcess
from harness.stack.toxiproxy_server import ToxiproxyServer
from harness.statedir import STATE_DIR_VARIABLE
from tests.replay.procs import processes_mentioning
from tests.waiting import wait_until
from tests.workdirs import reachable_tmpdir
from tests.workflows.traffic import payments_capture

REPO = Path(__file__).resolve().parents[2]
PAYMENTS = REPO / "examples" / "payments"
pytestmark = pytest.mark.slow


@pytest.fixture
def work() -> Iterator[Path]:
    """A folder outside pytest's 0700 tmp root (the `pgserver` user must reach data dirs)."""
    with reachable_tmpdir("run") as path:
        yield path


@pytest.fixture(autouse=True)
def state(work: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A state directory (stack ledgers) of each test's own, inherited by the runs it spawns.

    These tests SIGKILL runs and then assert exactly what a new run or `harness stack down`
    cleans: an orphan another test left in a shared state directory (its external toxiproxy
    since stopped by that test's fixture) would be cleaned too, and fail them. Afterwards,
    whatever a failed test's killed runs left (PostgreSQL is a daemon) is stopped."""
    path = work / "state"
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(path))
    yield path
    clean_orphans(directory=path / LEDGER_DIR)


def _scenario(work: Path, stack: Path, *, seconds: float, faults: str, extra: str = "") -> Path:
    capture = payments_capture(work, seconds=seconds, rate=40)
    path = work / "scenario.yaml"
    path.write_text(
        f"name: test-run\ncapture: {capture}\nspeed: 1.0\nstack: {stack}\n"
        f"faults:\n{faults}\n"
        "probes:\n"
        "  - name: db_attempts\n"
        "    prometheus: {path: /metrics, metric: payments_db_attempts_total}\n"
        "independent_routes: [/health, /catalog]\n" + extra
    )
    return path


def _events(run_dir: Path) -> list[dict[str, object]]:
    path = run_dir / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_db_kill_observed_from_the_target_side(work: Path) -> None:
    scenario = _scenario(
        work,
        PAYMENTS / "stack.yaml",
        seconds=14,
        faults="  - {at: 4s, for: 4s, dependency: postgres, kind: down}",
    )
    run_dir = work / "run"
    code = main(
        ["run", str(scenario), "-o", str(run_dir), "--build", "candidate=hotfix-naive", "--quiet"]
    )
    # hotfix-naive retries without backoff: it fails, and the checks below show why
    assert code == 1, code
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["status"] == "fail"
    assert verdict["candidate"] == "candidate"

    events = _events(run_dir)
    applied = [e for e in events if e["kind"] == "fault_applied"]
    reverted = [e for e in events if e["kind"] == "fault_reverted"]
    assert len(applied) == 1 and len(reverted) == 1
    assert applied[0]["verified"]["ok"] is True  # type: ignore[index]
    assert applied[0]["verified"]["check"] == "connect_cut"  # type: ignore[index]
    start_ns = int(applied[0]["t_ns"])  # type: ignore[arg-type]
    end_ns = int(reverted[0]["t_ns"])  # type: ignore[arg-type]

    requests = pd.read_parquet(run_dir / "requests.parquet")
    assert len(requests) == 2 * 14 * 40
    base = requests[requests.target == "baseline"]
    db_routes = ~base.route.isin(["/health", "/catalog"])
    failed = (base.status == 0) | (base.status >= 500)
    inside = (base.due_ns > start_ns + 300_000_000) & (base.due_ns < end_ns - 300_000_000)
    outside = (base.due_ns < start_ns - 200_000_000) | (base.due_ns > end_ns + 3_000_000_000)
    assert failed[inside & db_routes].mean() > 0.9  # the production build fails fast: 503
    assert failed[outside].mean() < 0.02

    probes = pd.read_parquet(run_dir / "probes.parquet")
    attempts = probes[probes.probe == "db_attempts"]

    def per_request(target: str) -> float:
        series = attempts[attempts.target == target].sort_values("t_ns")
        window = series[(series.t_ns >= start_ns) & (series.t_ns <= end_ns)]
        sent = requests[
            (requests.target == target)
            & (requests.due_ns >= int(window.t_ns.min()))
            & (requests.due_ns <= int(window.t_ns.max()))
        ]
        return float(window.value.max() - window.value.min()) / max(1, len(sent))

    assert per_request("candidate") > 1.5 * per_request("baseline")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["targets"]["candidate"]["build"] == "hotfix-naive"
    assert manifest["scenario"]["name"] == "test-run"
    assert manifest["versions"]["toxiproxy"] == "2.12.0"
    started = {e["target"]: e["t_ns"] for e in events if e["kind"] == "target_started"}
    healthy = {e["target"]: e["t_ns"] for e in events if e["kind"] == "target_healthy"}
    assert set(started) == set(healthy) == {"baseline", "candidate"}
    for name, started_ns in started.items():  # measured before t0, in the order they happened
        assert started_ns < healthy[name] < 0  # type: ignore[operator]
    assert (run_dir / "verdict.json").exists()


@pytest.fixture
def external_stack(work: Path) -> Iterator[tuple[Path, ToxiproxyServer, list[str]]]:
    """Two demo builds already running (started here), behind an external toxiproxy."""
    pg = EmbeddedPostgres(data_dir=work / "pg" / "data", log_path=work / "pg" / "pg.log")
    toxiproxy = ToxiproxyServer(log_path=work / "toxiproxy.log")
    targets: list[TargetProcess] = []
    with pg, toxiproxy:
        pg.create_template("pay_template", (PAYMENTS / "schema.sql").read_text())
        client = toxiproxy.client()
        lines = ["name: ext", "targets:"]
        proxies = []
        for name, build in (("baseline", "v2.3.1"), ("candidate", "hotfix-safe")):
            pg.clone("pay_template", f"pay_{name}")
            proxy = f"ext-{name}-pg"
            listen = free_port()
            client.create_proxy(proxy, f"127.0.0.1:{listen}", f"127.0.0.1:{pg.port}")
            proxies.append(proxy)
            port = free_port()
            target = TargetProcess(
                name,
                [
                    sys.executable,
                    str(PAYMENTS / "app.py"),
                    "--port",
                    str(port),
                    "--dsn",
                    pg.dsn(f"pay_{name}", port=listen),
                    "--variant",
                    build,
                ],
                f"http://127.0.0.1:{port}",
                log_path=work / f"{name}.log",
            )
            target.start()
            targets.append(target)
            lines.append(
                f"  {name}: {{url: 'http://127.0.0.1:{port}', postgres_proxy: {proxy}, "
                f"role: {name}}}"
            )
        try:
            for target in targets:
                target.wait_healthy()
            stack = work / "ext-stack.yaml"
            stack.write_text("\n".join(lines) + "\n")
            yield stack, toxiproxy, proxies
        finally:
            for target in targets:
                target.stop()
            client.close()


def _spawn_run(scenario: Path, run_dir: Path, toxiproxy_url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TOXIPROXY_URL": toxiproxy_url}
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(scenario), "-o", str(run_dir), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for_fault(run_dir: Path, proc: subprocess.Popen[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e["kind"] == "fault_applied" for e in _events(run_dir)):
            return
        if proc.poll() is not None:
            raise AssertionError(f"run ended before its fault: {proc.communicate()[1]}")
        time.sleep(0.1)
    raise AssertionError("no fault applied in time")


def _wait_for_faults_on(
    toxiproxy: ToxiproxyServer, proxies: list[str], proc: subprocess.Popen[str], timeout: float = 60
) -> None:
    """Wait until both of FAULTS_MID_RUN's steps hold on every proxy: disabled (`down`) AND
    with a toxic (`latency`). Its first `fault_applied` event comes after the first step only,
    and a loaded machine may run the second seconds later."""

    def applied() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"run ended before its faults: {proc.communicate()[1]}")
        with toxiproxy.client() as client:
            states = [client.get_proxy(name) for name in proxies]
        return all(not proxy.enabled and proxy.toxics for proxy in states)

    if not wait_until(applied, timeout=timeout, every=0.1):
        with toxiproxy.client() as client:
            states = [client.get_proxy(name) for name in proxies]
        raise AssertionError(f"the faults were not both on in {timeout:g} s: {states}")


FAULTS_MID_RUN = (
    "  - {at: 2s, for: 20s, dependency: postgres, kind: latency, latency_ms: 200}\n"
    "  - {at: 2s, for: 20s, dependency: postgres, kind: down, refuse: true, stack: true}"
)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_fault_reverts_everything(
    external_stack: tuple[Path, ToxiproxyServer, list[str]],
    work: Path,
    signum: signal.Signals,
    code: int,
) -> None:
    stack, toxiproxy, proxies = external_stack
    scenario = _scenario(work, stack, seconds=30, faults=FAULTS_MID_RUN)
    run_dir = work / "run"
    proc = _spawn_run(scenario, run_dir, toxiproxy.url)
    try:
        _wait_for_fault(run_dir, proc)
        _wait_for_faults_on(toxiproxy, proxies, proc)  # both faults are on
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    with toxiproxy.client() as client:
        for name in proxies:
            proxy = client.get_proxy(name)
            assert proxy.enabled is True
            assert proxy.toxics == []
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    kinds = [e["kind"] for e in _events(run_dir)]
    assert "interrupted" in kinds
    assert kinds.count("fault_reverted") == 2


@pytest.mark.parametrize("then", ["stack down", "new run"])
def test_sigkill_then_borrowed_proxies_are_reset(
    external_stack: tuple[Path, ToxiproxyServer, list[str]], work: Path, then: str
) -> None:
    stack, toxiproxy, proxies = external_stack
    scenario = _scenario(work, stack, seconds=30, faults=FAULTS_MID_RUN)
    proc = _spawn_run(scenario, work / "run1", toxiproxy.url)
    try:
        _wait_for_fault(work / "run1", proc)
        _wait_for_faults_on(toxiproxy, proxies, proc)
        proc.kill()  # SIGKILL: nothing gets reverted
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with toxiproxy.client() as client:
        left = client.get_proxy(proxies[0])
        assert left.enabled is False and left.toxics  # what SIGKILL left behind

    if then == "stack down":
        down = subprocess.run(
            [sys.executable, "-m", "harness", "stack", "down"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert down.returncode == 0, down.stderr
        for name in proxies:  # borrowed from the user's stack: reset, never deleted
            assert f"reset proxy {name} on {toxiproxy.url}: re-enabled, toxics removed: " in (
                down.stdout
            )
    else:
        calm = _scenario(
            work,
            stack,
            seconds=4,
            faults="  - {at: 3s, for: 500ms, dependency: postgres, kind: down}",
        )
        env_before = os.environ.get("TOXIPROXY_URL")
        os.environ["TOXIPROXY_URL"] = toxiproxy.url
        try:
            code = main(["run", str(calm), "-o", str(work / "run2"), "--quiet", "--no-judge"])
        finally:
            if env_before is None:
                del os.environ["TOXIPROXY_URL"]
            else:
                os.environ["TOXIPROXY_URL"] = env_before
        assert code == 0
        requests = pd.read_parquet(work / "run2" / "requests.parquet")
        early = requests[requests.due_ns < 2_500_000_000]
        assert len(early) > 0
        assert ((early.status > 0) & (early.status < 500)).all()  # the database was reachable
    with toxiproxy.client() as client:
        for name in proxies:
            proxy = client.get_proxy(name)
            assert proxy.enabled is True and proxy.toxics == []


def test_broken_scenario_exit_3(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = work / "bad.yaml"
    path.write_text("name: bad\ncapture: x.parquet\nstack: s.yaml\nspeed: fast\n")
    assert main(["run", str(path), "-o", str(work / "run")]) == 3
    err = capsys.readouterr().err
    assert f"{path}:" in err
    assert "Traceback" not in err
    assert not (work / "run").exists()


def test_unreachable_toxiproxy_exit_4(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = _scenario(
        work,
        PAYMENTS / "stack.yaml",
        seconds=2,
        faults="  - {at: 1s, for: 500ms, dependency: postgres, kind: down}",
    )
    monkeypatch.setenv("TOXIPROXY_URL", f"http://127.0.0.1:{free_port()}")
    assert main(["run", str(scenario), "-o", str(work / "run"), "--quiet"]) == 4
    err = capsys.readouterr().err
    assert "unreachable" in err
    assert "Traceback" not in err


def test_a_failing_action_aborts_the_run_with_its_faults_reverted(
    external_stack: tuple[Path, ToxiproxyServer, list[str]], work: Path
) -> None:
    stack, toxiproxy, proxies = external_stack
    faults = (
        "  - {at: 1s, for: 25s, dependency: postgres, kind: down}\n"
        "  - {at: 2s, run: \"echo 'ERROR: relation payments_v2 does not exist' >&2; exit 3\"}"
    )
    scenario = _scenario(work, stack, seconds=30, faults=faults)
    run_dir = work / "run"
    proc = _spawn_run(scenario, run_dir, toxiproxy.url)
    try:
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 4, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("harness: error: action a1 exited with status 3 (`echo"), err
    assert last.endswith("ERROR: relation payments_v2 does not exist")
    with toxiproxy.client() as client:
        for name in proxies:
            proxy = client.get_proxy(name)
            assert proxy.enabled is True and proxy.toxics == []
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "error" and manifest["exit_code"] == 4
    assert manifest["error"].startswith("action a1 exited with status 3")
    events = _events(run_dir)
    finished = [e for e in events if e["kind"] == "run_finished"]
    assert len(finished) == 1 and str(finished[0]["error"]).startswith("action a1 exited")
    assert finished[0]["t_ns"] < 10_000_000_000  # stopped at once, not after 30 s of traffic
    assert not (run_dir / "verdict.json").exists()  # never judged


def _ledger_of(run_dir: Path, proc: subprocess.Popen[str], timeout: float = 180) -> dict[str, Any]:
    """The stack ledger of a running `harness run` (its stack.json points at it)."""
    state = run_dir / "stack" / "stack.json"
    deadline = time.monotonic() + timeout
    while not state.exists() and time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"run ended before its stack was up: {proc.communicate()[1]}")
        time.sleep(0.1)
    path = Path(json.loads(state.read_text())["ledger"])
    data: dict[str, Any] = json.loads(path.read_text())
    data["path"] = str(path)
    return data


def _live(data: dict[str, Any]) -> list[str]:
    """What of a ledger still runs: its processes, its toxiproxy, its PostgreSQL."""
    from harness.stack.lifetime import ProcessIdentity

    found = []
    entries = {**data["processes"]}
    if data.get("toxiproxy") and data["toxiproxy"].get("process"):
        entries["toxiproxy"] = data["toxiproxy"]["process"]
    if data.get("postgres") and data["postgres"].get("process"):
        entries["postgres"] = data["postgres"]["process"]
    for name, entry in entries.items():
        identity = ProcessIdentity.from_json(entry)
        if identity is not None and identity.alive():
            found.append(name)
    return found


def test_sigkill_then_a_new_run_cleans_first_and_stack_down_leaves_nothing(work: Path) -> None:
    """The issue's campaign: a run SIGKILLed during a database kill left toxiproxy's database
    proxies disabled, PostgreSQL, both targets and the workers behind."""
    scenario = _scenario(work, PAYMENTS / "stack.yaml", seconds=30, faults=FAULTS_MID_RUN)
    proxies = [f"payments-{t}-postgres" for t in ("baseline", "candidate")]
    with ToxiproxyServer(log_path=work / "external-toxiproxy.log") as toxiproxy:
        first = _spawn_run(scenario, work / "run1", toxiproxy.url)
        try:
            ledger1 = _ledger_of(work / "run1", first)
            _wait_for_fault(work / "run1", first)
            _wait_for_faults_on(toxiproxy, proxies, first)
            workers = processes_mentioning(str(work / "run1" / ".replay"))
            assert workers, "the replay's workers run"
        finally:
            first.kill()  # SIGKILL mid-fault: nothing gets reverted
            first.communicate(timeout=30)
        with toxiproxy.client() as client:
            assert all(not client.get_proxy(p).enabled for p in proxies)  # left disabled
        # the targets, its own toxiproxy and the workers die with it (parent-death signal) ...
        assert wait_until(lambda: _live(ledger1) == ["postgres"], timeout=20), _live(ledger1)
        assert wait_until(
            lambda: not processes_mentioning(str(work / "run1" / ".replay")), timeout=20
        )
        # ... PostgreSQL (a daemon) is what is left, with the proxies: a new run cleans first
        second = _spawn_run(scenario, work / "run2", toxiproxy.url)
        try:
            ledger2 = _ledger_of(work / "run2", second)
            _wait_for_fault(work / "run2", second)
            assert _live(ledger1) == []
            assert not Path(ledger1["path"]).exists()
        finally:
            second.kill()
            _out, err = second.communicate(timeout=30)
        cleaned = [line for line in err.splitlines() if line.startswith("harness: cleaned up:")]
        pid = ledger1["postgres"]["process"]["pid"]
        assert any(f"stopped PostgreSQL (pid {pid})" in line for line in cleaned), err
        assert any(f"deleted proxy {proxies[0]}" in line for line in cleaned), err
        # and after the second SIGKILL, `harness stack down` leaves nothing and no proxy
        assert wait_until(lambda: _live(ledger2) == ["postgres"], timeout=20), _live(ledger2)
        down = subprocess.run(
            [sys.executable, "-m", "harness", "stack", "down"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert down.returncode == 0, down.stderr
        assert f"stopped PostgreSQL (pid {ledger2['postgres']['process']['pid']})" in down.stdout
        assert _live(ledger2) == []
        assert not Path(ledger2["path"]).exists()
        assert not (work / "run2" / "stack" / "stack.json").exists()
        with toxiproxy.client() as client:
            assert set(client.list_proxies()).isdisjoint(proxies)
