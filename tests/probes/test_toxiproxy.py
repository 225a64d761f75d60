"""Accepted connections per proxy, from the log of the real toxiproxy-server."""

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.probes.toxiproxy import AcceptedConnections
from harness.stack.toxiproxy import ToxiproxyClient
from harness.stack.toxiproxy_server import ToxiproxyServer
from tests.plugins.toxiproxy import TcpUpstream, echo


def _connect(listen: str, times: int) -> None:
    host, port = listen.rsplit(":", 1)
    for _ in range(times):
        with socket.create_connection((host, int(port)), timeout=2) as conn:
            conn.sendall(b"x")
            conn.recv(1)


def _eventually(read: Callable[[], int], expected: int) -> int:
    deadline = time.monotonic() + 5
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.05)  # toxiproxy writes its log line as it accepts
        value = read()
    return value


def test_counts_new_connections_per_proxy(
    toxiproxy_server: ToxiproxyServer,
    toxiproxy: ToxiproxyClient,
    tcp_upstream: Callable[..., TcpUpstream],
) -> None:
    if toxiproxy_server.log_path is None or toxiproxy_server.external:
        pytest.skip("an external toxiproxy's log is not readable")
    upstream = tcp_upstream(echo)
    a = toxiproxy.create_proxy("probe_count_a", "127.0.0.1:0", upstream.address)
    b = toxiproxy.create_proxy("probe_count_b", "127.0.0.1:0", upstream.address)
    accepted = AcceptedConnections(toxiproxy_server.log_path)
    start_a, start_b = accepted("probe_count_a"), accepted("probe_count_b")
    _connect(a.listen, 3)
    _connect(b.listen, 1)
    assert _eventually(lambda: accepted("probe_count_a") - start_a, 3) == 3
    assert _eventually(lambda: accepted("probe_count_b") - start_b, 1) == 1
    toxiproxy.disable("probe_count_a")  # refused connections never reach the proxy
    with pytest.raises(ConnectionRefusedError):
        _connect(a.listen, 1)
    assert accepted("probe_count_a") - start_a == 3


def test_half_written_lines_wait(tmp_path: Path) -> None:
    log = tmp_path / "toxiproxy.log"
    line = '{"level":"info","name":"pg","client":"127.0.0.1:1","message":"Accepted client"}'
    log.write_text(line + "\n" + line[:30])
    accepted = AcceptedConnections(log)
    assert accepted("pg") == 1
    with log.open("a") as handle:
        handle.write(line[30:] + "\n")
    assert accepted("pg") == 2


def test_external_server_has_no_log() -> None:
    with pytest.raises(FileNotFoundError, match="external"):
        AcceptedConnections(None)("pg")
