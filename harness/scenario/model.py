"""The scenario file (DESIGN section 5): what to replay, how fast, what to break when, what to read.

::

    name: db-kill
    capture: ../captures/payments.capture.parquet   # relative to this file
    speed: 2.0
    duration: 60s                                   # optional cut-off
    stack: ../examples/payments/stack.yaml
    faults:                                         # the timeline: faults and command actions
      - {at: 20s, for: 15s, dependency: postgres, kind: down}
      - {at: 50s, for: 5s, dependency: postgres, kind: latency, latency_ms: 400, jitter_ms: 100,
         targets: [candidate], stream: downstream, toxicity: 1.0}
      - {at: 30s, run: "{python} -m harness.faults.sql {postgres.url} 'SELECT 1'", timeout: 20s}
    probes:
      - {name: db_attempts, prometheus: {path: /metrics, metric: payments_db_attempts_total}}
      - {name: db_xacts, postgres: xact, interval: 2s}
      - {name: db_accepts, toxiproxy: accepted_connections}
    probe_interval: 1s
    independent_routes: [/health, /catalog]
    gates: {error_rate: {max_increase_pp: 1.0}}

Fault kinds and their parameters (``for`` is how long the fault lasts; ``stream`` is
``upstream`` (client to database), ``downstream`` (database to client) or ``both``; ``toxicity``
is the share of connections affected; ``stack: true`` lets a fault overlap an earlier one on the
same dependency and target):

=============  ==========================================  ==============  =======
kind           parameters                                   default stream  toxic
=============  ==========================================  ==============  =======
down           refuse (default false: accept and reset)     both            reset_peer
partition      (none: ``timeout: 0`` on both streams)       both            timeout
latency        latency_ms, jitter_ms                        downstream      latency
bandwidth      rate_kbps                                    downstream      bandwidth
slow_close     delay_ms                                     downstream      slow_close
timeout        timeout_ms                                   downstream      timeout
reset_peer     timeout_ms                                   downstream      reset_peer
slicer         average_size, size_variation, delay_us       downstream      slicer
limit_data     bytes                                        downstream      limit_data
=============  ==========================================  ==============  =======

Command actions (``run``) take placeholders, see :mod:`harness.faults.actions`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    StringConstraints,
    Tag,
    field_validator,
)

from harness.analysis.fidelity import FidelityConfig
from harness.analysis.gates import ATTEMPTS_PROBE, GatesConfig, default_gates
from harness.errors import ScenarioError
from harness.scenario.durations import Duration
from harness.scenario.paths import FilePath
from harness.scenario.stackfile import POSTGRES
from harness.scenario.yamlfile import YamlDocument

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]
Stream = Literal["upstream", "downstream", "both"]

# Upper bounds of a scenario's numbers (docs/scenarios.md): past them a value is a typo or a
# unit mix-up, and toxiproxy's 64-bit fields or the replay's clocks would overflow. Durations
# are bounded in :mod:`harness.scenario.durations` (a week).
MAX_SPEED = 1000.0
#: latency, jitter, delays and timeouts of toxics, in ms (one hour)
MAX_TOXIC_MS = 3_600_000
#: bandwidth, in KB/s (100 GB/s)
MAX_RATE_KBPS = 100_000_000
#: slicer sizes, in bytes (1 GiB)
MAX_SLICE_BYTES = 1 << 30
#: slicer delay, in microseconds (one hour)
MAX_DELAY_US = 3_600_000_000
#: limit_data, in bytes (1 PiB)
MAX_LIMIT_BYTES = 1 << 50


class _Strict(BaseModel):
    # allow_inf_nan: "nan", "inf" or "1e400" written as text must not pass as numbers either
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class _FaultBase(_Strict):
    """What every fault has: when, for how long, on which dependency and targets."""

    at: Duration
    for_: Duration = Field(alias="for", gt=0)
    dependency: Name = POSTGRES
    targets: list[Name] | None = Field(default=None, min_length=1)
    stack: bool = False
    name: str | None = None

    @property
    def until(self) -> float:
        """Seconds from t0 at which the fault is reverted."""
        return self.at + self.for_

    def describe(self) -> str:
        """The fault's parameters in a few words (``latency 400ms±100ms``)."""
        return self.kind_name()

    def kind_name(self) -> str:
        return str(getattr(self, "kind", "fault"))


