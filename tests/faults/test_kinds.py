"""Each fault kind against a real toxiproxy-server and a real TCP upstream: observed, reverted.

Each kind's effect is observed as a client of the proxy sees it, with a specific expectation
(latency added within its jitter, bytes limited, connection reset, no byte through), not only
by listing the toxic the harness created.
"""

import socket
import time
from collections.abc import Callable

import pytest

from harness.faults.kinds import (
    ProxyFaults,
    applied_check,
    reverted_check,
    toxic_names,
    toxics_for,
)
from harness.faults.verify import SSL_REQUEST, parse_listen, round_trip_ms
from harness.scenario.model import (
    BandwidthFault,
    DownFault,
    Fault,
    LatencyFault,
    LimitDataFault,
    PartitionFault,
    ResetPeerFault,
    SlicerFault,
    SlowCloseFault,
    TimeoutFault,
)
from tests.faults.conftest import Proxied

WHEN = {"at": 0, "for": 1}
FAULTS: list[Fault] = [
    DownFault(kind="down", **WHEN),
    DownFault(kind="down", refuse=True, **WHEN),
    PartitionFault(kind="partition", **WHEN),
    LatencyFault(kind="latency", latency_ms=150, jitter_ms=20, **WHEN),
    BandwidthFault(kind="bandwidth", rate_kbps=1, **WHEN),
    SlowCloseFault(kind="slow_close", delay_ms=100, **WHEN),
    TimeoutFault(kind="timeout", timeout_ms=200, stream="upstream", **WHEN),
    ResetPeerFault(kind="reset_peer", timeout_ms=10, toxicity=0.5, **WHEN),
    SlicerFault(kind="slicer", average_size=2, delay_us=10, stream="both", **WHEN),
    LimitDataFault(kind="limit_data", bytes=4, **WHEN),
]


def _id(fault: Fault) -> str:
    return "down-refuse" if isinstance(fault, DownFault) and fault.refuse else fault.kind


@pytest.mark.parametrize("fault", FAULTS, ids=[_id(f) for f in FAULTS])
def test_fault_observed_and_reverted(proxied: Proxied, fault: Fault) -> None:
    api = proxied.client
    proxy = proxied.proxies["baseline"]
    other = proxied.proxies["candidate"]
    info = api.get_proxy(proxy)
    address = parse_listen(info.listen)
    before = round_trip_ms(address)
    state = ProxyFaults()
    state.apply(api, proxy, fault, "f1")
    try:
        result = applied_check(api, info, fault, "f1", before)()
        assert result.ok, result.detail
        applied = api.get_proxy(proxy)
        assert applied.enabled == (_id(fault) != "down-refuse")
        assert toxic_names(applied) == {t.name for t in toxics_for(fault, "f1")}
        assert api.get_proxy(other).toxics == []  # only the proxy asked for
    finally:
        state.revert(api, proxy, fault, "f1")
    assert reverted_check(api, info, fault, "f1")().ok
    after = api.get_proxy(proxy)
    assert after.enabled and after.toxics == []
    assert round_trip_ms(address) < 100  # the path is clean again


def test_observed_from_the_client_side(proxied: Proxied) -> None:
    api = proxied.client
    proxy = proxied.proxies["baseline"]
    address = parse_listen(api.get_proxy(proxy).listen)
    state = ProxyFaults()
    refuse = DownFault(kind="down", refuse=True, **WHEN)
    state.apply(api, proxy, refuse, "f0")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=1).close()
    state.revert(api, proxy, refuse, "f0")
    down = DownFault(kind="down", **WHEN)
    state.apply(api, proxy, down, "f1")
    with socket.create_connection(address, timeout=1) as conn:  # accepted ...
        conn.settimeout(1)
        conn.sendall(SSL_REQUEST)
        with pytest.raises(ConnectionResetError):  # ... and reset before any answer
            conn.recv(1)
    state.revert(api, proxy, down, "f1")
    partition = PartitionFault(kind="partition", **WHEN)
    state.apply(api, proxy, partition, "f2")
    with socket.create_connection(address, timeout=1) as conn:
        conn.settimeout(0.5)
        conn.sendall(SSL_REQUEST)
        with pytest.raises(TimeoutError):
            conn.recv(1)
    state.revert(api, proxy, partition, "f2")
    latency = LatencyFault(kind="latency", latency_ms=200, **WHEN)
    state.apply(api, proxy, latency, "f3")
    assert round_trip_ms(address) >= 190
    state.revert(api, proxy, latency, "f3")


