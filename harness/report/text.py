"""Wording and number formats shared by every report, so they all say the same thing."""

from __future__ import annotations

from harness.analysis.model import ALL_ROUTES, Check, FieldChange, MetricRow, Verdict

STATUS_ICON: dict[str, str] = {
    "pass": "✅",
    "fail": "❌",
    "inconclusive": "⚠️",
    "invalid": "⛔",
    "interrupted": "⏹️",
    "skipped": "➖",
}

GATE_TITLES: dict[str, str] = {
    "error_rate": "Error rate",
    "latency_p99": "Latency p99",
    "retry_amplification": "Retry amplification",
    "recovery_time": "Recovery time",
    "cascade": "Cascade (independent routes)",
    "response_diff": "Response differences",
}


def title(verdict: Verdict) -> str:
    scenario = f" on `{verdict.scenario}`" if verdict.scenario else ""
    return f"{verdict.candidate} vs {verdict.baseline}{scenario}: {verdict.status.upper()}"


def gate_title(name: str) -> str:
    return GATE_TITLES.get(name, name)


def value(gate: str, number: float | None) -> str:
    """A check's number in the unit of its gate."""
    if number is None:
        return "—"
    if gate == "error_rate":
        return f"{number:+.1f} pp"
    if gate in ("latency_p99", "retry_amplification"):
        return f"x{number:.2f}"
    if gate == "recovery_time":
        return f"{number:.1f}s"
    return f"{number * 100:.1f}%"


def side(gate: str, number: float | None) -> str:
    """The candidate's or baseline's own figure for a check."""
    if number is None:
        return "never" if gate == "recovery_time" else "—"
    if gate in ("error_rate", "cascade", "response_diff"):
        return f"{number * 100:.1f}%"
    if gate == "latency_p99":
        return f"{number:.1f} ms"
    if gate == "recovery_time":
        return f"{number:.1f}s"
    return f"{number:.2f}"


def interval(gate: str, check: Check) -> str:
    if check.low is None or check.high is None:
        return ""
    return f"{value(gate, check.low)} .. {value(gate, check.high)}".replace("+", "")


def rate(row: MetricRow) -> str:
    return f"{row.error_rate * 100:.1f}%"


def ms(number: float | None) -> str:
    return "—" if number is None else f"{number:.1f}"


def totals(verdict: Verdict) -> list[MetricRow]:
    """All-routes rows, in phase order then target order."""
    order = {p.name: i for i, p in enumerate(verdict.phases)}
    targets = [verdict.baseline, verdict.candidate, verdict.aa]
    rows = [r for r in verdict.metrics if r.route == ALL_ROUTES]
    return sorted(
        rows,
        key=lambda r: (
            order.get(r.phase, 99),
            targets.index(r.target) if r.target in targets else 9,
        ),
    )


def failing_checks(verdict: Verdict) -> list[tuple[str, Check]]:
    return [(g.name, c) for g in verdict.gates for c in g.checks if c.status == "fail"]


def fidelity_summary(verdict: Verdict) -> str | None:
    """One line: how well each target's replay matched the capture before the first fault."""
    fid = verdict.fidelity
    if fid is None:
        return None
    parts = []
    for t in fid.targets:
        if t.share is None:
            parts.append(f"{t.target} nothing to compare")
            continue
        links = link_counts(t.links)
        parts.append(
            f"{t.target} {t.share * 100:.1f}% of {t.compared}" + (f" ({links})" if links else "")
        )
    need = f"need {fid.min_match * 100:.0f}% on the baseline" if fid.min_match > 0 else "off"
    return f"Replay fidelity before the first fault ({need}): " + "; ".join(parts)


def link_counts(links: dict[str, dict[str, int]]) -> str:
    """``links 412 ok, 3 missing`` over all phases (empty without links)."""
    ok = sum(v.get("ok", 0) for v in links.values())
    missing = sum(v.get("missing", 0) for v in links.values())
    return f"links {ok} ok, {missing} missing" if ok or missing else ""


def fidelity_routes(verdict: Verdict) -> list[tuple[str, str, str, str, str]]:
    """(target, route, matched, captured -> replayed, hint) of the worst routes."""
    fid = verdict.fidelity
    if fid is None:
        return []
    return [
        (t.target, r.route, f"{r.matched}/{r.compared}", f"{r.captured} -> {r.replayed}", r.hint)
        for t in fid.targets
        for r in t.worst
    ]


def responses_headline(verdict: Verdict) -> str | None:
    """One sentence on the paired responses: how many differ, compared how."""
    resp = verdict.responses
    if not resp.paired:
        return None
    if resp.compared == "fields":
        how = (
            "beyond the noise learned from the A/A copy"
            if resp.learned
            else "after the normalisers (times, UUIDs, JWTs, pseudonyms) and ignore rules"
        )
    else:
        how = "in status or body (no bodies kept: no field-level comparison)"
    sample = f" (a sample of {resp.sampled_from})" if resp.sampled_from else ""
    text = (
        f"{resp.differing} of {resp.paired} paired requests{sample} "
        f"({(resp.share or 0) * 100:.2f}%) differ {how}, {resp.status_differs} in status"
    )
    if resp.noise_share is not None:
        text += f"; by body hash, the two baseline copies differ in {resp.noise_share * 100:.2f}%"
    return text + "."


def field_rows(verdict: Verdict) -> list[tuple[str, str, str, str]]:
    """(route, field, candidate differs in, A/A noise) for the fields that differ most; the
    last says why a field was not counted (noise, or values minted per response)."""
    rows = []
    for f in verdict.responses.fields:
        share = f"{f.differing} of {f.pairs}"
        noise = "-" if f.noise_share is None else f"{f.noise_share * 100:.1f}%"
        if f.minted:  # only a change of the values' format counts
            counted = "not counted" if f.noise else f"{f.reshaped} changed format"
            noise += f" (minted per response: {counted})"
        elif f.noise:
            noise += " (noise: not counted)"
        rows.append((f.route, f.field, share, noise))
    return rows


def change_words(change: FieldChange) -> str:
    """``$.amount: 100 -> "changed"`` (absent sides as ``(none)``)."""
    before = "(none)" if change.baseline is None else change.baseline
    after = "(none)" if change.candidate is None else change.candidate
    return f"{change.field}: {before} -> {after}"
