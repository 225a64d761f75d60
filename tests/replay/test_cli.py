"""``harness replay`` and ``harness worker`` from the command line, in subprocesses."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.plugins.httpserver import RecordingServer
from tests.replay.captures import steady, write_capture
from tests.replay.procs import processes_mentioning

pytestmark = pytest.mark.slow


def _harness(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    return write_capture(tmp_path / "c.capture.parquet", steady(20, 40.0))


def test_replay_prints_the_run_dir_and_a_summary(
    tmp_path: Path, capture: Path, http_server: RecordingServer
) -> None:
    out = tmp_path / "run"
    done = _harness(
        "replay", str(capture), "--target", f"a={http_server.url}", "--speed", "2",
        "--duration", "100ms", "--processes", "1", "--start-delay", "300ms", "-o", str(out), "-q",
        "--lag-bound-ms", "1000",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == str(out)
    assert "a: 8/8 sent, 8 answered, no errors" in lines[1] and "valid" in lines[1]
    assert len(http_server.arrivals) == 8  # 40 req/s at 2x for 100 ms
    assert pq.read_table(out / "requests.parquet").num_rows == 8
    assert json.loads((out / "manifest.json").read_text())["command"][:2] == ["harness", "replay"]


def test_an_unreachable_target_completes_with_refused_rows_and_exit_4(
    tmp_path: Path, capture: Path
) -> None:
    out = tmp_path / "run"
    done = _harness(
        "replay", str(capture), "-t", "gone=http://127.0.0.1:9", "--processes", "1",
        "--start-delay", "300ms", "-o", str(out), "--quiet",
    )  # fmt: skip
    assert done.returncode == 4
    assert "refused 20" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == (
        f"harness: error: target 'gone' refused every connection (20 requests); "
        f"is it running? results in {out}"
    )
    rows = pq.read_table(out / "requests.parquet").to_pylist()
    assert len(rows) == 20 and {r["error"] for r in rows} == {"refused"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--speed", "0"], 2, "argument --speed: must be > 0"),
        (["--duration", "soon"], 2, "not a duration"),
        (["--processes", "0"], 2, "--processes must be >= 1"),
        (["--max-connections", "0"], 2, "--max-connections must be >= 1"),
        (["--keep-response-bytes", "-1"], 2, "--keep-response-bytes must be >= 0"),
        (["--web", "localhost:http"], 2, "write [HOST:]PORT"),
        (["--locustfile", "no-such-file.py"], 2, "--locustfile no-such-file.py: no such file"),
    ],
)
def test_bad_options_are_one_line_usage_errors(
    tmp_path: Path, capture: Path, args: list[str], code: int, message: str
) -> None:
    done = _harness(
        "replay", str(capture), "-t", "a=http://127.0.0.1:9", "-o", str(tmp_path), *args
    )
    assert done.returncode == code
    assert message in done.stderr.strip().splitlines()[-1]


def test_bad_targets_and_captures(tmp_path: Path, capture: Path) -> None:
    out = str(tmp_path / "run")
    missing = _harness(
        "replay", str(tmp_path / "none.parquet"), "-t", "a=http://127.0.0.1:9", "-o", out
    )
    assert missing.returncode == 3
    assert (
        missing.stderr.strip()
        == f"harness: error: {tmp_path / 'none.parquet'}: capture file not found"
    )
    bad_url = _harness("replay", str(capture), "-t", "a=ftp://127.0.0.1", "-o", out)
    assert bad_url.returncode == 2 and "URL must be http:// or https://" in bad_url.stderr
    no_name = _harness("replay", str(capture), "-t", "http://127.0.0.1:9", "-o", out)
    assert no_name.returncode == 2 and "NAME=URL" in no_name.stderr
    prod = _harness("replay", str(capture), "-t", "a=https://api.example.com", "-o", out)
    assert prod.returncode == 2 and "original host api.example.com" in prod.stderr
    assert not (tmp_path / "run" / "requests.parquet").exists()


def test_an_invalid_run_writes_results_and_exits_5(
    tmp_path: Path, capture: Path, http_server: RecordingServer
) -> None:
    out = tmp_path / "run"
    done = _harness(
        "replay", str(capture), "-t", f"a={http_server.url}", "--lag-bound-ms", "0.0001",
        "--processes", "1", "--start-delay", "300ms", "-o", str(out), "-q",
    )  # fmt: skip
    assert done.returncode == 5
    assert "run invalid: send lag p99" in done.stderr
    assert pq.read_table(out / "requests.parquet").num_rows == 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


Spawn = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def spawn(started: list[subprocess.Popen[str]]) -> Spawn:
    """``spawn(*args)``: ``python *args`` with its output piped, stopped at the test's end."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def run(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        started.append(process)
        return process

    return run