def test_partition_is_timeout_zero_on_both_streams() -> None:
    toxics = toxics_for(PartitionFault(kind="partition", **WHEN), "f7")
    assert [(t.name, t.type, t.stream, t.attributes) for t in toxics] == [
        ("harness_f7_upstream", "timeout", "upstream", {"timeout": 0}),
        ("harness_f7_downstream", "timeout", "downstream", {"timeout": 0}),
    ]


def test_down_cuts_open_connections(proxied: Proxied) -> None:
    api = proxied.client
    proxy = proxied.proxies["baseline"]
    address = parse_listen(api.get_proxy(proxy).listen)
    state = ProxyFaults()
    with socket.create_connection(address, timeout=1) as idle:
        idle.settimeout(1)
        idle.sendall(SSL_REQUEST)
        assert idle.recv(len(SSL_REQUEST)) == SSL_REQUEST  # the echo upstream answered
        state.apply(api, proxy, DownFault(kind="down", **WHEN), "f1")
        try:
            assert idle.recv(1) == b""  # closed when the database died, not at its next use
        finally:
            state.revert(api, proxy, DownFault(kind="down", **WHEN), "f1")


def test_down_is_reset_peer_at_once_on_both_streams() -> None:
    toxics = toxics_for(DownFault(kind="down", **WHEN), "f3")
    assert [(t.name, t.type, t.stream, t.toxicity, t.attributes) for t in toxics] == [
        ("harness_f3_upstream", "reset_peer", "upstream", 1.0, {"timeout": 0}),
        ("harness_f3_downstream", "reset_peer", "downstream", 1.0, {"timeout": 0}),
    ]
    assert toxics_for(DownFault(kind="down", refuse=True, **WHEN), "f3") == []


def test_overlapping_refusing_downs_are_counted(proxied: Proxied) -> None:
    api = proxied.client
    proxy = proxied.proxies["baseline"]
    state = ProxyFaults()
    down = DownFault(kind="down", refuse=True, **WHEN)
    state.apply(api, proxy, down, "f1")
    state.apply(api, proxy, down, "f2")
    state.revert(api, proxy, down, "f1")
    assert not api.get_proxy(proxy).enabled
    state.revert(api, proxy, down, "f2")
    assert api.get_proxy(proxy).enabled


# --- what a client of the proxy sees, kind by kind (the echo upstream answers every byte) -----

Address = tuple[str, int]


def _echo(address: Address, payload: bytes, timeout: float = 5.0) -> tuple[bytes, int, float]:
    """Send ``payload`` and read until it all came back or the connection ended: the bytes,
    how many reads it took, and the seconds it took."""
    with socket.create_connection(address, timeout=timeout) as conn:
        conn.settimeout(timeout)
        started = time.monotonic()
        conn.sendall(payload)
        received, reads = b"", 0
        while len(received) < len(payload):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
            reads += 1
        return received, reads, time.monotonic() - started


def _sees_down(address: Address) -> None:
    with socket.create_connection(address, timeout=2) as conn:  # accepted, then reset
        conn.settimeout(2)
        conn.sendall(SSL_REQUEST)
        with pytest.raises(ConnectionResetError):
            conn.recv(1)


def _sees_refused(address: Address) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2).close()


def _sees_nothing_through(address: Address) -> None:  # partition: no byte, no close
    with socket.create_connection(address, timeout=2) as conn:
        conn.settimeout(0.6)
        conn.sendall(SSL_REQUEST)
        with pytest.raises(TimeoutError):
            conn.recv(1)