class _ToxicFault(_FaultBase):
    """A fault made of one toxiproxy toxic, on the chosen stream(s)."""

    stream: Stream = "downstream"
    toxicity: float = Field(default=1.0, ge=0.0, le=1.0)

    def toxic_type(self) -> str:
        """The toxiproxy toxic type this fault adds."""
        return self.kind_name()

    def attributes(self) -> dict[str, int]:
        """The toxic's attributes, in toxiproxy's own names."""
        return {}


class DownFault(_FaultBase):
    """The dependency is dead: open connections are cut, new ones accepted and reset at once
    (so every attempt is still counted). ``refuse: true``: the proxy is disabled instead, new
    connections are refused (and cannot be counted)."""

    kind: Literal["down"]
    refuse: bool = False


class PartitionFault(_FaultBase):
    """A black hole: a ``timeout`` toxic with ``timeout: 0`` on both streams."""

    kind: Literal["partition"]
    toxicity: float = Field(default=1.0, ge=0.0, le=1.0)


class LatencyFault(_ToxicFault):
    kind: Literal["latency"]
    latency_ms: int = Field(ge=0, le=MAX_TOXIC_MS)
    jitter_ms: int = Field(default=0, ge=0, le=MAX_TOXIC_MS)

    def attributes(self) -> dict[str, int]:
        return {"latency": self.latency_ms, "jitter": self.jitter_ms}

    def describe(self) -> str:
        jitter = f"±{self.jitter_ms}ms" if self.jitter_ms else ""
        return f"latency {self.latency_ms}ms{jitter}"


class BandwidthFault(_ToxicFault):
    kind: Literal["bandwidth"]
    rate_kbps: int = Field(ge=0, le=MAX_RATE_KBPS)

    def attributes(self) -> dict[str, int]:
        return {"rate": self.rate_kbps}

    def describe(self) -> str:
        return f"bandwidth {self.rate_kbps}KB/s"


class SlowCloseFault(_ToxicFault):
    kind: Literal["slow_close"]
    delay_ms: int = Field(ge=0, le=MAX_TOXIC_MS)

    def attributes(self) -> dict[str, int]:
        return {"delay": self.delay_ms}

    def describe(self) -> str:
        return f"slow_close {self.delay_ms}ms"


class TimeoutFault(_ToxicFault):
    kind: Literal["timeout"]
    timeout_ms: int = Field(ge=0, le=MAX_TOXIC_MS)

    def attributes(self) -> dict[str, int]:
        return {"timeout": self.timeout_ms}

    def describe(self) -> str:
        return f"timeout {self.timeout_ms}ms"


class ResetPeerFault(_ToxicFault):
    kind: Literal["reset_peer"]
    timeout_ms: int = Field(default=0, ge=0, le=MAX_TOXIC_MS)

    def attributes(self) -> dict[str, int]:
        return {"timeout": self.timeout_ms}

    def describe(self) -> str:
        return f"reset_peer after {self.timeout_ms}ms"


class SlicerFault(_ToxicFault):
    kind: Literal["slicer"]
    average_size: int = Field(default=64, ge=1, le=MAX_SLICE_BYTES)
    size_variation: int = Field(default=0, ge=0, le=MAX_SLICE_BYTES)
    delay_us: int = Field(default=0, ge=0, le=MAX_DELAY_US)

    def attributes(self) -> dict[str, int]:
        return {
            "average_size": self.average_size,
            "size_variation": self.size_variation,
            "delay": self.delay_us,
        }

    def describe(self) -> str:
        return f"slicer {self.average_size}B/{self.delay_us}us"


class LimitDataFault(_ToxicFault):
    kind: Literal["limit_data"]
    bytes: int = Field(ge=0, le=MAX_LIMIT_BYTES)

    def attributes(self) -> dict[str, int]:
        return {"bytes": self.bytes}

    def describe(self) -> str:
        return f"limit_data {self.bytes}B"


