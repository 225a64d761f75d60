"""A replay worker that meets a bug: one protocol line naming its saved traceback, and the
orchestrator's group reports it as an internal error (exit 70), not as a worker that failed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from harness.crashes import FILE_PREFIX
from harness.replay.processes import WorkerGroup


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