def _start_master(
    spawn: Spawn, capture: Path, url: str, out: Path, *, workers: int
) -> tuple[subprocess.Popen[str], str]:
    """``harness replay --master`` of ``capture`` to ``url``, expecting ``workers`` workers on
    a free loopback port (returned with the process)."""
    port = str(_free_port())
    master = spawn(
        "-m", "harness", "replay", str(capture), "-t", f"a={url}", "-o", str(out), "-q",
        "--master", "--expect-workers", str(workers), "--master-port", port,
        "--expect-workers-timeout", "30s", "--start-delay", "1s", "--lag-bound-ms", "1000",
    )  # fmt: skip
    return master, port


def test_distributed_master_and_two_workers_on_loopback(
    tmp_path: Path,
    http_server: RecordingServer,
    spawn: Spawn,
) -> None:
    capture = write_capture(tmp_path / "c.capture.parquet", steady(60, 30.0, sessions=6))
    out = tmp_path / "run"
    master, port = _start_master(spawn, capture, http_server.url, out, workers=2)
    worker = ["-m", "harness", "worker", "--master-host", "127.0.0.1", "--master-port", port]
    workers = [spawn(*worker, "--wait", "30") for _ in range(2)]
    stdout, stderr = master.communicate(timeout=90)
    assert master.returncode == 0, stderr
    for worker in workers:
        assert worker.wait(timeout=30) == 0, worker.stderr.read() if worker.stderr else ""
    assert str(out) == stdout.splitlines()[0]
    assert sorted(a.path for a in http_server.arrivals) == sorted(
        f"/r/{i}?n={i}" for i in range(60)
    )
    table = pq.read_table(out / "requests.parquet")
    assert table.num_rows == 60
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replay"]["workers"] == 2
    assert processes_mentioning(str(out)) == []


#: A remote worker slow to register its message handlers after it connected (as on a loaded
#: machine: the master's assignment came first and Locust dropped it as an unknown message type,
#: so the worker waited for an assignment until its --wait ran out).
SLOW_WORKER = """
import sys

import harness.replay.remote as remote

registers = remote._Worker.__init__


def late(self, *args, **kwargs):
    import gevent

    gevent.sleep(1.5)  # connected, handlers not registered yet
    registers(self, *args, **kwargs)


remote._Worker.__init__ = late
sys.exit(remote.main(sys.argv[1:]))
"""


def test_a_worker_slow_to_register_its_handlers_still_gets_its_shard(
    tmp_path: Path,
    http_server: RecordingServer,
    spawn: Spawn,
) -> None:
    capture = write_capture(tmp_path / "c.capture.parquet", steady(20, 20.0, sessions=2))
    out = tmp_path / "run"
    master, port = _start_master(spawn, capture, http_server.url, out, workers=1)
    worker = spawn(
        "-c", SLOW_WORKER, "--master-host", "127.0.0.1", "--master-port", port, "--wait", "20"
    )
    _, stderr = master.communicate(timeout=90)
    assert master.returncode == 0, stderr
    assert worker.wait(timeout=30) == 0, worker.stderr.read() if worker.stderr else ""
    assert pq.read_table(out / "requests.parquet").num_rows == 20
    assert len(http_server.arrivals) == 20


