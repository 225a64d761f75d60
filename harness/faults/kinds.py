"""Fault kinds as toxiproxy operations on one proxy: what to apply, how to revert, how to verify.

- ``down``: the proxy is disabled (toxiproxy closes its connections and refuses new ones);
  reverting enables it. Two overlapping ``down`` faults on one proxy are counted, so the proxy
  comes back only when the last one ends.
- ``partition``: a ``timeout`` toxic with ``timeout: 0`` on BOTH streams: data is held forever.
- every other kind: one toxic of its type on the chosen stream (two for ``both``), with its
  attributes and ``toxicity``.

Toxics are named ``harness_<fault id>_<stream>``, so faults stacked on one proxy never clash and
a reset can tell the harness's toxics by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from harness.faults import verify
from harness.scenario.model import (
    DownFault,
    Fault,
    LatencyFault,
    PartitionFault,
)

TOXIC_PREFIX = "harness_"


@dataclass(frozen=True)
class Toxic:
    """One toxic to add to a proxy, in toxiproxy's terms."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int]


@dataclass(frozen=True)
class ProxyInfo:
    """What the timeline needs to know of a proxy."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: frozenset[str]


class ProxyAPI(Protocol):
    """The toxiproxy operations faults use (see :mod:`harness.faults.client`)."""

    @property
    def host(self) -> str:
        """Host of the toxiproxy server (for proxies that listen on a wildcard address)."""

    def proxy_info(self, name: str) -> ProxyInfo: ...

    def set_enabled(self, name: str, enabled: bool) -> None: ...

    def add_toxic(self, proxy: str, toxic: Toxic) -> None: ...

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        """Remove ``toxic`` from ``proxy``; no error when it is already gone."""


def toxics_for(fault: Fault, fault_id: str) -> list[Toxic]:
    """The toxics ``fault`` adds to each proxy (none for ``down``)."""
    if isinstance(fault, DownFault):
        return []
    if isinstance(fault, PartitionFault):
        streams, kind, attributes = ["upstream", "downstream"], "timeout", {"timeout": 0}
    else:
        streams = ["upstream", "downstream"] if fault.stream == "both" else [fault.stream]
        kind, attributes = fault.toxic_type(), fault.attributes()
    return [
        Toxic(f"{TOXIC_PREFIX}{fault_id}_{stream}", kind, stream, fault.toxicity, attributes)
        for stream in streams
    ]


class ProxyFaults:
    """The faults currently applied per proxy (``down`` is counted, toxics are named)."""

    def __init__(self) -> None:
        self.down: dict[str, int] = {}

    def apply(self, api: ProxyAPI, proxy: str, fault: Fault, fault_id: str) -> None:
        """Apply ``fault`` to ``proxy`` (raises the client's error when toxiproxy refuses)."""
        if isinstance(fault, DownFault):
            if self.down.get(proxy, 0) == 0:
                api.set_enabled(proxy, False)
            self.down[proxy] = self.down.get(proxy, 0) + 1
            return
        for toxic in toxics_for(fault, fault_id):
            api.add_toxic(proxy, toxic)

    def revert(self, api: ProxyAPI, proxy: str, fault: Fault, fault_id: str) -> None:
        """Undo :meth:`apply` on ``proxy``."""
        if isinstance(fault, DownFault):
            left = max(0, self.down.get(proxy, 0) - 1)
            self.down[proxy] = left
            if left == 0:
                api.set_enabled(proxy, True)
            return
        for toxic in toxics_for(fault, fault_id):
            api.remove_toxic(proxy, toxic.name)


def expected_latency_ms(fault: LatencyFault) -> float:
    """The least round-trip time a latency fault adds (latency - jitter, per direction)."""
    per_direction = max(0, fault.latency_ms - fault.jitter_ms)
    return float(per_direction * (2 if fault.stream == "both" else 1))


Check = Callable[[], verify.Verification]


def applied_check(
    api: ProxyAPI, proxy: ProxyInfo, fault: Fault, fault_id: str, before_ms: float | None
) -> Check:
    """The check that ``fault`` took effect on ``proxy`` (run after applying it)."""
    address = verify.parse_listen(proxy.listen, api.host)
    if isinstance(fault, DownFault):
        return lambda: verify.connect_refused(address)
    if isinstance(fault, PartitionFault) and fault.toxicity >= 1.0:
        return lambda: verify.no_answer(address)
    if isinstance(fault, LatencyFault):
        expected = expected_latency_ms(fault)
        return lambda: verify.latency_added(
            address, expected, before_ms=before_ms, toxicity=fault.toxicity
        )
    wanted = {toxic.name for toxic in toxics_for(fault, fault_id)}
    return lambda: verify.toxics_listed(proxy.name, set(api.proxy_info(proxy.name).toxics), wanted)


def reverted_check(api: ProxyAPI, proxy: ProxyInfo, fault: Fault, fault_id: str) -> Check:
    """The check that ``fault`` is gone from ``proxy`` (run after reverting it)."""
    if isinstance(fault, DownFault):
        address = verify.parse_listen(proxy.listen, api.host)
        return lambda: verify.connect_accepted(address)
    gone = {toxic.name for toxic in toxics_for(fault, fault_id)}
    return lambda: verify.toxics_gone(proxy.name, set(api.proxy_info(proxy.name).toxics), gone)
