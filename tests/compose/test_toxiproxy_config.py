"""examples/payments/toxiproxy.json loads into a real toxiproxy-server 2.12 (as the compose
service loads it with ``-config``), and the harness can kill each build's proxy on its own.

Only the addresses are moved to loopback (the compose network does not exist here): names,
order and ``enabled`` are the file's own.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.stack.ports import free_port
from harness.stack.toxiproxy import ToxiproxyClient
from harness.stack.toxiproxy_server import find_toxiproxy_server
from tests.plugins.toxiproxy import TcpUpstream

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "payments" / "toxiproxy.json"


def round_trip(address: str) -> bytes:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=2) as conn:
        conn.settimeout(2)
        conn.sendall(b"ping")
        return conn.recv(4)


@pytest.fixture
def server(
    tmp_path: Path, tcp_upstream: Callable[..., TcpUpstream]
) -> Iterator[tuple[ToxiproxyClient, dict[str, str]]]:
    binary = find_toxiproxy_server()
    if binary is None:
        pytest.skip("toxiproxy-server is not installed (make setup)")
    upstream = tcp_upstream()
    proxies = json.loads(CONFIG.read_text(encoding="utf-8"))
    listen = {}
    for proxy in proxies:
        proxy["listen"] = listen[proxy["name"]] = f"127.0.0.1:{free_port()}"
        proxy["upstream"] = upstream.address
    config = tmp_path / "toxiproxy.json"
    config.write_text(json.dumps(proxies), encoding="utf-8")
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "-host=127.0.0.1", f"-port={port}", f"-config={config}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = ToxiproxyClient(f"http://127.0.0.1:{port}", timeout=2)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if set(client.list_proxies()) == set(listen):
                    break
            except Exception:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                pytest.fail("toxiproxy-server did not load the config's proxies within 10 s")
            time.sleep(0.05)
        yield client, listen
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def test_the_config_loads_and_each_proxy_is_killed_alone(
    server: tuple[ToxiproxyClient, dict[str, str]],
) -> None:
    client, listen = server
    assert set(listen) == {"payments-baseline-postgres", "payments-candidate-postgres"}
    for address in listen.values():
        assert round_trip(address) == b"ping"  # enabled at start, forwarding to the upstream
    client.down("payments-candidate-postgres")
    with pytest.raises(OSError):
        round_trip(listen["payments-candidate-postgres"])
    assert round_trip(listen["payments-baseline-postgres"]) == b"ping"
    client.up("payments-candidate-postgres")
    assert round_trip(listen["payments-candidate-postgres"]) == b"ping"
