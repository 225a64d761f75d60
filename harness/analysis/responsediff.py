"""Field-level comparison of paired responses, with the noise learned from an A/A copy (as Diffy).

Three copies answer every request at the same moment: the baseline, a second copy of it (the
A/A copy, role ``aa``) and the candidate. Per route, a field (a JSON path, a header) that
differs between the two baseline copies is **noise**: a timestamp, a generated id, a token.
The candidate is held to differ only where it differs beyond that: on a field significantly more
often than the copies do (the lower end of the candidate's Wilson interval above the upper end
of the copies', so a field the copies never disagree on counts once the candidate's differences
are more than chance). A status change always counts.

A value **minted per response** is noise the copies may or may not happen to show: two
databases that mint the same ids until one insert rolls back in one of them. A field beyond the
copies' differences is minted on a route when, on the baseline's side and on the candidate's,
at least :data:`MINTED_MIN_VALUES` responses hold it, :data:`MINTED_DISTINCT` of its values are
distinct and they grow with the due time (a sequence's ids, a ``Location`` naming them; the
numbers in them in Spearman's rank correlation of at least :data:`MINTED_ORDER` with the due
order). Such a field is judged by its format only: the pairs whose values differ in
:func:`shape` (JSON type, the text around the numbers) count, against the copies' such pairs. A
value that repeats (a balance, a status) is never minted, nor one different per request in no
order (another account's balance each time, an amount echoed from the request). The responses
alone cannot tell a minted value from an echoed one that also grows with time (a client's
counter): a change of its value that keeps its format is then not counted.

Without an A/A copy there is nothing to learn from: the built-in normalisers
(:mod:`harness.analysis.fields`), the minted rule and the gate's ``ignore`` rules decide. The
bodies come from ``responses.parquet``; a run without it is compared by status and body hash
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
from harness.analysis.fields import JWT, fields, normalise
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


@dataclass
class _Compared:
    """Pairs of the baseline and one other target (a sample of :data:`MAX_PAIRS` when there
    were more), their differing fields (ignored ones left out), how many pairs there were, and
    both sides' fields (for :func:`_minted`)."""

    pairs: pd.DataFrame
    found: list[dict[str, tuple[str | None, str | None]]]
    total: int
    left: _Fields
    right: _Fields


def _differences(
    ctx: Context,
    responses: pd.DataFrame,
    other: str,
    normalised: bool,
    ignore: ResponseDiffGate,
    *,
    baseline: _Fields | None = None,
) -> _Compared:
    """The baseline's responses paired with ``other``'s, and where they differ; ``baseline``:
    the baseline's fields parsed already (in the same way)."""
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
    left = baseline if baseline is not None else _Fields(base, normalised)
    right = _Fields(cand, normalised)
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
    return _Compared(pairs, found, total, left, right)


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
    cand = _differences(ctx, responses, t.candidate, normalised, gate)
    pairs, found = cand.pairs, cand.found
    cand_field, cand_route = _counts(pairs, found)
    aa: _Compared | None = None
    aa_field: Counter[tuple[str, str]] = Counter()
    aa_route: Counter[str] = Counter()
    if learned and t.aa is not None:
        # not normalised either: the baseline's fields are the same ones
        aa = _differences(ctx, responses, t.aa, False, gate, baseline=cand.left)
        aa_field, aa_route = _counts(aa.pairs, aa.found)

    def held(key: tuple[str, str], k_cand: int, k_aa: int) -> bool:
        route = key[0]
        return _beyond(
            k_cand,
            cand_route[route],
            k_aa,
            aa_route[route],
            confidence=ctx.gates.confidence,
            learned=learned,
        )

    beyond = {key: held(key, count, aa_field[key]) for key, count in cand_field.items()}
    # A value minted per response (a serial id, a Location naming it) differs wherever the
    # candidate's database minted other values, whether or not the copies happened to mint the
    # same ones: such a field is held only where its format changed.
    rows = _route_rows(pairs)
    minted = {
        key for key, over in beyond.items() if over and _minted(cand, rows.get(key[0], []), key[1])
    }
    reshaped = _reshaped(cand, minted)
    aa_reshaped = _reshaped(aa, minted) if aa is not None else Counter()
    for key in minted:
        beyond[key] = held(key, reshaped[key], aa_reshaped[key])
    differs, changes = [], {}
    for number, (route, diff) in enumerate(zip(pairs["route"].astype(str), found, strict=True)):
        counted = [
            n
            for n, (a, b) in diff.items()
            if n == STATUS
            or (
                beyond.get((route, n), False) and ((route, n) not in minted or shape(a) != shape(b))
            )
        ]
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
            minted=(route, name) in minted,
            reshaped=reshaped[(route, name)] if (route, name) in minted else None,
        )
        for (route, name), count in cand_field.most_common()
    ]
    # held fields first, then those the A/A copy could not explain (minted), then its noise
    summary.sort(key=lambda f: (f.noise, not f.minted, -f.differing))
    sampled = cand.total if cand.total > len(pairs) else None
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


