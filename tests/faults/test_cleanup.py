"""Nothing outlives a run: SIGINT/SIGTERM mid-fault revert everything; reset_owned after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.faults.cleanup import reset_owned
from harness.faults.events import read_events
from harness.faults.kinds import toxic_names
from harness.stack.toxics import Latency
from tests.faults.conftest import Proxied

ROOT = Path(__file__).parents[2]

# A process that runs a timeline the way `harness run` does: signals become Interrupted, the
# timeline reverts in its __exit__, the exit code comes from the error.
CHILD = """
import json, sys, time
from pathlib import Path
from harness.errors import HarnessError
from harness.faults.cleanup import interrupt_on_signals
from harness.faults.events import EventLog
from harness.faults.timeline import FaultTarget, FaultTimeline
from harness.scenario.model import DownFault, LatencyFault, PartitionFault
from harness.stack.toxiproxy import ToxiproxyClient

url, proxies, events = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
entries = [
    DownFault(kind="down", at=0.1, targets=["baseline"], **{"for": 60}),
    PartitionFault(kind="partition", at=0.1, targets=["candidate"], **{"for": 60}),
    LatencyFault(kind="latency", at=0.2, latency_ms=300, stack=True, **{"for": 60}),
]
targets = [FaultTarget(t, {"postgres": p}) for t, p in proxies.items()]
t0 = time.time_ns()
try:
    with interrupt_on_signals(), EventLog(events, t0) as log:
        with FaultTimeline(entries, ToxiproxyClient(url), targets, log, t0_ns=t0):
            time.sleep(60)
except HarnessError as exc:
    print(exc, file=sys.stderr)
    sys.exit(exc.exit_code)
"""


def _run_child(proxied: Proxied, events: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-c", CHILD, proxied.url]
    args += [json.dumps(proxied.proxies), str(events)]
    return subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE)


def _wait_applied(events: Path, count: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if events.exists():
            applied = [e for e in read_events(events) if e["kind"] == "fault_applied"]
            if len(applied) >= count:
                return
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        time.sleep(0.05)
    raise AssertionError("the child never applied its faults")


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
def test_signal_mid_fault_reverts(
    proxied: Proxied, tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    events = tmp_path / "events.jsonl"
    child = _run_child(proxied, events)
    try:
        _wait_applied(events, 3, child)
        api = proxied.client
        assert "harness_f1_upstream" in toxic_names(api.get_proxy(proxied.proxies["baseline"]))
        assert api.get_proxy(proxied.proxies["candidate"]).toxics
        os.kill(child.pid, signum)
        assert child.wait(timeout=20) == code
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stderr:
            child.stderr.close()
    for proxy in proxied.proxies.values():
        info = proxied.client.get_proxy(proxy)
        assert info.enabled and info.toxics == []
    written = read_events(events)
    interrupted = [e for e in written if e["kind"] == "interrupted"]
    assert interrupted == [
        {
            "t_ns": interrupted[0]["t_ns"],
            "kind": "interrupted",
            "signal": signum.name,
            "signum": signum,
        }
    ]
    reverted = [e for e in written if e["kind"] == "fault_reverted"]
    assert sorted(e["fault"]["id"] for e in reverted) == ["f1", "f2", "f3"]
    assert all(e["reason"] == "interrupted" for e in reverted)
    assert written.index(interrupted[0]) < written.index(reverted[0])


def test_reset_owned_after_sigkill(proxied: Proxied, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    child = _run_child(proxied, events)
    try:
        _wait_applied(events, 3, child)
        child.kill()  # SIGKILL: no chance to revert
        child.wait(timeout=10)
    finally:
        if child.stderr:
            child.stderr.close()
    api = proxied.client
    assert "harness_f1_downstream" in toxic_names(api.get_proxy(proxied.proxies["baseline"]))
    changed = reset_owned(api, proxied.proxies.values())
    assert any("removed toxic harness_f1_downstream" in c for c in changed)  # the down
    assert any("removed toxic harness_f2_upstream" in c for c in changed)
    for proxy in proxied.proxies.values():
        info = api.get_proxy(proxy)
        assert info.enabled and info.toxics == []
    assert reset_owned(api, proxied.proxies.values()) == []  # nothing left to do


def test_reset_owned_touches_only_the_named(proxied: Proxied) -> None:
    api = proxied.client
    mine, other = proxied.proxies["baseline"], proxied.proxies["candidate"]
    for proxy in (mine, other):
        api.disable(proxy)
        api.create_toxic(proxy, Latency(latency=5), name="someone_elses")
    reset_owned(api, [mine])
    assert api.get_proxy(mine).enabled and not api.get_proxy(mine).toxics
    assert not api.get_proxy(other).enabled
    assert toxic_names(api.get_proxy(other)) == {"someone_elses"}
    reset_owned(api, [other])
