"""Field-level comparison of paired responses, with the noise learned from an A/A copy (as Diffy).

Three copies answer every request at the same moment: the baseline, a second copy of it (the
A/A copy, role ``aa``) and the candidate. Per route, a field (a JSON path, a header) that
differs between the two baseline copies is **noise**: a timestamp, a generated id, a token.
The candidate is held to differ only where it differs beyond that: on a field significantly more
often than the copies do (the lower end of the candidate's Wilson interval above the upper end
of the copies', so a field the copies never disagree on counts once the candidate's differences
are more than chance). A status change always counts.

Without an A/A copy there is nothing to learn from: the built-in normalisers
(:mod:`harness.analysis.fields`) and the gate's ``ignore`` rules decide. The bodies come from
``responses.parquet``; a run without it is compared by status and body hash
(:func:`harness.analysis.metrics.pair_responses`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness.analysis.checks import conf_words, pct, phase_words, summarise, too_few
from harness.analysis.context import Context
from harness.analysis.fields import JWT, fields
from harness.analysis.gates import ResponseDiffGate
from harness.analysis.metrics import pair_responses
from harness.analysis.model import (
    ALL_ROUTES,
    Check,
    DiffExample,
    FieldChange,
    FieldDiff,
    GateResult,
    Responses,
)
from harness.analysis.stats import adjusted_confidence, wilson
from harness.capture.secretnames import SecretNames, looks_random

STATUS = "status"
#: Characters of a value shown in an example.
VALUE_CHARS = 120
#: Field summaries kept in the verdict (most differing first).
SUMMARY_FIELDS = 20
#: Examples of differing pairs in the verdict.
EXAMPLES = 5
#: Pairs compared field by field, at most (a seeded uniform sample beyond: ~10 s of parsing).
MAX_PAIRS = 100_000


@dataclass
class FieldComparison:
    """Paired requests with ``differs`` (beyond noise) and the fields that differ, per pair."""

    pairs: pd.DataFrame
    learned: bool
    summary: list[FieldDiff] = field(default_factory=list)
    changes: dict[int, list[FieldChange]] = field(default_factory=dict)
    #: the pairs there were, when more than :data:`MAX_PAIRS` (``pairs`` is then a sample)
    sampled_from: int | None = None


class _Fields:
    """Fields of the responses of one target, computed once per response row."""

    def __init__(self, rows: pd.DataFrame, normalised: bool) -> None:
        # plain lists: a pandas row lookup per response would cost more than its parsing
        self.headers = rows["headers"].tolist()
        self.bodies = rows["body"].tolist()
        self.truncated = rows["body_truncated"].tolist()
        self.normalised = normalised
        self.cache: dict[int, dict[str, str]] = {}

    def of(self, position: int) -> dict[str, str]:
        found = self.cache.get(position)
        if found is None:
            found = fields(
                0,
                self.headers[position],
                self.bodies[position],
                truncated=bool(self.truncated[position]),
                normalised=self.normalised,
            )
            self.cache[position] = found
        return found


def _side(responses: pd.DataFrame, target: str) -> pd.DataFrame:
    rows = responses[responses["target"] == target].reset_index(drop=True)
    rows["position"] = np.arange(len(rows))
    return rows


def _differences(
    ctx: Context, responses: pd.DataFrame, other: str, normalised: bool, ignore: ResponseDiffGate
) -> tuple[pd.DataFrame, list[dict[str, tuple[str | None, str | None]]], int]:
    """Pairs of baseline and ``other`` (a sample of :data:`MAX_PAIRS` when there are more),
    their differing fields (ignored ones left out), and how many pairs there were."""
    pairs = pair_responses(ctx.frame, ctx.targets.baseline, other)
    total = len(pairs)
    if total > MAX_PAIRS:
        pairs = pairs.sample(n=MAX_PAIRS, random_state=ctx.gates.seed)
        pairs = pairs.sort_values(["due_ns", "idx"]).reset_index(drop=True)
    base = _side(responses, ctx.targets.baseline)
    cand = _side(responses, other)
    keys = ["idx", "due_ns"]
    pairs = pairs.merge(base[[*keys, "position"]], on=keys, how="left")
    pairs = pairs.merge(cand[[*keys, "position"]], on=keys, how="left", suffixes=("_b", "_c"))
    left, right = _Fields(base, normalised), _Fields(cand, normalised)
    found: list[dict[str, tuple[str | None, str | None]]] = []
    for rec in pairs[
        ["route", "status_base", "status_cand", "position_b", "position_c"]
    ].itertuples(index=False):
        route, sb, sc, pb, pc = rec
        diff: dict[str, tuple[str | None, str | None]] = {}
        if sb != sc:
            diff[STATUS] = (str(sb), str(sc))
        if not (pd.isna(pb) or pd.isna(pc)):
            a, b = left.of(int(pb)), right.of(int(pc))
            if a != b:
                skip = ignore.ignored(str(route))
                for name in a.keys() | b.keys():
                    if name not in skip and a.get(name) != b.get(name):
                        diff[name] = (a.get(name), b.get(name))
        found.append(diff)
    return pairs, found, total


def _counts(
    pairs: pd.DataFrame, found: list[dict[str, tuple[str | None, str | None]]]
) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    """(route, field) -> pairs where it differs; route -> pairs of equal status."""
    per_field: Counter[tuple[str, str]] = Counter()
    per_route: Counter[str] = Counter()
    for route, diff in zip(pairs["route"].astype(str), found, strict=True):
        if STATUS in diff:
            continue  # a status change reshapes the whole body: no field tells anything then
        per_route[route] += 1
        per_field.update((route, name) for name in diff)
    return per_field, per_route


def compare_fields(
    ctx: Context, responses: pd.DataFrame | None, gate: ResponseDiffGate
) -> FieldComparison | None:
    """The field-level comparison, or ``None`` when the run kept no response bodies."""
    t = ctx.targets
    if responses is None or not (responses["target"] == t.candidate).any():
        return None
    learned = t.aa is not None and bool((responses["target"] == t.aa).any())
    normalised = gate.normalise and not learned
    pairs, found, total = _differences(ctx, responses, t.candidate, normalised, gate)
    cand_field, cand_route = _counts(pairs, found)
    aa_field: Counter[tuple[str, str]] = Counter()
    aa_route: Counter[str] = Counter()
    if learned and t.aa is not None:
        aa_pairs, aa_found, _ = _differences(ctx, responses, t.aa, False, gate)
        aa_field, aa_route = _counts(aa_pairs, aa_found)
    beyond = {
        key: _beyond(
            count,
            cand_route[key[0]],
            aa_field[key],
            aa_route[key[0]],
            confidence=ctx.gates.confidence,
            learned=learned,
        )
        for key, count in cand_field.items()
    }
    differs, changes = [], {}
    for number, (route, diff) in enumerate(zip(pairs["route"].astype(str), found, strict=True)):
        counted = [n for n in diff if n == STATUS or beyond.get((route, n), False)]
        differs.append(bool(counted))
        if counted:
            changes[number] = [_change(n, *diff[n]) for n in sorted(counted)[:8]]
    pairs["differs"] = differs
    summary = [
        FieldDiff(
            route=route,
            field=name,
            differing=count,
            pairs=cand_route[route],
            noise_share=(aa_field[(route, name)] / aa_route[route]) if aa_route[route] else None,
            noise=not beyond[(route, name)],
        )
        for (route, name), count in cand_field.most_common()
    ]
    summary.sort(key=lambda f: (f.noise, -f.differing))
    sampled = total if total > len(pairs) else None
    return FieldComparison(pairs, learned, summary[:SUMMARY_FIELDS], changes, sampled)


def _beyond(
    k_cand: int, n_cand: int, k_aa: int, n_aa: int, *, confidence: float, learned: bool
) -> bool:
    """Whether the candidate differs on a field beyond what the A/A copies show: the lower end
    of its Wilson interval above the upper end of theirs (a date header that flips between
    two seconds once in 200 responses is noise even where the copies happened not to show it;
    a field changed in every response is not). Nothing learned on the route: any difference."""
    if not learned or n_aa == 0:
        return k_cand > 0
    low, _ = wilson(k_cand, n_cand, confidence)
    _, high = wilson(k_aa, n_aa, confidence)
    return low > high


def _change(name: str, baseline: str | None, candidate: str | None) -> FieldChange:
    return FieldChange(field=name, baseline=shown(name, baseline), candidate=shown(name, candidate))


_SECRET_NAMES = SecretNames()
_LAST_KEY = re.compile(r"(?:^header:|\.|\[\")([^.\[\]\"]+)(?:\"\])?(?:\[\*\])*$")


def shown(name: str, value: str | None) -> str | None:
    """``value`` as a report may show it: cut to :data:`VALUE_CHARS`, and hidden when the field
    is named like a secret or the value looks like a token (a staging login's JWT, a session
    cookie): reports never show credentials."""
    if value is None:
        return None
    match = _LAST_KEY.search(name)
    key = match.group(1) if match else name
    bare = value.strip('"')
    if _SECRET_NAMES(key) or JWT.search(bare) or looks_random(bare):
        return f"<hidden: {len(bare)} characters>"
    return value if len(value) <= VALUE_CHARS else value[: VALUE_CHARS - 1] + "…"


def response_diff_gate(
    ctx: Context, gate: ResponseDiffGate, comparison: FieldComparison | None
) -> GateResult:
    """Share of paired requests that differ (beyond the noise, field by field when the bodies
    were kept; else in status or body hash), per judged phase."""
    cfg, t = ctx.gates, ctx.targets
    if comparison is not None:
        pairs = comparison.pairs
        noise_pairs = pair_responses(ctx.frame, t.baseline, t.aa) if t.aa else None
        if noise_pairs is not None:  # what the field comparison cannot learn away: statuses
            noise_pairs["differs"] = noise_pairs["status_differs"]
        what = "differ from the baseline beyond the noise"
    else:
        pairs = pair_responses(ctx.frame, t.baseline, t.candidate)
        noise_pairs = pair_responses(ctx.frame, t.baseline, t.aa) if t.aa else None
        what = "differ from the baseline in status or body"
    counts = _phase_counts(pairs)
    noise_counts = _phase_counts(noise_pairs) if noise_pairs is not None else {}
    kinds = cfg.judged(gate.phases)
    present = [p for p in ctx.phases if p.name in counts and p.kind in kinds]
    comparisons = sum(counts[p.name][1] >= cfg.min_samples for p in present)
    conf = adjusted_confidence(cfg.confidence, comparisons)
    checks = []
    for phase in present:
        k, n = counts[phase.name]
        if n < cfg.min_samples:
            checks.append(too_few(phase.name, ALL_ROUTES, n, n, cfg.min_samples, counted="paired"))
            continue
        noise = _share(noise_counts, phase.name) if gate.relative_to == "noise" else 0.0
        share = k / n
        low, high = wilson(k, n, conf)
        limit = gate.max_share + noise
        failed = share > limit and low > noise
        checks.append(
            Check(
                phase=phase.name,
                route=ALL_ROUTES,
                status="fail" if failed else "pass",
                candidate=share,
                value=share,
                low=low,
                high=high,
                limit=limit,
                noise=noise if gate.relative_to == "noise" else None,
                confidence=conf,
                n_candidate=n,
                n_baseline=n,
                reason=f"{pct(share)} of paired responses {what} {phase_words(phase.name)} "
                f"({k} of {n}, {conf_words(conf)} {pct(low)}..{pct(high)}), limit {pct(limit)}"
                + _top_fields(comparison, failed),
            )
        )
    return summarise("response_diff", f"<= {pct(gate.max_share)}", checks)


def _top_fields(comparison: FieldComparison | None, failed: bool) -> str:
    """The fields that differ most, named in a failing check's sentence."""
    if comparison is None or not failed:
        return ""
    top = [f for f in comparison.summary if not f.noise][:3]
    if not top:
        return ""
    return "; most differing: " + ", ".join(f"`{f.field}` on `{f.route}`" for f in top)