class CommandAction(_Strict):
    """A shell command run on the timeline (a migration, a restart): output kept, status recorded.

    A command that uses a per-target placeholder without a target name (``{postgres.url}``,
    ``{target.url}``, ``{target.name}``) runs once per target (all, or those in ``targets``) at
    the same moment; otherwise it runs once.
    """

    at: Duration
    run: str = Field(min_length=1)
    timeout: Duration = Field(default=60.0, gt=0)
    targets: list[Name] | None = Field(default=None, min_length=1)
    name: str | None = None


FAULT_KINDS: dict[str, type[_FaultBase]] = {
    "down": DownFault,
    "partition": PartitionFault,
    "latency": LatencyFault,
    "bandwidth": BandwidthFault,
    "slow_close": SlowCloseFault,
    "timeout": TimeoutFault,
    "reset_peer": ResetPeerFault,
    "slicer": SlicerFault,
    "limit_data": LimitDataFault,
}

Fault = (
    DownFault
    | PartitionFault
    | LatencyFault
    | BandwidthFault
    | SlowCloseFault
    | TimeoutFault
    | ResetPeerFault
    | SlicerFault
    | LimitDataFault
)
ToxicFault = (
    LatencyFault
    | BandwidthFault
    | SlowCloseFault
    | TimeoutFault
    | ResetPeerFault
    | SlicerFault
    | LimitDataFault
)


def _timeline_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        if "run" in value:
            return "run"
        kind = value.get("kind")
        return kind if isinstance(kind, str) else None
    if isinstance(value, BaseModel):
        return "run" if isinstance(value, CommandAction) else str(getattr(value, "kind", ""))
    return None


TimelineEntry = Annotated[
    Annotated[DownFault, Tag("down")]
    | Annotated[PartitionFault, Tag("partition")]
    | Annotated[LatencyFault, Tag("latency")]
    | Annotated[BandwidthFault, Tag("bandwidth")]
    | Annotated[SlowCloseFault, Tag("slow_close")]
    | Annotated[TimeoutFault, Tag("timeout")]
    | Annotated[ResetPeerFault, Tag("reset_peer")]
    | Annotated[SlicerFault, Tag("slicer")]
    | Annotated[LimitDataFault, Tag("limit_data")]
    | Annotated[CommandAction, Tag("run")],
    Discriminator(
        _timeline_tag,
        custom_error_type="unknown_kind",
        custom_error_message=(
            "each entry needs `kind` (one of " + ", ".join(FAULT_KINDS) + ") or `run` (a command)"
        ),
    ),
]

#: The kinds of Postgres probe and what each one reads (see :mod:`harness.probes.postgres`);
#: ``attempts`` is the harness's own count of database attempts (:data:`ATTEMPTS_PROBE`).
PostgresStat = Literal["xact", "sessions", "numbackends", "waiting_locks", "attempts"]

#: Bytes of each response body kept when the response_diff gate compares bodies field by field.
DEFAULT_RESPONSE_BYTES = 65536

#: :data:`ATTEMPTS_PROBE` (``postgres_attempts``) is the probe every scenario that faults
#: postgres gets: connections the target's proxy accepted (while the database is up or "down")
#: plus the transactions of its own database. It needs no metric from the application, so
#: retry amplification can be measured for any app.


class PrometheusSource(_Strict):
    """A counter or gauge from the target's Prometheus endpoint, summed over matching label sets."""

    path: str = "/metrics"
    metric: str = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)


class _ProbeBase(_Strict):
    name: Name
    interval: Duration | None = Field(default=None, gt=0)


class PrometheusProbe(_ProbeBase):
    prometheus: PrometheusSource


class PostgresProbe(_ProbeBase):
    postgres: PostgresStat


class ToxiproxyProbe(_ProbeBase):
    toxiproxy: Literal["accepted_connections"]


Probe = PrometheusProbe | PostgresProbe | ToxiproxyProbe
PROBE_SOURCES: tuple[str, ...] = ("prometheus", "postgres", "toxiproxy")


def _probe_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        found = [key for key in PROBE_SOURCES if key in value]
        return found[0] if len(found) == 1 else None
    if isinstance(value, BaseModel):
        return next((key for key in PROBE_SOURCES if hasattr(value, key)), None)
    return None


