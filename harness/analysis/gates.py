"""The ``gates:`` mapping of a scenario (DESIGN section 5): typed, strict, with defaults.

A scenario embeds :class:`GatesConfig`; unknown gates and unknown options are errors, so a
misspelt gate can never be silently ignored (a silent gate is a false green)::

    gates:
      error_rate: {max_increase_pp: 1.0}
      latency_p99: {max_ratio: 1.25}
      retry_amplification: {max_ratio: 1.5}   # probe: postgres_attempts, else db_attempts
      recovery_time: {max: 10s}
      cascade: {max_error_rate: 0.01}
      response_diff: {max_share: 0.05}
      min_samples: 30            # a pass needs this many a side (fewer: fail on exact evidence)
      confidence: 0.95

``relative_to: noise`` (on error_rate, latency_p99, retry_amplification, response_diff) widens the
limit by the difference measured between two copies of the baseline (the A/A pair, target role
``aa``): a difference that two identical builds also show is not held against the candidate.

>>> parse_gates({"error_rate": {"max_increase_pp": 2}}).error_rate.max_increase_pp
2.0
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from harness.errors import ScenarioError
from harness.scenario.durations import Duration

RelativeTo = Literal["absolute", "noise"]
PhaseKind = Literal["before", "during", "recovery", "after", "steady"]


class _Strict(BaseModel):
    # allow_inf_nan: a gate of "nan" or "inf" written as text is a typo, not a threshold
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ErrorRateGate(_Strict):
    """Candidate error rate may exceed the baseline's by at most ``max_increase_pp`` points.

    Checked per phase, for all routes together and for each route with enough requests.
    """

    max_increase_pp: float = Field(ge=0, description="allowed increase in percentage points")
    per_route: bool = Field(default=True, description="also check each route on its own")
    relative_to: RelativeTo = "absolute"
    phases: list[PhaseKind] | None = Field(
        default=None, description="phase kinds to judge; default: all"
    )


class LatencyP99Gate(_Strict):
    """Candidate p99 of ``latency_corrected_ms`` may be at most ``max_ratio`` x the baseline's.

    Every request counts by default, failed and timed-out ones included, each at the time it
    took: a build that turns fast failures into hangs is slower, whatever it answers.
    ``include_errors: false`` judges only responses without errors (status < 500).
    ``min_increase_ms``: a ratio over the limit fails only when the p99 also grew by more than
    this many milliseconds (a route answering in 10 ms is noisy at the ratio's scale).
    """

    max_ratio: float = Field(gt=0)
    min_increase_ms: float = Field(default=10.0, ge=0)
    include_errors: bool = True
    per_route: bool = True
    relative_to: RelativeTo = "absolute"
    phases: list[PhaseKind] | None = None


#: The harness's own count of database attempts, sampled for every scenario that faults postgres
#: (connections through the target's proxy plus transactions of its database).
ATTEMPTS_PROBE = "postgres_attempts"
#: The counters the retry amplification gate reads when it names none, in order.
DEFAULT_ATTEMPT_PROBES: tuple[str, ...] = (ATTEMPTS_PROBE, "db_attempts")


class RetryAmplificationGate(_Strict):
    """Dependency attempts per replayed request, candidate / baseline, at most ``max_ratio``.

    ``probe`` names the counter: a probe of the scenario (the service's own metric, say), or a
    list of them in order of preference: the first with samples for both targets is used (the
    harness's own count where it can read it, the service's metric where it cannot: targets
    given by URL). By default the harness's own ``postgres_attempts``, else a probe named
    ``db_attempts`` (the default of earlier versions: their runs are judged as before).
    """

    max_ratio: float = Field(gt=0)
    probe: str | list[str] | None = Field(default=None, min_length=1)
    min_increase: float = Field(
        default=0.1, ge=0, description="smaller increases in attempts per request are ignored"
    )
    relative_to: RelativeTo = "absolute"

    def probes(self) -> list[str]:
        """The probe names, in order of preference."""
        if self.probe is None:
            return list(DEFAULT_ATTEMPT_PROBES)
        return [self.probe] if isinstance(self.probe, str) else list(self.probe)


class RecoveryTimeGate(_Strict):
    """After each fault ends, the candidate must come back into its pre-fault band within ``max``.

    Settled means: for ``sustain`` seconds, every sliding ``window`` has an error rate at or
    below the baseline's ``before`` rate plus ``tolerance_pp`` and (with ``latency``) a p90 of
    ``latency_ms`` (send to last byte: the target's own time, without the load generator's lag),
    failures included, at or below the baseline's ``before`` p99 times
    ``latency_ratio`` (and at least ``latency_floor_ms`` above it), or the candidate's own
    ``before`` band so computed when that is wider. A window with fewer than
    ``MIN_WINDOW_LATENCY`` requests is not judged on latency.
    """

    max: Duration
    tolerance_pp: float = Field(default=1.0, ge=0)
    window: Duration = 2.0
    sustain: Duration = 5.0
    latency: bool = Field(default=True, description="latency must settle too, not only errors")
    latency_ratio: float = Field(default=1.25, ge=1.0)
    latency_floor_ms: float = Field(default=10.0, ge=0)

    def latency_band_ms(self, baseline_p99_ms: float) -> float:
        """The highest window p90 that counts as settled, from a pre-fault p99."""
        return max(baseline_p99_ms * self.latency_ratio, baseline_p99_ms + self.latency_floor_ms)


#: Requests a side a check needs to pass (``min_samples``'s default).
MIN_SAMPLES = 30

#: Fewest requests a recovery window needs before its p90 latency is judged.
MIN_WINDOW_LATENCY = 10


class CascadeGate(_Strict):
    """Error rate of the candidate on ``independent_routes`` during a fault, at most this."""

    max_error_rate: float = Field(ge=0, le=1)


def _field_name(rule: str) -> str:
    from harness.analysis.fields import field_name

    return field_name(rule)


#: An ignore rule, stored as the field name it covers (``$.a[0]`` -> ``$.a[*]``).
IgnoreRule = Annotated[str, AfterValidator(_field_name)]


class ResponseDiffGate(_Strict):
    """Share of paired requests whose response differs from the baseline's beyond the noise.

    With ``responses.parquet`` the comparison is field by field (JSON paths, headers): fields
    that differ between two copies of the baseline (the A/A pair) are noise, per route; without
    an A/A copy, built-in normalisers (``normalise``) and ``ignore`` rules decide. In both
    cases a value minted per response (a serial id, its Location) counts only where its format
    changed (:mod:`harness.analysis.responsediff`). ``ignore`` maps a route template (or ``*``:
    every route) to fields: ``$.a.b`` (indexes generalised: ``$.items[*].at``), ``header:NAME``
    or ``body``. Without ``responses.parquet``: status and body hash.
    """

    max_share: float = Field(ge=0, le=1)
    relative_to: RelativeTo = "absolute"
    ignore: dict[str, list[IgnoreRule]] = Field(default_factory=dict)
    normalise: bool = Field(
        default=True, description="without an A/A copy: times, UUIDs, JWTs, pseudonyms"
    )
    phases: list[PhaseKind] | None = None

    @field_validator("ignore")
    @classmethod
    def _routes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for route in value:
            if route != "*" and not route.startswith("/"):
                raise ValueError(f"{route!r} is not a route template (/...) or *")
        return value

    def ignored(self, route: str) -> frozenset[str]:
        """Fields ignored on ``route`` (its own rules and those of ``*``)."""
        return frozenset([*self.ignore.get(route, []), *self.ignore.get("*", [])])


class GatesConfig(_Strict):
    """All gates of a scenario plus the options shared by their statistics."""

    error_rate: ErrorRateGate | None = None
    latency_p99: LatencyP99Gate | None = None
    retry_amplification: RetryAmplificationGate | None = None
    recovery_time: RecoveryTimeGate | None = None
    cascade: CascadeGate | None = None
    response_diff: ResponseDiffGate | None = None
    min_samples: int = Field(
        default=MIN_SAMPLES,
        ge=1,
        description="per side to pass; fewer: fail on exact evidence, else inconclusive",
    )
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    bootstrap_resamples: int = Field(default=2000, ge=100, le=100_000)
    seed: int = 0
    recovery_phase: Duration | None = Field(
        default=None, description="length of the 'recovery' phase; default recovery_time.max or 10s"
    )

    def enabled(self) -> list[str]:
        """Names of the gates that are configured, in a fixed order."""
        return [name for name in GATE_NAMES if getattr(self, name) is not None]

    def judged(self, phases: list[PhaseKind] | None) -> set[str]:
        """Phase kinds an error-rate or latency gate judges: ``phases``, by default every kind.

        The recovery phase is judged too: a build still failing or hanging in the seconds
        after the database came back is worse for its users, whether or not the recovery_time
        gate also says how long that lasted.
        """
        if phases is not None:
            return set(phases)
        return {"before", "during", "recovery", "after", "steady"}

    def recovery_phase_s(self) -> float:
        """Seconds after a fault's end that form its ``recovery`` phase."""
        if self.recovery_phase is not None:
            return self.recovery_phase
        if self.recovery_time is not None:
            return self.recovery_time.max
        return 10.0


GATE_NAMES: tuple[str, ...] = (
    "error_rate",
    "latency_p99",
    "retry_amplification",
    "recovery_time",
    "cascade",
    "response_diff",
)


def default_gates() -> GatesConfig:
    """Gates used when a run's scenario has none: errors and latency, the DESIGN defaults."""
    return GatesConfig(
        error_rate=ErrorRateGate(max_increase_pp=1.0),
        latency_p99=LatencyP99Gate(max_ratio=1.25),
    )


def parse_gates(data: object, source: str = "gates") -> GatesConfig:
    """Validate a ``gates:`` mapping; raises :class:`ScenarioError` with a one-line message.

    ``None`` or an empty mapping gives :func:`default_gates`.
    """
    if data is None or data == {}:
        return default_gates()
    try:
        return GatesConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ScenarioError(f"{source}: {where}: {first['msg']}{more}") from None
