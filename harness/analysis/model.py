"""The verdict as data: what ``verdict.json`` holds and every report renders.

Statuses: ``pass``, ``fail``, ``inconclusive`` (too little data to tell), ``invalid`` (the load
generator could not hold the schedule: never judged) and ``interrupted``. A check is one
comparison of a gate (one phase, one route scope); ``skipped`` checks are listed but do not
decide anything (a route with too few requests of its own).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from harness.analysis.fidelity import Fidelity

Status = Literal["pass", "fail", "inconclusive", "invalid", "interrupted"]
CheckStatus = Literal["pass", "fail", "inconclusive", "skipped"]

FORMAT_VERSION = 1
ALL_ROUTES = "all routes"
INDEPENDENT_ROUTES = "independent routes"

DEFINITIONS: dict[str, str] = {
    "error rate": "share of replayed requests with status 0 (no response) or >= 500",
    "latency": "percentiles of latency_corrected_ms (due time to last byte, corrected for "
    "coordinated omission) over every request, failed and timed-out ones included at the time "
    "they took",
    "retry amplification": "increase of the dependency-attempt counter / replayed requests",
    "recovery time": "from a fault's end until every sliding window, for the sustain period, "
    "is back in the pre-fault band: error rate at most the baseline's before rate plus "
    "tolerance, and p90 latency (send to last byte) at most the before p99 x latency_ratio of "
    "the baseline, or of the target itself when that is higher; 'never settled' is a result",
    "cascade": "error rate of the candidate on independent_routes during a fault",
    "response difference": "share of paired requests whose responses differ: field by field "
    "(JSON paths, headers) beyond the noise between two baseline copies, or after the "
    "normalisers and ignore rules without them; values minted per response (distinct in "
    "nearly every response and growing with time on both sides: a serial id) only by their "
    "format; by status and body hash when no bodies were kept",
    "noise": "the same comparison between two copies of the baseline (target role 'aa')",
    "decision": "a check fails when its estimate exceeds the limit AND the interval excludes "
    "no change; intervals are Bonferroni-adjusted over the checks of a gate that are tested; "
    "a pass needs min_samples requests on each side; with fewer, an all-routes check still "
    "fails when an exact test agrees (too few to pass is not too few to fail), else it is "
    "inconclusive (per-route checks: skipped)",
    "phases": "before the first fault, during each fault, recovery (the recovery_phase after "
    "it), after it; a request by its due time (moved by any wait for its session's previous "
    "answer), with the fault times measured when the fault was applied and reverted; every "
    "phase is judged",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Check(_Model):
    """One comparison: numbers, interval, limit and a sentence that names route and phase."""

    phase: str
    route: str
    status: CheckStatus
    candidate: float | None = None
    baseline: float | None = None
    value: float | None = None
    low: float | None = None
    high: float | None = None
    limit: float | None = None
    noise: float | None = None
    confidence: float | None = None
    n_candidate: int = 0
    n_baseline: int = 0
    p_value: float | None = None
    effect: float | None = None
    reason: str = ""


class GateResult(_Model):
    """A gate's outcome: the worst of its checks, with the sentence of the deciding one."""

    name: str
    status: CheckStatus
    limit: str
    reason: str
    checks: list[Check] = []


class PhaseInfo(_Model):
    name: str
    kind: str
    fault_id: str | None = None
    fault_label: str | None = None
    start_s: float | None = None
    end_s: float | None = None


class MetricRow(_Model):
    """Per target, route (or ``all routes``) and phase."""

    target: str
    route: str
    phase: str
    requests: int
    errors: int
    error_rate: float
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    rate_per_s: float | None = None


class AmplificationRow(_Model):
    target: str
    phase: str
    attempts: float
    requests: int
    ratio: float | None = None


class RecoveryRow(_Model):
    """When one target came back into its pre-fault band after one fault.

    ``seconds`` None: never. ``errors_s`` / ``latency_s``: when each criterion alone settled;
    ``threshold`` is the band's error rate (the baseline's), ``latency_limit_ms`` its p90
    latency (None: latency not judged): the baseline's, or the target's own when that was wider
    (``latency_own``).
    """

    fault: str
    fault_id: str = ""
    target: str
    end_s: float
    seconds: float | None = None
    threshold: float
    latency_limit_ms: float | None = None
    latency_own: bool = False
    errors_s: float | None = None
    latency_s: float | None = None
    sustained_s: float | None = None
    measurable: bool = True
    note: str = ""


class FieldChange(_Model):
    """One field of one response pair: ``$.a.b``, ``header:name``, ``body`` or ``status``
    (``None``: absent on that side; values cut, and hidden when they look like secrets)."""

    field: str
    baseline: str | None = None
    candidate: str | None = None


class DiffExample(_Model):
    idx: int
    route: str
    phase: str
    status_baseline: int
    status_candidate: int
    body_differs: bool
    fields: list[FieldChange] = []


class FieldDiff(_Model):
    """How often one field differed on one route: in ``differing`` of ``pairs`` paired
    responses of equal status; ``noise_share`` between the A/A copies; ``noise``: not held
    against the candidate (the copies differ as often; or ``minted``, and ``reshaped`` no more
    often than theirs)."""

    route: str
    field: str
    differing: int
    pairs: int
    noise_share: float | None = None
    noise: bool = False
    #: its values are minted per response (new in nearly every response, growing with time,
    #: on both sides: a serial id, a Location naming it): only the ``reshaped`` pairs, whose
    #: values differ in format (:func:`harness.analysis.responsediff.shape`), were judged
    minted: bool = False
    reshaped: int | None = None


class Responses(_Model):
    """Paired responses. ``compared``: ``fields`` (bodies kept: field by field, beyond the A/A
    noise or the normalisers) or ``hash`` (status and body hash); ``learned``: noise measured
    by an A/A copy."""

    paired: int = 0
    differing: int = 0
    status_differs: int = 0
    share: float | None = None
    noise_share: float | None = None
    compared: str = "hash"
    learned: bool = False
    fields: list[FieldDiff] = []
    #: the pairs there were when only a sample of them was compared field by field
    sampled_from: int | None = None
    examples: list[DiffExample] = []


class Verdict(_Model):
    """The whole judgement of one candidate against the baseline in one run."""

    format_version: int = FORMAT_VERSION
    status: Status
    reason: str
    run_id: str = ""
    scenario: str = ""
    baseline: str
    candidate: str
    aa: str | None = None
    interrupted_by: str | None = None
    valid: bool = True
    invalid_reasons: list[str] = []
    gates: list[GateResult] = []
    phases: list[PhaseInfo] = []
    metrics: list[MetricRow] = []
    amplification: list[AmplificationRow] = []
    #: the counter the amplification rows were computed from (None: no probe had samples)
    amplification_probe: str | None = None
    recovery: list[RecoveryRow] = []
    responses: Responses = Responses()
    #: the replay's match with the capture before the first fault (None: nothing to compare)
    fidelity: Fidelity | None = None
    versions: dict[str, str] = {}
    config: dict[str, object] = {}
    definitions: dict[str, str] = DEFINITIONS

    def gate(self, name: str) -> GateResult:
        for gate in self.gates:
            if gate.name == name:
                return gate
        raise KeyError(name)
