"""A replay worker that meets a bug: one protocol line naming its saved traceback, and the
orchestrator's group reports it as an internal error (exit 70), not as a worker that failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness.crashes import FILE_PREFIX
from harness.replay.processes import WorkerGroup
from harness.statedir import STATE_DIR_VARIABLE


def _broken_spec(run_dir: Path) -> Path:
    work = run_dir / ".replay"
    work.mkdir(parents=True)
    spec = work / "worker-0.json"
    spec.write_text('{"capture": ')  # cut short: the orchestrator never writes this
    return spec


def test_worker_reports_a_bug_with_its_traceback_in_the_run_dir(tmp_path: Path) -> None:
    spec = _broken_spec(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "harness.replay.worker", str(spec), "--worker", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert line["kind"] == "error" and line["internal"] is True
    assert line["message"].startswith("worker 0 crashed: JSONDecodeError: Expecting value")
    saved = Path(line["traceback"])
    assert saved.parent == tmp_path and saved.name.startswith(FILE_PREFIX)
    assert "in load" in saved.read_text()


def test_worker_group_keeps_internal_failures_apart(tmp_path: Path) -> None:
    spec = _broken_spec(tmp_path)
    group = WorkerGroup(["baseline"], total=1)
    group.start("worker 0", ["harness.replay.worker", str(spec)], tmp_path / "w.log")
    deadline = time.monotonic() + 120
    while group.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    group.close()
    internal = group.internal_failures()
    assert len(internal) == 1
    assert internal[0].startswith(
        "internal error (a bug in the harness): worker 0 crashed: JSONDecodeError"
    )
    assert f"traceback saved to {tmp_path}/{FILE_PREFIX}" in internal[0]


def test_a_master_that_meets_a_bug_reports_it_the_same_way(tmp_path: Path) -> None:
    spec = _broken_spec(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "harness.replay.master", str(spec), "--parts", str(spec.parent)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 70
    assert "Traceback" not in done.stderr
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert line["kind"] == "error" and line["internal"] is True
    assert line["message"].startswith("master crashed: JSONDecodeError: Expecting value")
    assert "in load" in Path(line["traceback"]).read_text()


# A remote worker (`harness worker` on another machine) whose Locust set-up meets a bug: the
# bug is planted in the module the worker calls, then the worker runs as `python -m` runs it.
_REMOTE_WITH_A_BUG = """
import runpy, sys
from harness.replay import locustenv

def environment(*args, **kwargs):
    raise RuntimeError("planted bug in locustenv.environment")

locustenv.environment = environment
sys.argv = ["harness.replay.remote", "--master-host", "127.0.0.1", "--master-port", "5557"]
runpy.run_module("harness.replay.remote", run_name="__main__", alter_sys=True)
"""


def test_a_remote_worker_that_meets_a_bug_exits_70_with_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = subprocess.run(
        [sys.executable, "-c", _REMOTE_WITH_A_BUG],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, STATE_DIR_VARIABLE: str(state)},
    )
    assert done.returncode == 70, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [text for text in done.stderr.splitlines() if text.startswith("harness: ")]
    (saved,) = (state / "crashes").glob(f"{FILE_PREFIX}*.txt")
    assert line == (
        "harness: error: internal error (a bug in the harness) in the remote worker: "
        f"RuntimeError: planted bug in locustenv.environment; traceback saved to {saved}"
    )
    text = saved.read_text()
    assert "remote worker" in text and "in main" in text and "planted bug" in text
