"""Calibration: how often each gate fails two copies of the same build (its false-fail rate).

Every failure of an A/A pair is a false alarm: the "candidate" is the baseline itself. From the
verdicts of N such pairs, each gate gets its false-fail rate with a Wilson interval (the 0 of 20
that a quiet gate shows still leaves room up to 16 %: the interval says how much evidence the
runs are), how many pairs were inconclusive, and how close the copies came to its limit: the
largest share of the limit any check reached (a gate whose A/A checks come to 90 % of the limit
will fail a good hotfix now and then).

>>> result = calibrate([judge(load_run(p)) for p in runs])   # doctest: +SKIP
>>> result.gates[0].rate, result.gates[0].high                # doctest: +SKIP
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from harness.analysis.model import Check, Verdict
from harness.analysis.stats import wilson


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class GateCalibration(_Model):
    """One gate over the judged A/A pairs: counts, false-fail rate and its interval, headroom."""

    name: str
    judged: int
    failed: int
    inconclusive: int
    rate: float | None = None
    low: float | None = None
    high: float | None = None
    #: the largest value / limit of any deciding check (1.0: at the limit; None: no numbers)
    closest: float | None = None
    closest_reason: str = ""
    closest_run: str = ""


class Calibration(_Model):
    """The whole calibration: per gate, plus the runs that could not be judged."""

    runs: int
    judged: int
    invalid: int
    interrupted: int
    confidence: float
    failed_runs: int
    gates: list[GateCalibration] = []
    run_ids: list[str] = []


def share_of_limit(check: Check) -> float | None:
    """How far a check came towards its limit: value / limit (``inf`` for never settling)."""
    if check.status == "skipped" or check.limit is None or check.limit <= 0:
        return None
    if check.value is None:
        return math.inf if check.status == "fail" else None
    return check.value / check.limit


def calibrate(verdicts: list[Verdict], confidence: float = 0.95) -> Calibration:
    """Per gate, the false-fail rate of ``verdicts`` (A/A pairs) and how close they came."""
    judged = [v for v in verdicts if v.status not in ("invalid", "interrupted")]
    names: list[str] = []
    for verdict in judged:
        names += [g.name for g in verdict.gates if g.name not in names]
    gates = []
    for name in names:
        results = [(v, v.gate(name)) for v in judged if any(g.name == name for g in v.gates)]
        failed = sum(g.status == "fail" for _, g in results)
        unsure = sum(g.status == "inconclusive" for _, g in results)
        decided = len(results) - unsure
        low, high = wilson(failed, decided, confidence) if decided else (None, None)
        closest: tuple[float, str, str] | None = None
        for verdict, gate in results:
            for check in gate.checks:
                share = share_of_limit(check)
                if share is not None and (closest is None or share > closest[0]):
                    closest = (share, check.reason, verdict.run_id)
        gates.append(
            GateCalibration(
                name=name,
                judged=decided,
                failed=failed,
                inconclusive=unsure,
                rate=failed / decided if decided else None,
                low=low,
                high=high,
                closest=None if closest is None else closest[0],
                closest_reason="" if closest is None else closest[1],
                closest_run="" if closest is None else closest[2],
            )
        )
    return Calibration(
        runs=len(verdicts),
        judged=len(judged),
        invalid=sum(v.status == "invalid" for v in verdicts),
        interrupted=sum(v.status == "interrupted" for v in verdicts),
        confidence=confidence,
        failed_runs=sum(v.status == "fail" for v in judged),
        gates=gates,
        run_ids=[v.run_id for v in verdicts],
    )