def _phase_counts(pairs: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Phase -> (differing, paired)."""
    table = pairs.groupby("phase", observed=True)["differs"].agg(["sum", "size"])
    return {
        str(phase): (int(k), int(n))
        for phase, k, n in zip(table.index, table["sum"], table["size"], strict=True)
    }


def _share(counts: dict[str, tuple[int, int]], phase: str) -> float:
    k, n = counts.get(phase, (0, 0))
    return k / n if n else 0.0


def responses_summary(ctx: Context, comparison: FieldComparison | None) -> Responses:
    """Counts, the fields that differ most, and :data:`EXAMPLES` examples of differing pairs."""
    t = ctx.targets
    if comparison is not None:
        pairs = comparison.pairs.reset_index(drop=True)
    else:
        pairs = pair_responses(ctx.frame, t.baseline, t.candidate).reset_index(drop=True)
    if pairs.empty:
        return Responses()
    pairs["row"] = np.arange(len(pairs))
    noise_share = None
    if t.aa:
        noise = pair_responses(ctx.frame, t.baseline, t.aa)
        noise_share = float(noise["differs"].mean()) if len(noise) else None
    differing = pairs[pairs["differs"]]
    # Status changes first (the differences a reviewer wants to reproduce), one per route
    # first, so five examples show different problems rather than one problem five times.
    spread = differing.drop_duplicates(subset=["route", "status_differs"])
    picked = (
        pd.concat([spread[spread["status_differs"]], spread[~spread["status_differs"]], differing])
        .drop_duplicates(subset=["idx"])
        .head(EXAMPLES)
    )
    changes = comparison.changes if comparison is not None else {}
    examples = [
        DiffExample(
            idx=int(r["idx"]),
            route=str(r["route"]),
            phase=str(r["phase"]),
            status_baseline=int(r["status_base"]),
            status_candidate=int(r["status_cand"]),
            body_differs=bool(r["body_code_base"] != r["body_code_cand"]),
            fields=changes.get(int(r["row"]), []),
        )
        for r in picked.to_dict("records")
    ]
    return Responses(
        paired=len(pairs),
        differing=len(differing),
        status_differs=int(pairs["status_differs"].sum()),
        share=len(differing) / len(pairs),
        noise_share=noise_share,
        compared="fields" if comparison is not None else "hash",
        learned=comparison.learned if comparison is not None else False,
        fields=comparison.summary if comparison is not None else [],
        sampled_from=comparison.sampled_from if comparison is not None else None,
        examples=examples,
    )
