"""Gates -> Verdict: one pure function from an in-memory run to a judgement, and its exit code.

>>> verdict = judge(load_run(Path("runs/r1")))          # doctest: +SKIP
>>> verdict.status, exit_code(verdict)                   # doctest: +SKIP
('fail', 1)

Overall status, in this order: ``interrupted`` (the run did not finish), ``invalid`` (the
manifest says the load generator could not hold the schedule: the numbers are computed and shown,
but never judged), ``fail`` (any gate failed), ``inconclusive`` (any gate lacked data),
``pass``.
"""

from __future__ import annotations

import math

from harness.analysis.checks import cascade_gate, error_rate_gate
from harness.analysis.context import Context, Targets, build_context, choose_targets
from harness.analysis.dependency import amplification_gate, amplification_rows, chosen_probe
from harness.analysis.fidelity import fidelity, parse_fidelity
from harness.analysis.frames import Run
from harness.analysis.gates import (
    DEFAULT_ATTEMPT_PROBES,
    GatesConfig,
    ResponseDiffGate,
    parse_gates,
)
from harness.analysis.latency import latency_gate
from harness.analysis.metrics import phase_metrics
from harness.analysis.model import (
    ALL_ROUTES,
    GateResult,
    MetricRow,
    PhaseInfo,
    RecoveryRow,
    Status,
    Verdict,
)
from harness.analysis.phases import Phase
from harness.analysis.recovery import recovery_gate, recovery_rows
from harness.analysis.responsediff import (
    FieldComparison,
    compare_fields,
    response_diff_gate,
    responses_summary,
)
from harness.errors import EXIT_GATE_FAILED, EXIT_PASS, EXIT_RUN_INVALID, EXIT_SIGINT, EXIT_SIGTERM

EXAMPLES = 5


def judge(
    run: Run,
    gates: GatesConfig | None = None,
    baseline: str | None = None,
    candidate: str | None = None,
) -> Verdict:
    """Compare ``candidate`` with ``baseline`` in ``run`` under ``gates``.

    ``gates`` defaults to the scenario's (``manifest.scenario.gates``, or the default gates);
    target names default to the manifest roles. No I/O: ``run`` is already in memory.
    """
    if gates is None:
        gates = parse_gates(run.manifest.gates_data(), source=f"{run.root}/manifest.json gates")
    targets = choose_targets(run, baseline, candidate)
    ctx = build_context(run, gates, targets)
    recovery = recovery_rows(ctx, gates.recovery_time)
    # Without the gate the differences are still shown, with its defaults (normalisers).
    comparison = compare_fields(
        ctx, run.responses, gates.response_diff or ResponseDiffGate(max_share=1.0)
    )
    results = _evaluate(ctx, recovery, comparison)
    signal = run.interrupted_signal()
    validity = run.manifest.validity
    valid, reasons = validity.valid, list(validity.reasons)
    first_fault = _first_fault_ns(run, ctx)
    config = parse_fidelity(_scenario_key(run, "fidelity"))
    faithful = fidelity(ctx.frame, _roles(targets), config, first_fault)
    if faithful is not None and not faithful.valid:
        valid, reasons = False, [*reasons, *faithful.reasons]
    if run.manifest.status == "failed":  # a worker crashed: the traffic is incomplete
        valid, reasons = False, [*reasons, "the replay failed (manifest status 'failed')"]
    status, reason = _overall(results, signal, valid, reasons)
    wanted = (
        gates.retry_amplification.probes()
        if gates.retry_amplification
        else list(DEFAULT_ATTEMPT_PROBES)
    )
    amp_probe = chosen_probe(ctx, wanted) or wanted[0]
    amplification = amplification_rows(ctx, amp_probe)
    return Verdict(
        status=status,
        reason=reason,
        run_id=run.manifest.run_id,
        scenario=run.manifest.scenario_name(),
        baseline=targets.baseline,
        candidate=targets.candidate,
        aa=targets.aa,
        interrupted_by=signal,
        valid=valid,
        invalid_reasons=reasons,
        gates=results,
        phases=[_phase_info(p) for p in ctx.phases],
        metrics=_metric_rows(ctx),
        amplification=amplification,
        amplification_probe=amp_probe if amplification else None,
        recovery=recovery,
        responses=responses_summary(ctx, comparison),
        fidelity=faithful,
        versions={k: v for k, v in run.manifest.versions.items() if v is not None},
        config=gates.model_dump(mode="json", exclude_none=True),
    )


