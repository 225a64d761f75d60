"""Orphaned stacks, for real: an owner process records what it starts in its ledger, is killed
with SIGKILL, and the cleanup stops its processes and cleans its proxies on a real toxiproxy."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.stack.ledger import LEDGER_DIR, StackLedger
from harness.stack.lifetime import ProcessIdentity
from harness.stack.orphans import clean_orphans, find_orphans
from harness.stack.ports import free_port
from harness.stack.toxiproxy import ToxiproxyClient
from harness.stack.toxiproxy_server import ToxiproxyServer
from harness.statedir import STATE_DIR_VARIABLE
from tests.plugins.toxiproxy import TcpUpstream
from tests.waiting import wait_until

_OWNER = textwrap.dedent(
    """
    import subprocess, sys, time
    from pathlib import Path
    from harness.stack.ledger import StackLedger
    from harness.stack.lifetime import ProcessIdentity
    from harness.stack.toxiproxy import ToxiproxyClient
    from harness.stack.toxics import Latency

    url, created, borrowed, upstream, listen = sys.argv[1:6]
    ledger = StackLedger.create(Path(sys.argv[6]), "orphan-test")
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    for name in ("action a1 on baseline", "target baseline"):
        # no parent-death signal here: what the cleanup must stop by itself
        child = subprocess.Popen(sleeper, start_new_session=True, stdout=subprocess.DEVNULL)
        ledger.process(name, ProcessIdentity.of(child.pid))
    client = ToxiproxyClient(url)
    ledger.proxy(borrowed, server=url, cleanup="reset")
    client.disable(borrowed)
    client.create_toxic(borrowed, Latency(latency=500))
    ledger.proxy(created, server=url, cleanup="delete")
    client.create_proxy(created, listen, upstream)
    client.disable(created)
    print(ledger.path, flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state directory of this test's own (other tests' stacks are none of its business)."""
    path = tmp_path / "state"
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(path))
    return path


@pytest.fixture
def killed_owner(
    state: Path,
    tmp_path: Path,
    toxiproxy_server: ToxiproxyServer,
    toxiproxy: ToxiproxyClient,
    tcp_upstream: Callable[..., TcpUpstream],
) -> Iterator[tuple[dict[str, object], Path, str, str]]:
    """An owner that recorded two processes and two proxies, then died by SIGKILL."""
    upstream = tcp_upstream()
    suffix = uuid.uuid4().hex[:8]
    created, borrowed = f"orphan-created-{suffix}", f"orphan-borrowed-{suffix}"
    toxiproxy.create_proxy(borrowed, f"127.0.0.1:{free_port()}", upstream.address)
    args = [toxiproxy_server.url, created, borrowed, upstream.address, f"127.0.0.1:{free_port()}"]
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, *args, str(tmp_path / "work")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        ledger = Path(owner.stdout.readline().strip())
        data = json.loads(ledger.read_text())
    finally:
        owner.kill()
        owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
    processes = [ProcessIdentity.from_json(p) for p in data["processes"].values()]
    try:
        yield data, ledger, created, borrowed
    finally:
        for identity in processes:  # whatever the test did, nothing may outlive it
            if identity is not None and identity.alive():
                os.killpg(identity.pid, 9)


def test_sigkill_leaves_an_orphan_that_the_cleanup_ends(
    killed_owner: tuple[dict[str, object], Path, str, str],
    state: Path,
    toxiproxy: ToxiproxyClient,
) -> None:
    data, ledger, created, borrowed = killed_owner
    processes = data["processes"]
    assert isinstance(processes, dict)
    identities = [ProcessIdentity.from_json(p) for p in processes.values()]
    assert all(i is not None and i.alive() for i in identities)  # what SIGKILL left running
    assert not toxiproxy.get_proxy(borrowed).enabled
    assert find_orphans() == [ledger]

    lines: list[str] = []
    results = clean_orphans(lines.append)
    assert len(results) == 1 and results[0].problems == []
    assert all(line.startswith("orphaned stack orphan-test (pid ") for line in lines)
    done = results[0].done
    pids = {name: ProcessIdentity.from_json(p) for name, p in processes.items()}
    assert done[:2] == [
        f"stopped action a1 on baseline (pid {pids['action a1 on baseline'].pid})",  # type: ignore[union-attr]
        f"stopped target baseline (pid {pids['target baseline'].pid})",  # type: ignore[union-attr]
    ]
    assert any(line.startswith(f"deleted proxy {created} on ") for line in done)
    assert any(
        line.startswith(f"reset proxy {borrowed} on ")
        and line.endswith("re-enabled, toxics removed: latency_downstream")
        for line in done
    )
    assert wait_until(lambda: not any(i is not None and i.alive() for i in identities))
    assert created not in toxiproxy.list_proxies()
    restored = toxiproxy.get_proxy(borrowed)
    assert restored.enabled and restored.toxics == []
    assert list((state / LEDGER_DIR).iterdir()) == []  # cleaned once, for good
    assert find_orphans() == []
    assert clean_orphans() == []


def test_stack_down_cleans_orphans_and_says_what(
    killed_owner: tuple[dict[str, object], Path, str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _data, _ledger, created, _borrowed = killed_owner
    assert main(["stack", "down", "--work-dir", str(tmp_path / "nothing-here")]) == 0
    out = capsys.readouterr().out
    assert "stopped target baseline" in out and f"deleted proxy {created}" in out
    # nothing left: a second `stack down` has nothing to stop
    assert main(["stack", "down", "--work-dir", str(tmp_path / "nothing-here")]) == 3
    assert "no orphaned stack was found" in capsys.readouterr().err


def test_unreachable_toxiproxy_keeps_the_ledger_for_next_time(
    state: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The user's toxiproxy (TOXIPROXY_URL) is down: its proxies may be left disabled."""
    ledger = StackLedger.create(tmp_path, "gone-toxiproxy")
    dead_url = f"http://127.0.0.1:{free_port()}"
    ledger.toxiproxy(dead_url, None, external=True)
    ledger.proxy("pay-db", server=dead_url, cleanup="reset")
    _orphan(ledger)
    assert main(["stack", "down", "--work-dir", str(tmp_path)]) == 4
    captured = capsys.readouterr()
    assert f"could not clean its proxies on {dead_url}: toxiproxy at {dead_url} is unreachable" in (
        captured.out
    )
    assert "tried again next time" in captured.err
    assert [p.name for p in (state / LEDGER_DIR).iterdir()] == [ledger.path.name]


