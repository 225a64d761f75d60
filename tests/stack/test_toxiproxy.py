"""The toxiproxy client against a real toxiproxy-server: every API call and every toxic's effect.

Effects are observed on real TCP connections through a proxy to an upstream on 127.0.0.1.
Timeouts are sub-second so the file stays fast.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

import pytest

from harness.errors import ToxiproxyError
from harness.stack.ports import free_port
from harness.stack.toxics import (
    Bandwidth,
    Latency,
    LimitData,
    Noop,
    Proxy,
    ProxyConfig,
    ResetPeer,
    Slicer,
    SlowClose,
    Stream,
    Timeout,
    ToxicAttributes,
)
from harness.stack.toxiproxy import PARTITION_TOXICS, ToxiproxyClient
from harness.stack.toxiproxy_server import ToxiproxyServer
from tests.plugins.toxiproxy import TcpUpstream, TrackingClient, greet_and_close

Upstream = Callable[..., TcpUpstream]


def listen() -> str:
    return f"127.0.0.1:{free_port()}"


def make_proxy(client: ToxiproxyClient, upstream: TcpUpstream, name: str = "db") -> Proxy:
    return client.create_proxy(name, listen(), upstream.address)


def connect(proxy: Proxy, timeout: float = 0.5) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=timeout)


def round_trip(proxy: Proxy, payload: bytes = b"ping", timeout: float = 0.5) -> float:
    """Seconds to send ``payload`` through the proxy and read it all back from the echo (it
    asserts that every byte came back: ``round_trip(proxy)`` alone checks the path works)."""
    with connect(proxy, timeout) as sock:
        started = time.monotonic()
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            assert chunk, "connection closed before the echo came back"
            received += chunk
        elapsed = time.monotonic() - started
    assert received == payload
    return elapsed


def swallow(conn: socket.socket) -> None:
    """An upstream that reads everything and never answers."""
    while conn.recv(65536):
        pass


def read_all(sock: socket.socket) -> tuple[bytes, int]:
    """Everything until EOF, and how many recv calls it took."""
    data, calls = b"", 0
    while chunk := sock.recv(65536):
        data += chunk
        calls += 1
    return data, calls


# --- API calls ------------------------------------------------------------------------------


def test_version_is_2_12(toxiproxy: ToxiproxyClient) -> None:
    assert toxiproxy.version() == "2.12.0"


def test_create_get_list_delete_proxy(toxiproxy: ToxiproxyClient, tcp_upstream: Upstream) -> None:
    upstream = tcp_upstream()
    address = listen()
    created = toxiproxy.create_proxy("db", address, upstream.address)
    assert (created.name, created.listen, created.upstream) == ("db", address, upstream.address)
    assert created.enabled and created.toxics == []
    assert toxiproxy.get_proxy("db") == created
    assert toxiproxy.list_proxies()["db"] == created
    round_trip(created)
    toxiproxy.delete_proxy("db")
    assert "db" not in toxiproxy.list_proxies()
    with pytest.raises(ConnectionRefusedError):
        connect(created)


def test_create_disabled_proxy(toxiproxy: ToxiproxyClient, tcp_upstream: Upstream) -> None:
    proxy = toxiproxy.create_proxy("db", listen(), tcp_upstream().address, enabled=False)
    assert not proxy.enabled
    with pytest.raises(ConnectionRefusedError):
        connect(proxy)


def test_update_listen_and_upstream(toxiproxy: ToxiproxyClient, tcp_upstream: Upstream) -> None:
    first, second = tcp_upstream(), tcp_upstream(greet_and_close)
    proxy = make_proxy(toxiproxy, first)
    moved = toxiproxy.update_proxy("db", listen=listen())
    assert moved.listen != proxy.listen
    round_trip(moved)
    with pytest.raises(ConnectionRefusedError):
        connect(proxy)  # the old address is free again
    redirected = toxiproxy.update_proxy("db", upstream=second.address)
    assert redirected.upstream == second.address
    with connect(redirected) as sock:
        assert read_all(sock)[0] == b"hello"


def test_disable_refuses_and_enable_restores(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream
) -> None:
    proxy = make_proxy(toxiproxy, tcp_upstream())
    open_connection = connect(proxy)
    with open_connection:
        assert toxiproxy.disable("db").enabled is False
        # Disabling closes live connections too: the peer sees EOF or a reset.
        with contextlib.suppress(ConnectionResetError):
            assert open_connection.recv(10) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(proxy)
    assert toxiproxy.enable("db").enabled is True
    round_trip(proxy)


def test_down_and_up_are_disable_and_enable(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream
) -> None:
    proxy = make_proxy(toxiproxy, tcp_upstream())
    assert toxiproxy.down("db").enabled is False
    with pytest.raises(ConnectionRefusedError):
        connect(proxy)
    assert toxiproxy.up("db").enabled is True
    round_trip(proxy)


def test_populate_creates_and_keeps_existing(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream
) -> None:
    upstream = tcp_upstream()
    existing = make_proxy(toxiproxy, upstream, "a")
    configs = [
        ProxyConfig(name="a", listen=existing.listen, upstream=upstream.address),
        ProxyConfig(name="b", listen=listen(), upstream=upstream.address),
    ]
    populated = toxiproxy.populate(configs)
    assert sorted(p.name for p in populated) == ["a", "b"]
    assert set(toxiproxy.list_proxies()) >= {"a", "b"}
    assert toxiproxy.get_proxy("a") == existing  # kept as it was
    round_trip(toxiproxy.get_proxy("b"))


def test_toxic_crud(toxiproxy: ToxiproxyClient, tcp_upstream: Upstream) -> None:
    make_proxy(toxiproxy, tcp_upstream())
    toxic = toxiproxy.create_toxic("db", Latency(latency=100, jitter=5))
    assert (toxic.name, toxic.type, toxic.stream) == ("latency_downstream", "latency", "downstream")
    assert toxic.toxicity == 1.0 and toxic.attributes == Latency(latency=100, jitter=5)
    named = toxiproxy.create_toxic(
        "db", Slicer(average_size=10), name="cut", stream=Stream.UPSTREAM, toxicity=0.5
    )
    assert (named.stream, named.toxicity) == (Stream.UPSTREAM, 0.5)
    assert toxiproxy.get_toxic("db", "cut") == named
    assert {t.name for t in toxiproxy.list_toxics("db")} == {"latency_downstream", "cut"}
    assert {t.name for t in toxiproxy.get_proxy("db").toxics} == {"latency_downstream", "cut"}

    updated = toxiproxy.update_toxic("db", "latency_downstream", attributes=Latency(latency=7))
    assert updated.attributes == Latency(latency=7, jitter=0)
    assert toxiproxy.update_toxic("db", "cut", toxicity=0.25).toxicity == 0.25

    toxiproxy.delete_toxic("db", "cut")
    assert [t.name for t in toxiproxy.list_toxics("db")] == ["latency_downstream"]
    toxiproxy.delete_all_toxics("db")
    assert toxiproxy.list_toxics("db") == []


@pytest.mark.parametrize(
    "attributes",
    [
        Latency(latency=10, jitter=2),
        Bandwidth(rate=100),
        SlowClose(delay=10),
        Timeout(timeout=100),
        ResetPeer(timeout=100),
        Slicer(average_size=64, size_variation=8, delay=10),
        LimitData(bytes=1000),
        Noop(),
    ],
    ids=lambda a: a.toxic_type,
)
def test_every_toxic_type_round_trips(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream, attributes: ToxicAttributes
) -> None:
    make_proxy(toxiproxy, tcp_upstream())
    for stream in Stream:
        created = toxiproxy.create_toxic("db", attributes, stream=stream)
        assert created.type == attributes.toxic_type
        assert type(created.attributes) is type(attributes)
        assert created.attributes == attributes
        assert toxiproxy.get_toxic("db", created.name) == created


def test_reset_enables_and_removes_toxics(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream, toxiproxy_server: ToxiproxyServer
) -> None:
    if toxiproxy_server.external:
        pytest.skip("POST /reset changes every proxy of the server: not on a shared TOXIPROXY_URL")
    upstream = tcp_upstream()
    proxy = make_proxy(toxiproxy, upstream)
    make_proxy(toxiproxy, upstream, "other")
    toxiproxy.create_toxic("db", Latency(latency=1000))
    toxiproxy.partition("other")
    toxiproxy.disable("db")
    toxiproxy.reset()
    for name in ("db", "other"):
        item = toxiproxy.get_proxy(name)
        assert item.enabled and item.toxics == []
    assert round_trip(proxy, timeout=0.9) < 1.0


def test_reset_proxy_touches_only_that_proxy(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream
) -> None:
    upstream = tcp_upstream()
    make_proxy(toxiproxy, upstream)
    make_proxy(toxiproxy, upstream, "other")
    toxiproxy.create_toxic("db", Latency(latency=300))
    toxiproxy.disable("db")
    toxiproxy.create_toxic("other", Latency(latency=300))
    restored = toxiproxy.reset_proxy("db")
    assert restored.enabled and restored.toxics == []
    assert [t.name for t in toxiproxy.list_toxics("other")] == ["latency_downstream"]


# --- errors carry the server's message --------------------------------------------------------


def test_duplicate_proxy_is_409_with_server_message(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream
) -> None:
    upstream = tcp_upstream()
    make_proxy(toxiproxy, upstream)
    with pytest.raises(ToxiproxyError) as caught:
        toxiproxy.create_proxy("db", listen(), upstream.address)
    assert caught.value.status == 409
    assert "proxy already exists" in str(caught.value)
    assert toxiproxy.url in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("call", "status", "text"),
    [
        (lambda c: c.get_proxy("nope"), 404, "proxy not found"),
        (lambda c: c.delete_proxy("nope"), 404, "proxy not found"),
        (lambda c: c.disable("nope"), 404, "proxy not found"),
        (lambda c: c.list_toxics("nope"), 404, "proxy not found"),
        (lambda c: c.get_toxic("db", "nope"), 404, "toxic not found"),
        (lambda c: c.delete_toxic("db", "nope"), 404, "toxic not found"),
        (lambda c: c.update_toxic("db", "nope", toxicity=0.5), 404, "toxic not found"),
    ],
)
def test_missing_things_are_404(
    toxiproxy: ToxiproxyClient,
    tcp_upstream: Upstream,
    call: Callable[[ToxiproxyClient], object],
    status: int,
    text: str,
) -> None:
    make_proxy(toxiproxy, tcp_upstream())
    with pytest.raises(ToxiproxyError, match=text) as caught:
        call(toxiproxy)
    assert caught.value.status == status


def test_duplicate_toxic_and_busy_listen_address(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream
) -> None:
    upstream = tcp_upstream()
    make_proxy(toxiproxy, upstream)
    toxiproxy.create_toxic("db", Latency(latency=1))
    with pytest.raises(ToxiproxyError, match="toxic already exists") as caught:
        toxiproxy.create_toxic("db", Latency(latency=1))
    assert caught.value.status == 409
    with pytest.raises(ToxiproxyError, match="address already in use") as busy:
        toxiproxy.create_proxy("clash", upstream.address, upstream.address)
    assert busy.value.status == 500


def test_unreachable_server_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with ToxiproxyClient(url, timeout=0.5) as client, pytest.raises(ToxiproxyError) as caught:
        client.list_proxies()
    assert str(caught.value) == f"toxiproxy at {url} is unreachable: connection refused"
    assert caught.value.status is None


def test_silent_server_times_out(tcp_upstream: Upstream) -> None:
    # A listener that accepts and never answers: the client's own timeout ends the call.
    silent = tcp_upstream(swallow)
    url = f"http://{silent.address}"
    with ToxiproxyClient(url, timeout=0.2) as client, pytest.raises(ToxiproxyError) as caught:
        client.version()
    assert f"toxiproxy at {url} did not answer GET /version within 0.2 s" == str(caught.value)


# --- each toxic's effect on a real connection -----------------------------------------------


def test_latency_delays_the_round_trip(toxiproxy: ToxiproxyClient, tcp_upstream: Upstream) -> None:
    proxy = make_proxy(toxiproxy, tcp_upstream())
    toxiproxy.create_toxic("db", Latency(latency=150))
    assert round_trip(proxy, timeout=2) >= 0.15


def test_latency_on_both_streams_adds_up(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream
) -> None:
    proxy = make_proxy(toxiproxy, tcp_upstream())
    for stream in Stream:
        toxiproxy.create_toxic("db", Latency(latency=100), stream=stream)
    assert round_trip(proxy, timeout=2) >= 0.2


def test_toxicity_zero_has_no_effect(toxiproxy: ToxiproxyClient, tcp_upstream: Upstream) -> None:
    proxy = make_proxy(toxiproxy, tcp_upstream())
    toxiproxy.create_toxic("db", Latency(latency=1000), toxicity=0.0)
    toxiproxy.create_toxic("db", Timeout(timeout=0), stream=Stream.UPSTREAM, toxicity=0.0)
    assert round_trip(proxy, timeout=0.9) < 1.0


def test_partition_holds_data_until_the_clients_timeout(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream
) -> None:
    upstream = tcp_upstream()
    proxy = make_proxy(toxiproxy, upstream)
    toxics = toxiproxy.partition("db")
    assert {t.name for t in toxics} == set(PARTITION_TOXICS.values())
    assert {(t.stream, t.attributes) for t in toxics} == {
        (Stream.UPSTREAM, Timeout(timeout=0)),
        (Stream.DOWNSTREAM, Timeout(timeout=0)),
    }
    with connect(proxy, timeout=0.3) as sock:
        sock.sendall(b"ping")
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            sock.recv(10)
        assert time.monotonic() - started >= 0.25
    toxiproxy.heal("db")
    assert toxiproxy.list_toxics("db") == []
    toxiproxy.heal("db")  # healing twice is harmless
    round_trip(proxy)


def test_timeout_closes_the_connection_after_its_delay(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream
) -> None:
    proxy = make_proxy(toxiproxy, tcp_upstream())
    toxiproxy.create_toxic("db", Timeout(timeout=200))
    with connect(proxy, timeout=2) as sock:
        started = time.monotonic()
        sock.sendall(b"ping")
        data, _ = read_all(sock)
        elapsed = time.monotonic() - started
    assert data == b""
    assert elapsed >= 0.18


def test_reset_peer_resets_the_connection(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream
) -> None:
    proxy = make_proxy(toxiproxy, tcp_upstream())
    toxiproxy.create_toxic("db", ResetPeer(timeout=0), stream=Stream.UPSTREAM)
    with connect(proxy, timeout=2) as sock, pytest.raises(ConnectionResetError):
        sock.sendall(b"ping")
        sock.recv(10)


def test_bandwidth_slows_a_transfer(toxiproxy: ToxiproxyClient, tcp_upstream: Upstream) -> None:
    proxy = make_proxy(toxiproxy, tcp_upstream())
    payload = b"x" * 20_000
    unlimited = round_trip(proxy, payload, timeout=2)
    toxiproxy.create_toxic("db", Bandwidth(rate=50))  # 50 KB/s: 20 kB take about 0.4 s
    limited = round_trip(proxy, payload, timeout=3)
    assert limited >= 0.3
    assert limited > unlimited


def test_slicer_cuts_data_into_delayed_pieces(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream
) -> None:
    proxy = make_proxy(toxiproxy, tcp_upstream())
    toxiproxy.create_toxic("db", Slicer(average_size=100, delay=20_000))  # 20 ms apart
    with connect(proxy, timeout=2) as sock:
        started = time.monotonic()
        sock.sendall(b"y" * 1000)
        data, calls = b"", 0
        while len(data) < 1000 and (chunk := sock.recv(65536)):
            data += chunk
            calls += 1
        elapsed = time.monotonic() - started
    assert data == b"y" * 1000
    # About ten slices 20 ms apart: several reads, and at least 9 x 20 ms in all.
    assert calls >= 2
    assert elapsed >= 0.15


def test_limit_data_closes_after_the_limit(
    toxiproxy: ToxiproxyClient, tcp_upstream: Upstream
) -> None:
    proxy = make_proxy(toxiproxy, tcp_upstream())
    toxiproxy.create_toxic("db", LimitData(bytes=100))
    with connect(proxy, timeout=2) as sock:
        sock.sendall(b"z" * 1000)
        data, _ = read_all(sock)
    assert data == b"z" * 100


def test_slow_close_delays_the_close(toxiproxy: ToxiproxyClient, tcp_upstream: Upstream) -> None:
    proxy = make_proxy(toxiproxy, tcp_upstream(greet_and_close))
    with connect(proxy, timeout=2) as sock:
        quick, _ = read_all(sock)
    toxiproxy.create_toxic("db", SlowClose(delay=300))
    # the clock starts before the connection: the upstream may greet and close (and the toxic's
    # 300 ms start) before connect() returns here (measured 0.298 s from after it, under load)
    started = time.monotonic()
    with connect(proxy, timeout=2) as sock:
        data, _ = read_all(sock)
        slow_close = time.monotonic() - started
    assert quick == data == b"hello"
    assert slow_close >= 0.3  # without the toxic the close comes at once (milliseconds)


def test_the_fixture_never_touches_proxies_it_did_not_create(
    toxiproxy: TrackingClient, toxiproxy_server: ToxiproxyServer, tcp_upstream: Upstream
) -> None:
    # what `make test` with TOXIPROXY_URL at a staging toxiproxy must leave alone
    upstream = tcp_upstream()
    with toxiproxy_server.client() as staging:
        theirs = staging.create_proxy("staging-db-not-ours", listen(), upstream.address)
        staging.create_toxic("staging-db-not-ours", Latency(latency=5))
        try:
            make_proxy(toxiproxy, upstream)
            toxiproxy.populate([ProxyConfig(name="b", listen=listen(), upstream=upstream.address)])
            assert toxiproxy.created == ["db", "b"]
            toxiproxy.delete_created()
            proxies = staging.list_proxies()
            assert "db" not in proxies and "b" not in proxies
            assert [t.name for t in proxies["staging-db-not-ours"].toxics] == ["latency_downstream"]
            assert proxies["staging-db-not-ours"].listen == theirs.listen
        finally:
            staging.delete_proxy("staging-db-not-ours")