def _first_fault_ns(run: Run, ctx: Context) -> int | None:
    """When the first fault began: the earlier of its measured apply time and its scheduled
    time (applying and verifying it takes a while, and it bites from the start)."""
    measured = next((p.end_ns for p in ctx.phases if p.kind == "before"), None)
    scheduled = [
        int(float(e.data["fault"]["at_s"]) * 1e9)
        for e in run.events
        if e.kind == "fault_applied"
        and isinstance(e.data.get("fault"), dict)
        and isinstance(e.data["fault"].get("at_s"), int | float)
    ]
    if measured is None or not scheduled:
        return measured
    return min(measured, *scheduled)


def _roles(targets: Targets) -> dict[str, str]:
    roles = {targets.baseline: "baseline", targets.candidate: "candidate"}
    if targets.aa:
        roles[targets.aa] = "aa"
    return roles


def _scenario_key(run: Run, key: str) -> object:
    return (run.manifest.scenario or {}).get(key)


def _evaluate(
    ctx: Context, recovery: list[RecoveryRow], comparison: FieldComparison | None
) -> list[GateResult]:
    gates = ctx.gates
    results = []
    if gates.error_rate:
        results.append(error_rate_gate(ctx, gates.error_rate))
    if gates.latency_p99:
        results.append(latency_gate(ctx, gates.latency_p99))
    if gates.retry_amplification:
        results.append(amplification_gate(ctx, gates.retry_amplification))
    if gates.recovery_time:
        results.append(recovery_gate(ctx, gates.recovery_time, recovery))
    if gates.cascade:
        results.append(cascade_gate(ctx, gates.cascade))
    if gates.response_diff:
        results.append(response_diff_gate(ctx, gates.response_diff, comparison))
    return results


def _overall(
    results: list[GateResult], signal: str | None, valid: bool, reasons: list[str]
) -> tuple[Status, str]:
    if signal is not None:
        return "interrupted", f"the run was interrupted by {signal}; its numbers are not judged"
    if not valid:
        why = "; ".join(reasons) or "the load generator could not hold the schedule"
        return "invalid", f"run invalid, not judged: {why}"
    failed = [r for r in results if r.status == "fail"]
    if failed:
        names = ", ".join(r.name for r in failed)
        return "fail", f"{len(failed)} of {len(results)} gates failed ({names}): {failed[0].reason}"
    unsure = [r for r in results if r.status == "inconclusive"]
    if unsure:
        names = ", ".join(r.name for r in unsure)
        return "inconclusive", f"not enough evidence for {names}: {unsure[0].reason}"
    if not results:
        return "inconclusive", "no gates to judge"
    return "pass", f"all {len(results)} gates passed"


def _phase_info(phase: Phase) -> PhaseInfo:
    start, end = phase.start_ns, phase.end_ns
    return PhaseInfo(
        name=phase.name,
        kind=phase.kind,
        fault_id=phase.fault_id,
        fault_label=phase.fault_label,
        start_s=None if start is None else start / 1e9,
        end_s=None if end is None else end / 1e9,
    )


def _num(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


def _metric_rows(ctx: Context) -> list[MetricRow]:
    if ctx.frame.empty:
        return []
    rows = []
    for by_route in (False, True):
        table = phase_metrics(ctx.frame, ctx.phases, by_route=by_route)
        for rec in table.to_dict("records"):
            rows.append(
                MetricRow(
                    target=str(rec["target"]),
                    route=str(rec["route"]) if by_route else ALL_ROUTES,
                    phase=str(rec["phase"]),
                    requests=int(rec["requests"]),
                    errors=int(rec["errors"]),
                    error_rate=float(rec["error_rate"]),
                    p50_ms=_num(rec["p50_ms"]),
                    p90_ms=_num(rec["p90_ms"]),
                    p99_ms=_num(rec["p99_ms"]),
                    rate_per_s=_num(rec["rate_per_s"]),
                )
            )
    return rows


def exit_code(verdict: Verdict, allow_inconclusive: bool = False) -> int:
    """0 pass; 1 fail; 1 inconclusive (0 when allowed); 5 invalid; 130/143 interrupted."""
    if verdict.status == "pass":
        return EXIT_PASS
    if verdict.status == "inconclusive":
        return EXIT_PASS if allow_inconclusive else EXIT_GATE_FAILED
    if verdict.status == "invalid":
        return EXIT_RUN_INVALID
    if verdict.status == "interrupted":
        return EXIT_SIGTERM if verdict.interrupted_by == "SIGTERM" else EXIT_SIGINT
    return EXIT_GATE_FAILED
