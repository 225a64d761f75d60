"""What one night of the chaos suite produced: per-scenario results and their key figures.

``summary.json`` of a night is a :class:`NightSummary`; the index page and the trend read the
same models. Key figures are the candidate's (tonight's build), taken from a verdict:

- ``error_rate_during``: the worst error rate of the candidate in a fault phase (0..1);
- ``amplification``: the candidate's worst dependency attempts per request in a fault phase;
- ``recovery_s``: the candidate's longest recovery after a fault (``recovered`` False: it
  never settled in one of them);
- ``p99_ratio``: the worst ratio of the candidate's p99 latency to the baseline's (the
  known-good run's, or the stack baseline's) in a fault phase.

A run without faults uses its one ``steady`` phase for the error rate, amplification and p99.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from harness.analysis.model import ALL_ROUTES, Verdict

ScenarioStatus = Literal["pass", "fail", "inconclusive", "invalid", "interrupted", "error"]
Comparison = Literal["known-good", "stack baseline"]

FORMAT_VERSION = 1
SUMMARY_FILE = "summary.json"
INDEX_FILE = "index.html"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Figures(_Model):
    """The numbers a reader of the index looks at first (see the module docs)."""

    error_rate_during: float | None = None
    amplification: float | None = None
    recovery_s: float | None = None
    recovered: bool | None = None
    p99_ratio: float | None = None


class ScenarioResult(_Model):
    """One scenario of the night. Paths are relative to the night's folder."""

    name: str
    file: str
    status: ScenarioStatus
    exit_code: int
    reason: str
    compared_with: Comparison | None = None
    known_good: str | None = None
    note: str = ""
    run_dir: str | None = None
    report: str | None = None
    verdict: str | None = None
    figures: Figures = Figures()
    promoted: bool = False
    seconds: float = 0.0


class NightSummary(_Model):
    """``summary.json``: the night's scenarios and its exit code."""

    format_version: int = FORMAT_VERSION
    night: str
    suite: str
    results: str
    started: str
    finished: str
    builds: dict[str, str] = {}
    exit_code: int
    scenarios: list[ScenarioResult] = []

    def counts(self) -> dict[str, int]:
        """How many scenarios ended in each status."""
        out: dict[str, int] = {}
        for result in self.scenarios:
            out[result.status] = out.get(result.status, 0) + 1
        return out


def _fault_phases(verdict: Verdict) -> set[str]:
    during = {p.name for p in verdict.phases if p.kind == "during"}
    return during or {p.name for p in verdict.phases if p.kind == "steady"}


def _max(values: list[float]) -> float | None:
    return max(values) if values else None


def figures_of(verdict: Verdict) -> Figures:
    """The key figures of the candidate in ``verdict`` (see the module docs)."""
    phases = _fault_phases(verdict)
    cand, base = verdict.candidate, verdict.baseline
    rows = [r for r in verdict.metrics if r.route == ALL_ROUTES and r.phase in phases]
    errors = [r.error_rate for r in rows if r.target == cand]
    amplification = [
        a.ratio
        for a in verdict.amplification
        if a.target == cand and a.phase in phases and a.ratio is not None
    ]
    p99 = {(r.target, r.phase): r.p99_ms for r in rows}
    ratios = []
    for phase in phases:
        c, b = p99.get((cand, phase)), p99.get((base, phase))
        if c is not None and b:
            ratios.append(c / b)
    recovery = [r for r in verdict.recovery if r.target == cand and r.measurable]
    settled = [r.seconds for r in recovery if r.seconds is not None]
    return Figures(
        error_rate_during=_max(errors),
        amplification=_max(amplification),
        recovery_s=_max(settled),
        recovered=None if not recovery else len(settled) == len(recovery),
        p99_ratio=_max(ratios),
    )