def _orphan(ledger: StackLedger) -> None:
    """Make ``ledger``'s owner a process that is no more."""
    data = json.loads(ledger.path.read_text())
    data["owner"] = {"pid": 2**22 + 7, "start": 1, "pgid": None}
    ledger.path.write_text(json.dumps(data))


@pytest.mark.parametrize("pid_known", [True, False])
def test_a_gone_toxiproxy_of_its_own_is_nothing_to_clean(
    state: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, pid_known: bool
) -> None:
    """A toxiproxy-server the dead stack started itself died with it (or after it), and its
    proxies lived in its memory: `stack down` finds nothing to clean there, exits 0, and the
    ledger is gone. The ledger says whose server it was, however long ago it went away."""
    ledger = StackLedger.create(tmp_path, "own-toxiproxy")
    server = ToxiproxyServer(log_path=tmp_path / "toxiproxy.log").start()
    assert server.pid is not None
    own = ProcessIdentity.of(server.pid)
    ledger.toxiproxy(server.url, own if pid_known else None, external=False)
    ledger.proxy("own-baseline-postgres", server=server.url, cleanup="delete")
    server.stop()
    assert not own.alive()
    _orphan(ledger)
    assert main(["stack", "down", "--work-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "orphaned stack own-toxiproxy (pid " in out
    assert out.rstrip().endswith(": nothing of it was left running"), out
    assert list((state / LEDGER_DIR).iterdir()) == []


def test_live_owners_and_other_hosts_are_left_alone(state: Path, tmp_path: Path) -> None:
    mine = StackLedger.create(tmp_path, "running")  # owned by this very process: alive
    other = StackLedger.create(tmp_path, "elsewhere")
    data = json.loads(other.path.read_text())
    data.update(host=socket.gethostname() + "-not", owner={"pid": 2**22 + 7, "start": 1})
    other.path.write_text(json.dumps(data))
    assert find_orphans() == []
    assert clean_orphans() == []
    assert mine.path.exists() and other.path.exists()
    mine.close()
    assert not mine.path.exists()
