"""Fault kinds as toxiproxy operations on one proxy: what to apply, how to revert, how to verify.

- ``down``: the database is dead as its clients see it, and every attempt to reach it is still
  counted. The proxy is restarted (disabled and enabled again: every open connection is cut, as
  when a database dies) with a ``reset_peer`` toxic (``timeout: 0``) on both streams: it keeps
  accepting, so toxiproxy logs each connection attempt (the ``postgres_attempts`` probe counts
  them), and resets each one at its first byte, before any answer. Reverting removes the
  toxics. ``refuse: true`` disables the proxy instead (connections refused, and never counted);
  two overlapping such faults on one proxy are counted, so it comes back when the last one ends.
- ``partition``: a ``timeout`` toxic with ``timeout: 0`` on BOTH streams: data is held forever.
- every other kind: one toxic of its type on the chosen stream (two for ``both``), with its
  attributes and ``toxicity``.

Toxics are named ``harness_<fault id>_<stream>``, so faults stacked on one proxy never clash and
a reset can tell the harness's toxics by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.errors import ToxiproxyError
from harness.faults import verify
from harness.scenario.model import (
    DownFault,
    Fault,
    LatencyFault,
    PartitionFault,
)
from harness.stack.toxics import ATTRIBUTES_BY_TYPE, Proxy, Stream
from harness.stack.toxiproxy import ToxiproxyClient

TOXIC_PREFIX = "harness_"
HTTP_NOT_FOUND = 404


@dataclass(frozen=True)
class ToxicSpec:
    """One toxic a fault adds to a proxy, in toxiproxy's terms."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int]


def server_host(client: ToxiproxyClient) -> str:
    """Host of the toxiproxy server (where proxies on a wildcard address are reached)."""
    return urlsplit(client.url).hostname or "127.0.0.1"


def toxic_names(proxy: Proxy) -> set[str]:
    return {toxic.name for toxic in proxy.toxics}


def add_toxic(client: ToxiproxyClient, proxy: str, toxic: ToxicSpec) -> None:
    """Create ``toxic`` on ``proxy``."""
    attributes = ATTRIBUTES_BY_TYPE[toxic.type].model_validate(toxic.attributes)
    client.create_toxic(
        proxy,
        attributes,  # type: ignore[arg-type]
        name=toxic.name,
        stream=Stream(toxic.stream),
        toxicity=toxic.toxicity,
    )


def remove_toxic(client: ToxiproxyClient, proxy: str, name: str) -> None:
    """Delete toxic ``name`` from ``proxy``; one that is already gone is fine."""
    try:
        client.delete_toxic(proxy, name)
    except ToxiproxyError as exc:
        if exc.status != HTTP_NOT_FOUND:
            raise


def toxics_for(fault: Fault, fault_id: str) -> list[ToxicSpec]:
    """The toxics ``fault`` adds to each proxy (none for ``down`` with ``refuse``)."""
    toxicity = 1.0
    if isinstance(fault, DownFault):
        if fault.refuse:
            return []
        streams, kind, attributes = ["upstream", "downstream"], "reset_peer", {"timeout": 0}
    elif isinstance(fault, PartitionFault):
        streams, kind, attributes = ["upstream", "downstream"], "timeout", {"timeout": 0}
        toxicity = fault.toxicity
    else:
        streams = ["upstream", "downstream"] if fault.stream == "both" else [fault.stream]
        kind, attributes, toxicity = fault.toxic_type(), fault.attributes(), fault.toxicity
    return [
        ToxicSpec(f"{TOXIC_PREFIX}{fault_id}_{stream}", kind, stream, toxicity, attributes)
        for stream in streams
    ]


class ProxyFaults:
    """The faults currently applied per proxy (``down`` is counted, toxics are named)."""

    def __init__(self) -> None:
        self.down: dict[str, int] = {}

    def apply(self, client: ToxiproxyClient, proxy: str, fault: Fault, fault_id: str) -> None:
        """Apply ``fault`` to ``proxy`` (raises the client's error when toxiproxy refuses)."""
        if isinstance(fault, DownFault) and fault.refuse:
            if self.down.get(proxy, 0) == 0:
                client.disable(proxy)
            self.down[proxy] = self.down.get(proxy, 0) + 1
            return
        if isinstance(fault, DownFault):
            # Cut every open connection, then keep accepting and resetting new ones.
            client.disable(proxy)
            try:
                for toxic in toxics_for(fault, fault_id):
                    add_toxic(client, proxy, toxic)
            finally:
                if self.down.get(proxy, 0) == 0:
                    client.enable(proxy)
            return
        for toxic in toxics_for(fault, fault_id):
            add_toxic(client, proxy, toxic)

    def revert(self, client: ToxiproxyClient, proxy: str, fault: Fault, fault_id: str) -> None:
        """Undo :meth:`apply` on ``proxy``."""
        if isinstance(fault, DownFault) and fault.refuse:
            left = max(0, self.down.get(proxy, 0) - 1)
            self.down[proxy] = left
            if left == 0:
                client.enable(proxy)
            return
        for toxic in toxics_for(fault, fault_id):
            remove_toxic(client, proxy, toxic.name)


def expected_latency_ms(fault: LatencyFault) -> float:
    """The least round-trip time a latency fault adds (latency - jitter, per direction)."""
    per_direction = max(0, fault.latency_ms - fault.jitter_ms)
    return float(per_direction * (2 if fault.stream == "both" else 1))


Check = Callable[[], verify.Verification]


def applied_check(
    client: ToxiproxyClient, proxy: Proxy, fault: Fault, fault_id: str, before_ms: float | None
) -> Check:
    """The check that ``fault`` took effect on ``proxy`` (run after applying it)."""
    address = verify.parse_listen(proxy.listen, server_host(client))
    if isinstance(fault, DownFault):
        if fault.refuse:
            return lambda: verify.connect_refused(address)
        return lambda: verify.connect_cut(address)
    if isinstance(fault, PartitionFault) and fault.toxicity >= 1.0:
        return lambda: verify.no_answer(address)
    if isinstance(fault, LatencyFault):
        expected = expected_latency_ms(fault)
        return lambda: verify.latency_added(
            address, expected, before_ms=before_ms, toxicity=fault.toxicity
        )
    wanted = {toxic.name for toxic in toxics_for(fault, fault_id)}
    return lambda: verify.toxics_listed(
        proxy.name, toxic_names(client.get_proxy(proxy.name)), wanted
    )


def reverted_check(client: ToxiproxyClient, proxy: Proxy, fault: Fault, fault_id: str) -> Check:
    """The check that ``fault`` is gone from ``proxy`` (run after reverting it)."""
    if isinstance(fault, DownFault):
        address = verify.parse_listen(proxy.listen, server_host(client))
        if fault.refuse:
            return lambda: verify.connect_accepted(address)
        return lambda: verify.answered(address)
    gone = {toxic.name for toxic in toxics_for(fault, fault_id)}
    return lambda: verify.toxics_gone(proxy.name, toxic_names(client.get_proxy(proxy.name)), gone)
