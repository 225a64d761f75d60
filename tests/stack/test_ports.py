"""Free ports outside the ephemeral range, and the in-use check, on real sockets."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.errors import InfrastructureError
from harness.stack.ports import ephemeral_port_range, free_port, port_in_use


def range_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ip_local_port_range"
    path.write_text(text)
    return path


def test_free_port_is_in_range_bindable_and_not_ephemeral() -> None:
    ephemeral = ephemeral_port_range()
    for _ in range(20):
        port = free_port()
        assert 20000 <= port <= 32000
        if ephemeral is not None:
            assert not ephemeral[0] <= port <= ephemeral[1]
        with socket.create_server(("127.0.0.1", port)):
            pass


def test_free_port_avoids_the_ephemeral_range_it_reads(tmp_path: Path) -> None:
    # Only 30000 and 30010 lie outside the (pretend) ephemeral range 30001-30009.
    path = range_file(tmp_path, "30001\t30009\n")
    ports = {free_port(low=30000, high=30010, ephemeral_range_file=path) for _ in range(40)}
    assert ports <= {30000, 30010}


def test_free_port_is_randomised() -> None:
    assert len({free_port() for _ in range(20)}) > 1


def test_free_port_skips_a_port_in_use(tmp_path: Path) -> None:
    no_ephemeral = tmp_path / "missing"
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        # A range of one port that is taken: nothing to give.
        with pytest.raises(InfrastructureError, match=f"no free TCP port on 127.0.0.1 in {port}"):
            free_port(low=port, high=port, ephemeral_range_file=no_ephemeral)
        assert free_port(low=port, high=port + 1, ephemeral_range_file=no_ephemeral) == port + 1


def test_whole_range_ephemeral_is_an_error(tmp_path: Path) -> None:
    path = range_file(tmp_path, "20000 40000")
    with pytest.raises(InfrastructureError, match="outside the ephemeral range 20000-40000"):
        free_port(ephemeral_range_file=path)


def test_invalid_range_is_an_error() -> None:
    with pytest.raises(InfrastructureError, match="invalid port range"):
        free_port(low=5000, high=4000)


@pytest.mark.parametrize("text", ["", "garbage", "9 1", "1"])
def test_unreadable_ephemeral_range_is_ignored(tmp_path: Path, text: str) -> None:
    assert ephemeral_port_range(range_file(tmp_path, text)) is None
    assert ephemeral_port_range(tmp_path / "absent") is None


def test_port_in_use() -> None:
    port = free_port()
    assert not port_in_use("127.0.0.1", port)
    with socket.create_server(("127.0.0.1", port)):
        assert port_in_use("127.0.0.1", port)
    assert not port_in_use("127.0.0.1", port)


def test_port_in_use_on_an_unusable_address() -> None:
    # 192.0.2.1 (TEST-NET-1) is not an address of this machine: the check itself fails.
    with pytest.raises(InfrastructureError, match=r"cannot check port 192\.0\.2\.1"):
        port_in_use("192.0.2.1", 20000)