def _sees_latency(address: Address) -> None:  # 150 ms ± 20 per answer
    received, _, took = _echo(address, b"ping")
    assert received == b"ping"
    assert 0.130 <= took < 0.170 + 2.0  # within the jitter below; a loaded machine only adds


def _sees_bandwidth(address: Address) -> None:  # 1 KB/s: 1,500 bytes take about 1.5 s
    received, _, took = _echo(address, b"b" * 1500, timeout=10)
    assert received == b"b" * 1500
    assert took >= 1.0


def _sees_slow_close(address: Address) -> None:  # the close reaches the client 300 ms late
    with socket.create_connection(address, timeout=5) as conn:
        conn.settimeout(5)
        conn.sendall(b"ping")
        assert conn.recv(4) == b"ping"
        conn.shutdown(socket.SHUT_WR)  # the echo upstream closes in turn
        started = time.monotonic()
        assert conn.recv(1) == b""
        assert time.monotonic() - started >= 0.28


def _sees_timeout(address: Address) -> None:  # no byte through, closed after 200 ms
    received, _, took = _echo(address, SSL_REQUEST)
    assert received == b""
    assert took >= 0.18


def _sees_reset(address: Address) -> None:  # reset_peer: every connection reset, no answer
    with socket.create_connection(address, timeout=2) as conn:
        conn.settimeout(2)
        with pytest.raises(ConnectionResetError):
            conn.sendall(SSL_REQUEST)
            conn.recv(1)


def _sees_slices(address: Address) -> None:  # 2-byte slices, 20 ms apart
    received, reads, took = _echo(address, b"s" * 40)
    assert received == b"s" * 40
    assert reads >= 10
    assert took >= 0.2  # 20 slices, 19 gaps of 20 ms at the least (half of it, for safety)


def _sees_limit(address: Address) -> None:  # limit_data: 4 bytes, then the connection ends
    received, _, _ = _echo(address, b"0123456789")
    assert received == b"0123"


CLIENT_SIDE: list[tuple[Fault, Callable[[Address], None]]] = [
    (DownFault(kind="down", **WHEN), _sees_down),
    (DownFault(kind="down", refuse=True, **WHEN), _sees_refused),
    (PartitionFault(kind="partition", **WHEN), _sees_nothing_through),
    (LatencyFault(kind="latency", latency_ms=150, jitter_ms=20, **WHEN), _sees_latency),
    (BandwidthFault(kind="bandwidth", rate_kbps=1, stream="both", **WHEN), _sees_bandwidth),
    (SlowCloseFault(kind="slow_close", delay_ms=300, **WHEN), _sees_slow_close),
    (TimeoutFault(kind="timeout", timeout_ms=200, stream="upstream", **WHEN), _sees_timeout),
    (ResetPeerFault(kind="reset_peer", timeout_ms=0, **WHEN), _sees_reset),
    (SlicerFault(kind="slicer", average_size=2, delay_us=20_000, **WHEN), _sees_slices),
    (LimitDataFault(kind="limit_data", bytes=4, **WHEN), _sees_limit),
]


@pytest.mark.parametrize(("fault", "sees"), CLIENT_SIDE, ids=[_id(f) for f, _ in CLIENT_SIDE])
def test_each_kind_as_a_client_sees_it(
    proxied: Proxied, fault: Fault, sees: Callable[[Address], None]
) -> None:
    api = proxied.client
    proxy = proxied.proxies["baseline"]
    address = parse_listen(api.get_proxy(proxy).listen)
    assert _echo(address, b"ping")[0] == b"ping"  # a clean path first
    state = ProxyFaults()
    state.apply(api, proxy, fault, "f1")
    try:
        sees(address)
    finally:
        state.revert(api, proxy, fault, "f1")
    received, _, _ = _echo(address, b"x" * 100)
    assert received == b"x" * 100  # and clean again once reverted
