"""Free TCP ports for the stack's listeners, chosen outside the kernel's ephemeral range.

Toxiproxy's API, its proxies and the target services all listen on ports the harness picks.
A port inside the ephemeral range can be taken at any moment by an outgoing connection (the
kernel hands those ports out to clients), so :func:`free_port` avoids that range, and it picks
at random so that two runs on the same machine rarely race for the same port.

>>> port = free_port()
>>> 20000 <= port <= 32000
True
"""

from __future__ import annotations

import errno
import random
import socket
from pathlib import Path

from harness.errors import InfrastructureError

#: Where Linux keeps the range of ports it gives to outgoing connections.
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")

# How many random candidates free_port tries before giving up: enough to find a port on a busy
# machine, bounded so a full range fails fast instead of looping.
_ATTEMPTS = 200


def ephemeral_port_range(path: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int] | None:
    """The kernel's ephemeral port range ``(low, high)``, or ``None`` when it cannot be read."""
    try:
        fields = path.read_text(encoding="ascii").split()
        low, high = int(fields[0]), int(fields[1])
    except (OSError, ValueError, IndexError):
        return None
    return (low, high) if low <= high else None


def _candidates(low: int, high: int, ephemeral: tuple[int, int] | None) -> list[int]:
    ports = range(low, high + 1)
    if ephemeral is None:
        return list(ports)
    first, last = ephemeral
    return [port for port in ports if not first <= port <= last]


def _can_bind(host: str, port: int) -> bool:
    # No SO_REUSEADDR: a port with connections still in TIME_WAIT counts as taken, which is the
    # safe answer for a listener that will be started a moment later.
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(
    host: str = "127.0.0.1",
    low: int = 20000,
    high: int = 32000,
    *,
    ephemeral_range_file: Path = EPHEMERAL_RANGE_FILE,
) -> int:
    """A TCP port on ``host`` in ``[low, high]`` that is free to bind and not ephemeral.

    Raises :class:`~harness.errors.InfrastructureError` when no such port is found.
    """
    if not 1 <= low <= high <= 65535:
        raise InfrastructureError(f"invalid port range {low}-{high}")
    ephemeral = ephemeral_port_range(ephemeral_range_file)
    candidates = _candidates(low, high, ephemeral)
    if not candidates:
        # Only possible when the whole range is ephemeral.
        first, last = ephemeral or (low, high)
        raise InfrastructureError(
            f"no port in {low}-{high} lies outside the ephemeral range {first}-{last}"
        )
    # SystemRandom draws from os.urandom: parallel runs started at the same instant still differ.
    chooser = random.SystemRandom()
    for port in chooser.sample(candidates, min(_ATTEMPTS, len(candidates))):
        if _can_bind(host, port):
            return port
    raise InfrastructureError(f"no free TCP port on {host} in {low}-{high} (tried {_ATTEMPTS})")


def port_in_use(host: str, port: int) -> bool:
    """Whether a socket is already bound to ``host:port`` (so a new listener there would fail).

    Binds with SO_REUSEADDR, as servers such as toxiproxy do, so connections lingering in
    TIME_WAIT do not count as "in use"; only a live listener or bound socket does.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise InfrastructureError(f"cannot check port {host}:{port}: {exc.strerror}") from exc
    return False
