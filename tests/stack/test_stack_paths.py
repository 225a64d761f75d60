"""Relative stack paths, absolute placeholders and `stack status` health, on the real stack.

The stack file is given by a relative path from another directory; the target is started as
`{stack_dir}/../app/serve.py` (the form that used to fail with "No such file or directory"),
gets its database URL through an `env` placeholder, and answers its health check on `/ready`
only (its `/health` is a 404), which `stack status` must use.
"""

from __future__ import annotations

import json
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

pytestmark = pytest.mark.slow

SERVER = """
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/ready":
            body = b"ok"
        elif self.path == "/env":
            body = json.dumps({"db": os.environ.get("DATABASE_URL"), "cwd": os.getcwd(),
                               "argv0": sys.argv[0]}).encode()
        else:
            self.send_response(404); self.end_headers(); return
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

STACK = """\
name: paths
targets:
  baseline:
    command: "{python} {stack_dir}/../app/serve.py {port}"
    env: {DATABASE_URL: "{postgres.url}"}
defaults:
  health: /ready
  startup_timeout: 60s
  stop_grace: 2s
"""


@pytest.fixture
def root() -> Iterator[Path]:
    """A tree outside pytest's 0700 tmp root, so the `pgserver` user can reach its data dir."""
    path = Path(tempfile.mkdtemp(prefix="harness-test-paths-"))
    try:
        (path / "app").mkdir()
        (path / "app" / "serve.py").write_text(SERVER)
        (path / "stack").mkdir()
        (path / "stack" / "stack.yaml").write_text(STACK)
        (path / "elsewhere").mkdir()
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _harness(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_relative_stack_path_health_and_status(root: Path) -> None:
    cwd = root / "elsewhere"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "stack", "up", "../stack/stack.yaml", "--work-dir", "w"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    state_file = cwd / "w" / "stack.json"
    try:
        deadline = time.monotonic() + 120
        while not state_file.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "stack did not come up"
            time.sleep(0.2)
        status = _harness(cwd, "stack", "status", "--json", "--work-dir", "w")
        assert status.returncode == 0, status.stderr
        target = json.loads(status.stdout)["targets"]["baseline"]
        assert target["health"] == "/ready"
        assert target["healthy"] is True
        env = httpx.get(target["url"] + "/env").json()
        assert env["argv0"] == str(root / "stack" / ".." / "app" / "serve.py")
        assert env["cwd"] == str(root / "stack")
        proxy = json.loads(status.stdout)["proxies"]["paths-baseline-postgres"]
        assert env["db"].startswith(f"postgresql://postgres@{proxy['listen']}/paths_baseline")
        table = _harness(cwd, "stack", "status", "--work-dir", "w")
        assert "baseline" in table.stdout and "yes" in table.stdout, table.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:  # never leave a stack running behind a failed test
            proc.terminate()
            proc.communicate(timeout=60)
            raise
    assert proc.returncode == 0, err


def test_missing_program_names_the_stack_line(root: Path) -> None:
    (root / "stack" / "stack.yaml").write_text(
        STACK.replace("{python} {stack_dir}/../app/serve.py", "{stack_dir}/../venv/bin/uvicorn")
    )
    result = _harness(root / "elsewhere", "stack", "up", "../stack/stack.yaml", "--work-dir", "w")
    assert result.returncode == 3, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("harness: error")]
    assert errors == [
        f"harness: error: ../stack/stack.yaml:4: targets.baseline.command: cannot run: "
        f"no such file: {root / 'venv' / 'bin' / 'uvicorn'}"
    ]
    assert not (root / "elsewhere" / "w" / "stack.json").exists()
