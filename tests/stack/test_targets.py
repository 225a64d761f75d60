"""Target processes: start, health wait, log tail on failure, stop with no process left."""

import os
import signal
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
