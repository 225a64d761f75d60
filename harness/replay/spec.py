"""What a worker is told (:class:`ShardSpec`) and what it tells back (JSON lines).

A local worker gets its spec as a JSON file and prints one JSON object a line on stdout; a remote
worker gets the same spec in a Locust custom message and sends the same objects back as custom
messages. Nothing per request travels this way: progress is aggregated once a second.

Lines (``kind``):
- ``ready``: the worker loaded its shard (``worker``, ``requests``).
- ``t0``: the shared start was fixed (``t0_ns``), sent by a master.
- ``progress``: ``worker``, ``sent``/``done``/``errors`` (per target, cumulative),
  ``lag_p99_ms`` (per target, over the last second), ``cpu`` (CPU/wall over the last second).
- ``summary``: the worker finished: ``worker``, ``part`` (path of its part file), ``rows``,
  ``responses`` (path of its kept responses, or null), ``cpu_ratio`` (CPU/wall over its
  sending period), ``stopped`` (stopped early), ``late_ms`` (how late its sending began),
  ``connections`` (its per-target maximum) and ``peak_in_flight`` (what the schedule needs).
- ``error``: ``message``, one line.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TargetSpec:
    """A target as a worker sees it: name, base URL, headers to inject."""

    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    #: staging identities (``harness.scenario.auth.AuthSpec`` as JSON; no secret: those are
    #: read by the worker from the accounts file and the environment), and where the stack is
    auth: dict[str, Any] | None = None
    stack_dir: str | None = None


@dataclass(frozen=True)
class ShardSpec:
    """Everything one worker needs to replay its shard on the shared clock."""

    capture: str
    shard: int
    shards: int
    targets: list[TargetSpec]
    t0_ns: int
    part: str
    speed: float = 1.0
    duration_s: float | None = None
    loop: bool = False
    timeout_s: float = 10.0
    flush_rows: int = 50_000
    #: connections per target over all workers (``None``: as many as the schedule needs)
    max_connections: int | None = None
    #: keep each response's status, headers and first bytes of body (0: keep none)
    keep_response_bytes: int = 0
    #: ``session``: a request waits for its session's previous answer; ``schedule``: never
    ordering: str = "session"
    #: target name -> the sessions that log in to it, in order (their account numbers)
    identities: dict[str, list[str]] = field(default_factory=dict)
    #: target name -> capture ``idx`` (as text) of a captured login -> its account number
    captured_logins: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def responses_part(self) -> str:
        """The part file of kept responses, beside :attr:`part`."""
        path = Path(self.part)
        return str(path.with_name(f"{path.stem}.responses.parquet"))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardSpec:
        fields = dict(data)
        fields["targets"] = [TargetSpec(**t) for t in fields["targets"]]
        return cls(**fields)

    @classmethod
    def load(cls, path: Path) -> ShardSpec:
        return cls.from_dict(json.loads(path.read_text()))


def encode_line(kind: str, **data: Any) -> str:
    """One protocol line (no newline)."""
    return json.dumps({"kind": kind, **data}, separators=(",", ":"))


def decode_line(line: str) -> dict[str, Any] | None:
    """The object on ``line``, or ``None`` when it is not a protocol line (stray output)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "kind" in data else None


#: Locust custom message types between a master and remote workers. A Locust process drops a
#: message of a type it has no handler for yet, and a worker connects before it can register
#: any: so the master assigns shards only to workers that said hello (sent once their handlers
#: are registered, again every :data:`HELLO_EVERY_S` until assigned, since the master's own
#: handlers may come after a worker's first hello).
MSG_HELLO = "harness_hello"  # worker -> master: {} ready to be assigned a shard
MSG_ASSIGN = "harness_assign"  # master -> worker: {"worker": k, "spec": ShardSpec as dict}
MSG_START = "harness_start"  # master -> worker: {"t0_ns": ...} once every worker is ready
MSG_STOP = "harness_stop"  # master -> worker: stop sending now
MSG_READY = "harness_ready"  # worker -> master: {"worker": k, ...} shard loaded, connections open
MSG_PROGRESS = "harness_progress"  # worker -> master: a progress line's data, once a second
MSG_PART = "harness_part"  # worker -> master: {"summary": ..., "part": bytes}, once at the end
MSG_ERROR = "harness_error"  # worker -> master: {"worker": k, "message": "..."}
#: seconds between a worker's hellos until the master assigns it a shard
HELLO_EVERY_S = 0.5