def test_live_progress_is_drawn_without_quiet(
    tmp_path: Path, capture: Path, http_server: RecordingServer
) -> None:
    done = _harness(
        "replay", str(capture), "-t", f"a={http_server.url}", "--processes", "1",
        "--start-delay", "300ms", "-o", str(tmp_path / "run"), "--lag-bound-ms", "1000",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "sent/total" in done.stderr and "20/20" in done.stderr


def test_sigint_stops_the_replay_writes_partial_results_and_exits_130(
    tmp_path: Path, http_server: RecordingServer, started: list[subprocess.Popen[str]]
) -> None:
    capture = write_capture(tmp_path / "c.capture.parquet", steady(300, 20.0))  # 15 s
    out = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "harness", "replay", str(capture), "-t", f"a={http_server.url}",
            "--processes", "2", "--start-delay", "300ms", "-o", str(out), "-q",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    started.append(process)
    deadline = time.monotonic() + 60  # three Locust processes start on a loaded machine
    while len(http_server.arrivals) < 10 and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "replay interrupted; partial results in" in stderr
    assert "interrupted" in stdout.splitlines()[1]
    rows = pq.read_table(out / "requests.parquet").num_rows
    assert 10 <= rows < 300
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    assert processes_mentioning(str(out)) == []


def test_injected_headers_come_from_the_environment(
    tmp_path: Path, capture: Path, make_http_server: Callable[[], RecordingServer]
) -> None:
    a, b = make_http_server(), make_http_server()
    env = {**os.environ, "STAGING_TOKEN": "Bearer s3cret", "TENANT": "t-1"}
    done = subprocess.run(
        [
            sys.executable, "-m", "harness", "replay", str(capture), "-t", f"a={a.url}",
            "-t", f"b={b.url}", "--inject-header", "Authorization=STAGING_TOKEN",
            "--inject-header", "b:X-Tenant=TENANT", "--processes", "1", "--start-delay", "300ms",
            "--lag-bound-ms", "1000", "-o", str(tmp_path / "run"), "-q",
        ],
        check=False, capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {x.header("Authorization") for x in a.arrivals + b.arrivals} == {"Bearer s3cret"}
    assert {x.header("X-Tenant") for x in a.arrivals} == {None}
    assert {x.header("X-Tenant") for x in b.arrivals} == {"t-1"}
    assert "s3cret" not in (tmp_path / "run" / "manifest.json").read_text()


def test_an_injected_header_needs_its_environment_variable(tmp_path: Path, capture: Path) -> None:
    done = _harness(
        "replay", str(capture), "-t", "a=http://127.0.0.1:9", "-o", str(tmp_path),
        "--inject-header", "Authorization=NO_SUCH_VARIABLE_FOR_THIS_TEST",
    )  # fmt: skip
    assert done.returncode == 2
    assert "environment variable NO_SUCH_VARIABLE_FOR_THIS_TEST is not set" in done.stderr


def test_locust_reports_kept_responses_and_connection_cap_from_the_command_line(
    tmp_path: Path, capture: Path, http_server: RecordingServer
) -> None:
    out = tmp_path / "run"
    listener = Path(__file__).parent / "data" / "listener_locustfile.py"
    events = tmp_path / "events.jsonl"
    done = subprocess.run(
        [
            sys.executable, "-m", "harness", "replay", str(capture), "-t", f"a={http_server.url}",
            "--processes", "1", "--start-delay", "300ms", "-o", str(out), "-q",
            "--lag-bound-ms", "1000", "--csv", str(tmp_path / "locust"),
            "--html", str(tmp_path / "locust.html"), "--locustfile", str(listener),
            "--keep-response-bytes", "64", "--max-connections", "2",
        ],
        check=False, capture_output=True, text=True, timeout=60,
        env={**os.environ, "HARNESS_TEST_EVENTS": str(events)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with (tmp_path / "locust_stats.csv").open() as f:
        counts = {row["Name"]: int(row["Request Count"]) for row in csv.DictReader(f)}
    # the test capture's route is each request's path: one stats row per route
    assert counts == {**{f"/r/{i}": 1 for i in range(20)}, "Aggregated": 20}
    assert (tmp_path / "locust.html").read_text().startswith("<!DOCTYPE html>")
    assert len(events.read_text().splitlines()) == 20
    kept = pq.read_table(out / "responses.parquet")
    assert kept.num_rows == 20 and set(kept.column("status").to_pylist()) == {200}