ProbeEntry = Annotated[
    Annotated[PrometheusProbe, Tag("prometheus")]
    | Annotated[PostgresProbe, Tag("postgres")]
    | Annotated[ToxiproxyProbe, Tag("toxiproxy")],
    Discriminator(
        _probe_tag,
        custom_error_type="unknown_probe",
        custom_error_message="each probe needs exactly one of: prometheus, postgres, toxiproxy",
    ),
]

#: Tags pydantic puts into error locations of the unions above; stripped before line look-up.
UNION_TAGS: frozenset[str] = frozenset([*FAULT_KINDS, "run", *PROBE_SOURCES])


class Scenario(_Strict):
    """A whole scenario file. :func:`load_scenario` resolves ``capture`` and ``stack`` to paths
    relative to the scenario file's directory."""

    name: Name
    capture: FilePath
    speed: float = Field(default=1.0, gt=0, le=MAX_SPEED)
    duration: Duration | None = Field(default=None, gt=0)
    stack: FilePath
    faults: list[TimelineEntry] = Field(default_factory=list)
    probes: list[ProbeEntry] = Field(default_factory=list)
    probe_interval: Duration = Field(default=1.0, gt=0)
    independent_routes: list[str] = Field(default_factory=list)
    gates: GatesConfig = Field(default_factory=default_gates)
    #: the baseline's match with the capture before the first fault that a run needs to be
    #: judged: a share (0.9, "90%"; 0 turns the check off) or {min_match, max_error_increase_pp}
    fidelity: FidelityConfig = Field(default_factory=FidelityConfig)
    #: session (a request waits for its session's earlier answers from the same target, then the
    #: captured think time) or schedule (every request at its captured offset)
    ordering: Literal["session", "schedule"] = "session"
    lag_bound_ms: float | None = Field(default=None, gt=0, le=MAX_TOXIC_MS)
    #: bytes of each response body kept in responses.parquet (None: 65536 when the
    #: response_diff gate is set, else none; 0: none)
    keep_response_bytes: int | None = Field(default=None, ge=0, le=16 * 1024 * 1024)
    timeout: Duration | None = Field(default=None, gt=0)
    loop: bool = False
    seed: int = 0
    #: replay even to a target on the capture's original host (a capture recorded on loopback)
    allow_original_host: bool = False
    _file: Path | None = PrivateAttr(default=None)

    @field_validator("fidelity", mode="before")
    @classmethod
    def _fidelity_share(cls, value: object) -> object:
        return value if isinstance(value, dict | FidelityConfig) else {"min_match": value}

    @field_validator("gates", mode="before")
    @classmethod
    def _default_gates(cls, value: object) -> object:
        return default_gates() if value is None or value == {} else value

    @property
    def file(self) -> Path | None:
        """The scenario file this was loaded from (None when built in code)."""
        return self._file

    def fault_list(self) -> list[Fault]:
        """The faults of the timeline, in file order."""
        return [entry for entry in self.faults if not isinstance(entry, CommandAction)]

    def actions(self) -> list[CommandAction]:
        """The command actions of the timeline, in file order."""
        return [entry for entry in self.faults if isinstance(entry, CommandAction)]

    def probe_names(self) -> list[str]:
        """Names of the probes a run samples (:meth:`run_probes`)."""
        return [probe.name for probe in self.run_probes()]

    def response_bytes(self) -> int:
        """Bytes of each response body the replay keeps (see ``keep_response_bytes``)."""
        if self.keep_response_bytes is not None:
            return self.keep_response_bytes
        return DEFAULT_RESPONSE_BYTES if self.gates.response_diff is not None else 0

    def faults_postgres(self) -> bool:
        """Whether a fault of the timeline hits the postgres dependency."""
        return any(fault.dependency == POSTGRES for fault in self.fault_list())

    def run_probes(self) -> list[Probe]:
        """The probes a run samples: the file's, plus :data:`ATTEMPTS_PROBE` (on by default
        when a fault hits postgres; a probe of the file with that name replaces it)."""
        probes: list[Probe] = list(self.probes)
        if self.faults_postgres() and ATTEMPTS_PROBE not in {p.name for p in probes}:
            probes.append(PostgresProbe(name=ATTEMPTS_PROBE, postgres="attempts"))
        return probes

    def to_manifest(self) -> dict[str, Any]:
        """The scenario as parsed, for ``manifest.json``: durations in seconds, paths as text."""
        return {k: _jsonable(v) for k, v in self.model_dump(mode="python", by_alias=True).items()}


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def entry_ids(entries: Sequence[TimelineEntry]) -> list[str]:
    """Ids of timeline entries: ``f1``, ``f2``... for faults, ``a1``... for actions, in order."""
    ids: list[str] = []
    counts = {"f": 0, "a": 0}
    for entry in entries:
        prefix = "a" if isinstance(entry, CommandAction) else "f"
        counts[prefix] += 1
        ids.append(f"{prefix}{counts[prefix]}")
    return ids


