"""Fixtures of the fault tests: two proxies (targets baseline and candidate) on the session's
real toxiproxy-server, in front of a real TCP upstream that answers every byte it gets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from harness.stack.toxiproxy import ToxiproxyClient
from harness.stack.toxiproxy_server import ToxiproxyServer
from tests.plugins.toxiproxy import TcpUpstream, echo


@dataclass
class Proxied:
    """``proxies``: target name -> proxy name; ``client`` talks to the server at ``url``."""

    url: str
    client: ToxiproxyClient
    proxies: dict[str, str]


@pytest.fixture
def proxied(
    toxiproxy_server: ToxiproxyServer,
    toxiproxy: ToxiproxyClient,
    tcp_upstream: Callable[..., TcpUpstream],
) -> Iterator[Proxied]:
    upstream = tcp_upstream(echo)  # answers an SSLRequest with its own bytes: a round trip
    proxies = {t: f"faults_{t}" for t in ("baseline", "candidate")}
    for name in proxies.values():
        toxiproxy.create_proxy(name, "127.0.0.1:0", upstream.address)
    yield Proxied(toxiproxy_server.url, toxiproxy, proxies)
