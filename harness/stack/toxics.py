"""The toxiproxy data model: proxies, toxics, and the typed attributes of each toxic type.

A toxic's ``attributes`` is one small model per toxic type, so callers write
``Latency(latency=400, jitter=100)`` rather than a free-form dict, and a toxic read back from
the server carries the same typed attributes. Units are toxiproxy's own: milliseconds for
latency, jitter, delay and timeout (except :class:`Slicer`'s ``delay``, in microseconds),
KB/s for bandwidth, bytes for sizes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Stream(StrEnum):
    """The direction a toxic acts on: ``upstream`` is client -> server, ``downstream`` back."""

    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"


class ToxicAttributes(BaseModel):
    """Base of the per-type attribute models; ``toxic_type`` is the server's type name."""

    # Fields a newer server adds are ignored rather than failing a whole listing.
    model_config = ConfigDict(frozen=True, extra="ignore")

    toxic_type: ClassVar[str] = ""


class Latency(ToxicAttributes):
    """Delay all data by ``latency`` ms, plus or minus ``jitter`` ms."""

    toxic_type: ClassVar[str] = "latency"
    latency: int = Field(default=0, ge=0)
    jitter: int = Field(default=0, ge=0)


class Bandwidth(ToxicAttributes):
    """Limit the connection to ``rate`` KB/s."""

    toxic_type: ClassVar[str] = "bandwidth"
    rate: int = Field(default=0, ge=0)


class SlowClose(ToxicAttributes):
    """Delay the TCP close by ``delay`` ms after the other side closed."""

    toxic_type: ClassVar[str] = "slow_close"
    delay: int = Field(default=0, ge=0)


class Timeout(ToxicAttributes):
    """Stop all data; close the connection after ``timeout`` ms (0: never, a black hole)."""

    toxic_type: ClassVar[str] = "timeout"
    timeout: int = Field(default=0, ge=0)


class ResetPeer(ToxicAttributes):
    """Reset the connection (TCP RST) after ``timeout`` ms (0: at once)."""

    toxic_type: ClassVar[str] = "reset_peer"
    timeout: int = Field(default=0, ge=0)


class Slicer(ToxicAttributes):
    """Cut data into pieces of ``average_size`` +- ``size_variation`` bytes, ``delay`` us apart."""

    toxic_type: ClassVar[str] = "slicer"
    average_size: int = Field(default=0, ge=0)
    size_variation: int = Field(default=0, ge=0)
    delay: int = Field(default=0, ge=0)


class LimitData(ToxicAttributes):
    """Close the connection once ``bytes`` bytes have passed."""

    toxic_type: ClassVar[str] = "limit_data"
    bytes: int = Field(default=0, ge=0)


class Noop(ToxicAttributes):
    """Toxiproxy's do-nothing toxic (useful to check plumbing)."""

    toxic_type: ClassVar[str] = "noop"


class OtherAttributes(ToxicAttributes):
    """Attributes of a toxic type this client does not know (a custom server build).

    The raw values are kept in ``model_extra`` so they survive a round trip.
    """

    model_config = ConfigDict(frozen=True, extra="allow")


#: The attribute model of each known toxic type.
ATTRIBUTES_BY_TYPE: dict[str, type[ToxicAttributes]] = {
    model.toxic_type: model
    for model in (Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData, Noop)
}

AnyAttributes = (
    Latency
    | Bandwidth
    | SlowClose
    | Timeout
    | ResetPeer
    | Slicer
    | LimitData
    | Noop
    | OtherAttributes
)


class Toxic(BaseModel):
    """A toxic on a proxy, as the server reports it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    type: str
    stream: Stream
    toxicity: float
    attributes: AnyAttributes

    @model_validator(mode="before")
    @classmethod
    def _typed_attributes(cls, data: Any) -> Any:
        # The type field decides which attribute model applies; pick it before field validation
        # so that e.g. the {"timeout": 0} of a reset_peer toxic is not read as a Timeout.
        if isinstance(data, dict) and isinstance(data.get("attributes"), dict):
            model = ATTRIBUTES_BY_TYPE.get(str(data.get("type")), OtherAttributes)
            data = {**data, "attributes": model.model_validate(data["attributes"])}
        return data


class ProxyConfig(BaseModel):
    """What it takes to create a proxy: ``listen`` and ``upstream`` are ``host:port``."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    listen: str
    upstream: str
    enabled: bool = True


class Proxy(BaseModel):
    """A proxy as the server reports it, with its toxics."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: list[Toxic] = Field(default_factory=list)

    @property
    def listen_port(self) -> int:
        """The TCP port the proxy listens on."""
        return int(self.listen.rsplit(":", 1)[1])