def fault_label(fault: Fault) -> str:
    """What the user reads in reports: the fault's ``name`` or ``postgres latency 400ms``."""
    if fault.name:
        return fault.name
    suffix = f" ({', '.join(fault.targets)})" if fault.targets else ""
    return f"{fault.dependency} {fault.describe()}{suffix}"


def strip_union_tags(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop the union tags pydantic inserts after ``faults.N`` / ``probes.N`` in error locations."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        after_item = i >= 2 and isinstance(loc[i - 1], int) and loc[i - 2] in ("faults", "probes")
        if after_item and isinstance(part, str) and part in UNION_TAGS:
            continue
        out.append(part)
    return tuple(out)


def validation_problems(doc: YamlDocument) -> tuple[Scenario | None, list[tuple[str, str]]]:
    """Validate ``doc`` into a :class:`Scenario`; every error as ``(file:line, "key: message")``."""
    from pydantic import ValidationError

    shape = doc.shape_problem()
    if shape is not None:
        return None, [shape]
    # duplicate keys and unusable numbers first; the model's own complaint about the same
    # line would only repeat them
    problems = doc.text_problems()
    flagged = {where for where, _ in problems}
    try:
        scenario = Scenario.model_validate(doc.data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = strip_union_tags(tuple(p for p in error["loc"] if isinstance(p, str | int)))
            message = _message(error["type"], error["msg"], loc)
            given = error.get("input")
            if error["type"] == "unknown_kind" and isinstance(given, dict) and "kind" in given:
                message = f"{message.split(':')[0]}: unknown fault kind {given['kind']!r} (kinds: "
                message += ", ".join(FAULT_KINDS) + "; or `run` for a command)"
            if doc.where(loc) not in flagged:
                problems.append((doc.where(loc), message))
        return None, problems
    return (None, problems) if problems else (scenario, [])


def _message(kind: str, msg: str, loc: tuple[str | int, ...]) -> str:
    dotted = ".".join(str(p) for p in loc)
    prefix = f"{dotted}: " if dotted else ""
    if kind == "extra_forbidden":
        return f"{prefix}unknown key {loc[-1]!r}" if loc else "unknown key"
    if kind == "missing":
        return f"{prefix}required key is missing"
    return prefix + msg.removeprefix("Value error, ")


def load_scenario(path: Path) -> Scenario:
    """Load a scenario file; the first error names its file and line (:class:`ScenarioError`).

    ``capture`` and ``stack`` come back resolved against the scenario file's directory. This
    checks the file alone; :func:`harness.scenario.lint.lint` also checks what it refers to.
    """
    doc = YamlDocument.load(path, ScenarioError)
    scenario, problems = validation_problems(doc)
    if scenario is None:
        where, message = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ScenarioError(f"{where}: {message}{more}")
    return resolve_paths(scenario, path)


def resolve_paths(scenario: Scenario, path: Path) -> Scenario:
    """``scenario`` with ``capture`` and ``stack`` relative to ``path``'s directory."""

    def beside(value: Path) -> Path:
        # normpath keeps messages readable (no "scenarios/../captures"); no symlinks involved
        return value if value.is_absolute() else Path(os.path.normpath(path.parent / value))

    resolved = scenario.model_copy(
        update={"capture": beside(scenario.capture), "stack": beside(scenario.stack)}
    )
    resolved._file = path
    return resolved