#: A field is minted per response on a route only with this many values on each side, ...
MINTED_MIN_VALUES = 20
#: ... this share of them distinct (and with a number in them) on each side, ...
MINTED_DISTINCT = 0.99
#: ... and growing with the due time: Spearman's rank correlation of value (its numbers, in
#: order) and due time at least this, on each side.
MINTED_ORDER = 0.9

_NUMBER = re.compile(r"[0-9]+")
_WORD_WITH_DIGIT = re.compile(r"[0-9A-Za-z]*[0-9][0-9A-Za-z]*")


def shape(value: str | None) -> str | None:
    """The format of a field's value without its numbers: times, UUIDs and JWTs as the
    normalisers write them, then every word with a digit in it as ``#``. A JSON string keeps
    its quotes, so a number that became a string changes shape.

    >>> [shape(v) for v in ("123", '"123"', "1.5", "/payments/123", '"pay_8f3a"', None)]
    ['#', '"#"', '#.#', '/payments/#', '"pay_#"', None]
    """
    if value is None:
        return None
    return _WORD_WITH_DIGIT.sub("#", normalise(value))


def _route_rows(pairs: pd.DataFrame) -> dict[str, list[tuple[int, int]]]:
    """Route -> (baseline, other side) response positions of the pairs of equal status, in
    the order they were due."""
    equal = pairs[
        (pairs["status_base"] == pairs["status_cand"])
        & pairs["position_b"].notna()
        & pairs["position_c"].notna()
    ].sort_values(["due_ns", "idx"], kind="stable")
    rows: dict[str, list[tuple[int, int]]] = {}
    for route, pb, pc in equal[["route", "position_b", "position_c"]].itertuples(index=False):
        rows.setdefault(str(route), []).append((int(pb), int(pc)))
    return rows


def _minted(compared: _Compared, rows: list[tuple[int, int]], name: str) -> bool:
    """Whether field ``name`` holds a value minted per response on the route of ``rows``, on
    both sides: at least :data:`MINTED_MIN_VALUES` values, nearly all distinct
    (:data:`MINTED_DISTINCT`) and growing with the due time (:data:`MINTED_ORDER`), as a
    sequence's ids (or a Location that names them) do. A value that repeats (a balance, a
    status) is not minted; neither is one that is merely different per request in no order (the
    balance of a different account each time, an amount echoed from the request): the copies of
    one build return those alike, so a difference in them is the candidate's."""
    for side, column in ((compared.left, 0), (compared.right, 1)):
        values = [value for row in rows if (value := side.of(row[column]).get(name)) is not None]
        if len(values) < MINTED_MIN_VALUES or len(set(values)) < MINTED_DISTINCT * len(values):
            return False
        keys = [key for key in map(_order_key, values) if key]
        if len(keys) < MINTED_DISTINCT * len(values) or not _grows(keys):
            return False
    return True


def _order_key(value: str) -> tuple[tuple[int, str], ...]:
    """The numbers in ``value`` in a comparable form (by length, then digits: no ``int`` of a
    thousand digits), so ``/payments/99`` comes before ``/payments/100``."""
    return tuple((len(n), n) for n in (m.lstrip("0") for m in _NUMBER.findall(value)))


def _grows(keys: list[tuple[tuple[int, str], ...]]) -> bool:
    """Whether values listed in due order grow with it: Spearman's rank correlation of each
    value's rank and its place in the list at least :data:`MINTED_ORDER`."""
    n = len(keys)
    ranks = np.empty(n)
    ranks[sorted(range(n), key=keys.__getitem__)] = np.arange(n)
    return bool(np.corrcoef(np.arange(n), ranks)[0, 1] >= MINTED_ORDER)


def _reshaped(compared: _Compared, keys: set[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """(route, field) of ``keys`` -> pairs of equal status whose values differ in shape."""
    out: Counter[tuple[str, str]] = Counter()
    if not keys:
        return out
    names = {name for _, name in keys}
    for route, diff in zip(compared.pairs["route"].astype(str), compared.found, strict=True):
        if STATUS in diff:
            continue
        for name in names & diff.keys():
            if (route, name) in keys and shape(diff[name][0]) != shape(diff[name][1]):
                out[(route, name)] += 1
    return out


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
