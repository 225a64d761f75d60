"""Each fault kind against a real toxiproxy-server and a real TCP upstream: observed, reverted."""

import socket

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
