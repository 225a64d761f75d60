"""Target processes: start, health wait, log tail on failure, stop with no process left."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.errors import TargetError
from harness.stack.ports import free_port
from harness.stack.processes import log_tail
from harness.stack.targets import TargetProcess

SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
print("serving", flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); treat an exited-but-unreaped process as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split()[2] == "Z"


def test_start_healthy_and_stop(tmp_path: Path) -> None:
    port = free_port()
    target = TargetProcess(
        "baseline",
        # it listens only after 0.4 s: the wait must have lasted at least that long
        [sys.executable, "-c", "import time; time.sleep(0.4)\n" + SERVER, str(port)],
        f"http://127.0.0.1:{port}",
        log_path=tmp_path / "baseline.log",
    )
    with target:
        took = target.wait_healthy()
        assert 0.4 <= took < target.startup_timeout
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
        pid = target.pid
        assert pid is not None
    assert _pid_gone(pid)
    assert "serving" in (tmp_path / "baseline.log").read_text()


def test_never_healthy_shows_log_tail(tmp_path: Path) -> None:
    port = free_port()
    script = "import time; print('still booting, waiting for config', flush=True); time.sleep(60)"
    target = TargetProcess(
        "candidate",
        [sys.executable, "-c", script],
        f"http://127.0.0.1:{port}",
        log_path=tmp_path / "candidate.log",
        startup_timeout=1.0,
        stop_grace=0.5,
    )
    with target, pytest.raises(TargetError) as err:
        target.wait_healthy()
    message = str(err.value)
    assert "did not become healthy" in message
    assert "still booting, waiting for config" in message
    assert "\n" not in message
    assert target.pid is not None
    assert _pid_gone(target.pid)


def test_exit_before_healthy(tmp_path: Path) -> None:
    target = TargetProcess(
        "candidate",
        [sys.executable, "-c", "import sys; print('bad dsn'); sys.exit(3)"],
        f"http://127.0.0.1:{free_port()}",
        log_path=tmp_path / "c.log",
    )
    with target, pytest.raises(TargetError, match=r"exited with status 3.*bad dsn"):
        target.wait_healthy()


def test_missing_program(tmp_path: Path) -> None:
    target = TargetProcess(
        "x", ["/nonexistent/program"], "http://127.0.0.1:1", log_path=tmp_path / "x.log"
    )
    with pytest.raises(TargetError, match="cannot start"):
        target.start()


def test_sigterm_ignored_then_killed(tmp_path: Path) -> None:
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ignoring', flush=True); time.sleep(60)"
    )
    target = TargetProcess(
        "stubborn",
        [sys.executable, "-c", script],
        "http://127.0.0.1:1",
        log_path=tmp_path / "s.log",
        stop_grace=0.5,
    )
    target.start()
    pid = target.pid
    assert pid is not None
    # only once it ignores SIGTERM does stop() have to fall back to SIGKILL
    deadline = time.monotonic() + 30
    while "ignoring" not in log_tail(tmp_path / "s.log") and time.monotonic() < deadline:
        time.sleep(0.02)
    began = time.monotonic()
    assert target.stop() == -signal.SIGKILL
    assert time.monotonic() - began >= 0.5  # SIGTERM got its grace first
    assert _pid_gone(pid)


def test_log_tail_of_missing_file(tmp_path: Path) -> None:
    assert log_tail(tmp_path / "none.log") == "(no log)"


# A harness stand-in: starts a target that leaves a job in its process group (as a shell
# wrapper or a server's worker processes do), records it, then waits to be killed.
_HARNESS = """
import json, sys, time
from pathlib import Path
from harness.stack.targets import TargetProcess

class Ledger:
    def process(self, name, identity):
        Path(sys.argv[2]).write_text(json.dumps([name, identity.pid]))
    def process_stopped(self, name):
        pass

pids = sys.argv[1]
TargetProcess(
    "baseline", ["sh", "-c", f"sleep 61 & echo $$ $! > {pids}; exec sleep 62"],
    "http://127.0.0.1:1", log_path=Path(pids).with_suffix(".log"), record=Ledger(),
).start()
print("started", flush=True)
time.sleep(120)
"""


def test_a_target_and_its_process_group_die_with_a_harness_killed_by_sigkill(
    tmp_path: Path,
) -> None:
    pids, ledger = tmp_path / "pids", tmp_path / "ledger.json"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    harness = subprocess.Popen(
        [sys.executable, "-c", _HARNESS, str(pids), str(ledger)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    found: list[int] = []
    try:
        assert harness.stdout is not None
        assert harness.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 30
        while len(found) < 2 and time.monotonic() < deadline:
            found = [int(w) for w in pids.read_text().split()] if pids.exists() else []
            time.sleep(0.02)
        assert len(found) == 2 and not any(_pid_gone(pid) for pid in found)
        assert json.loads(ledger.read_text()) == ["target baseline", found[0]]
        harness.kill()  # SIGKILL: no teardown at all
        harness.wait(timeout=30)
        deadline = time.monotonic() + 30
        while not all(_pid_gone(pid) for pid in found) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert all(_pid_gone(pid) for pid in found)  # the leader and the job it left
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()
        if harness.stdout is not None:
            harness.stdout.close()
        for pid in found:
            if not _pid_gone(pid):
                os.kill(pid, signal.SIGKILL)
