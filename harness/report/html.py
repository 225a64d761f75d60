"""``report.html``: one self-contained page (inline CSS and SVG, no script, no external fetch).

It shows the verdict and each gate with its checks, charts over time with the fault windows
shaded and recovery marks, per-phase and per-route tables, and examples of differing responses
with a copy-as-curl command to reproduce them.
"""

from __future__ import annotations

from html import escape

from harness.analysis.frames import Run
from harness.analysis.model import ALL_ROUTES, GateResult, MetricRow, RecoveryRow, Verdict
from harness.report import text
from harness.report.curl import curl_commands
from harness.report.plots import charts

CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px} h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5} .num{text-align:right;font-variant-numeric:tabular-nums}
.status{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:bold}
.pass{background:#2e7d32} .fail{background:#c62828} .inconclusive{background:#ef6c00}
.invalid{background:#6a1b9a} .interrupted{background:#455a64} .skipped{background:#9e9e9e}
pre{background:#f7f7f7;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
svg.plot{display:block;margin:12px 0;font-family:sans-serif} .muted{color:#777;font-size:12px}
"""


def _badge(status: str) -> str:
    return f'<span class="status {escape(status)}">{escape(status)}</span>'


def _gate(gate: GateResult) -> str:
    rows = []
    for check in gate.checks:
        rows.append(
            "<tr>"
            f"<td>{escape(check.phase)}</td><td>{escape(check.route)}</td>"
            f"<td>{_badge(check.status)}</td>"
            f'<td class="num">{text.side(gate.name, check.candidate)}</td>'
            f'<td class="num">{text.side(gate.name, check.baseline)}</td>'
            f'<td class="num">{text.value(gate.name, check.value)}</td>'
            f'<td class="num">{escape(text.interval(gate.name, check))}</td>'
            f'<td class="num">{check.n_candidate}/{check.n_baseline}</td>'
            f"<td>{escape(check.reason)}</td></tr>"
        )
    table = (
        "<table><tr><th>phase</th><th>route</th><th>status</th><th>candidate</th>"
        "<th>baseline</th><th>value</th><th>interval</th><th>n (cand/base)</th>"
        "<th>reason</th></tr>" + "".join(rows) + "</table>"
    )
    return (
        f"<tr><td>{escape(text.gate_title(gate.name))}</td><td>{_badge(gate.status)}</td>"
        f"<td>{escape(gate.limit)}</td><td>{escape(gate.reason)}"
        f"<details><summary>{len(gate.checks)} checks</summary>{table}</details></td></tr>"
    )


def _metrics_table(rows: list[MetricRow], first: str) -> str:
    body = "".join(
        f"<tr><td>{escape(getattr(r, first))}</td><td>{escape(r.target)}</td>"
        f'<td class="num">{r.requests}</td><td class="num">{r.errors}</td>'
        f'<td class="num">{text.rate(r)}</td><td class="num">{text.ms(r.p50_ms)}</td>'
        f'<td class="num">{text.ms(r.p99_ms)}</td>'
        f'<td class="num">{text.ms(r.rate_per_s)}</td></tr>'
        for r in rows
    )
    return (
        f"<table><tr><th>{first}</th><th>target</th><th>requests</th><th>errors</th>"
        "<th>error rate</th><th>p50 ms</th><th>p99 ms</th><th>req/s</th></tr>"
        f"{body}</table>"
    )


def _per_route(verdict: Verdict) -> str:
    parts = []
    for phase in verdict.phases:
        rows = [r for r in verdict.metrics if r.phase == phase.name and r.route != ALL_ROUTES]
        if rows:
            rows.sort(key=lambda r: (r.route, r.target))
            parts.append(
                f"<details><summary>{escape(phase.name)}</summary>"
                f"{_metrics_table(rows, 'route')}</details>"
            )
    return "".join(parts)


def _side_tables(verdict: Verdict) -> str:
    amp = "".join(
        f"<tr><td>{escape(a.phase)}</td><td>{escape(a.target)}</td>"
        f'<td class="num">{a.attempts:.0f}</td><td class="num">{a.requests}</td>'
        f'<td class="num">{"—" if a.ratio is None else f"{a.ratio:.2f}"}</td></tr>'
        for a in verdict.amplification
    )
    rec = "".join(
        f"<tr><td>{escape(r.fault)}</td><td>{escape(r.target)}</td>"
        f'<td class="num">{_settled(r.seconds)}</td><td class="num">{_settled(r.errors_s)}'
        f' (band {r.threshold * 100:.1f}%)</td><td class="num">{_latency_band(r)}</td>'
        f"<td>{escape(r.note)}</td></tr>"
        for r in verdict.recovery
    )
    out = ""
    if amp:
        out += (
            "<h2>Retry amplification</h2><table><tr><th>phase</th><th>target</th>"
            f"<th>attempts</th><th>requests</th><th>per request</th></tr>{amp}</table>"
        )
    if rec:
        out += (
            "<h2>Recovery</h2><p>Back in the pre-fault band: error rate (the baseline's) and "
            "p90 latency (the baseline's, or the target's own where that was wider) of every "
            "sliding window.</p><table><tr><th>fault</th><th>target</th>"
            "<th>settled after</th><th>error rate settled</th><th>latency settled</th>"
            f"<th>note</th></tr>{rec}</table>"
        )
    return out


def _settled(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f}s"


def _latency_band(row: RecoveryRow) -> str:
    if row.latency_limit_ms is None:
        return "not judged"
    own = ", its own" if row.latency_own else ""
    return f"{_settled(row.latency_s)} (band {row.latency_limit_ms:.0f} ms{own})"


def _responses(run: Run | None, verdict: Verdict) -> str:
    resp = verdict.responses
    if not resp.paired:
        return ""
    head = f"<h2>Differing responses</h2><p>{escape(text.responses_headline(verdict) or '')}</p>"
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
        for row in text.field_rows(verdict)
    )
    if rows:
        head += (
            "<table><tr><th>route</th><th>field</th><th>candidate differs in</th>"
            f"<th>between the A/A copies</th></tr>{rows}</table>"
        )
    if not resp.examples:
        return head
    methods = _methods(run, [e.idx for e in resp.examples])
    wanted = [(e.idx, methods.get(e.idx, "GET"), e.route) for e in resp.examples]
    cand = {r.idx: r for r in curl_commands(run, verdict.candidate, wanted)} if run else {}
    base = {r.idx: r for r in curl_commands(run, verdict.baseline, wanted)} if run else {}
    items = []
    for example in resp.examples:
        found = cand.get(example.idx)
        curl = ""
        if found is not None:
            both = f"# candidate\n{found.command}"
            if example.idx in base:
                both += f"\n# baseline\n{base[example.idx].command}"
            curl = f"<pre>{escape(both)}</pre><p class='muted'>{escape(found.note)}</p>"
        changes = "".join(
            f"<li><code>{escape(text.change_words(change))}</code></li>"
            for change in example.fields
            if change.field != "status"
        )
        items.append(
            f"<li>request #{example.idx} <code>{escape(example.route)}</code> in "
            f"{escape(example.phase)}: baseline {example.status_baseline}, candidate "
            f"{example.status_candidate}{', body differs' if example.body_differs else ''}"
            f"{'<ul>' + changes + '</ul>' if changes else ''}{curl}</li>"
        )
    return head + "<ul>" + "".join(items) + "</ul>"


def _methods(run: Run | None, indexes: list[int]) -> dict[int, str]:
    if run is None or "method" not in run.requests.columns:
        return {}
    rows = run.requests[run.requests["idx"].isin(indexes)]
    return {int(i): str(m) for i, m in zip(rows["idx"], rows["method"], strict=True)}


def _fidelity(verdict: Verdict) -> str:
    line = text.fidelity_summary(verdict)
    if line is None:
        return ""
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
        for row in text.fidelity_routes(verdict)
    )
    table = (
        "<table><tr><th>target</th><th>route</th><th>matched</th>"
        f"<th>captured -&gt; replayed</th><th>hint</th></tr>{rows}</table>"
        if rows
        else ""
    )
    return f"<h2>Replay fidelity</h2>\n<p>{escape(line)}</p>\n{table}"


def render_html(verdict: Verdict, run: Run | None) -> str:
    """The report page; without ``run`` (files missing) it has no charts, and says so."""
    versions = ", ".join(f"{k} {v}" for k, v in verdict.versions.items())
    plots = (
        "".join(charts(run, verdict))
        if run is not None
        else "<p class='muted'>run files not found: charts omitted</p>"
    )
    gates = "".join(_gate(g) for g in verdict.gates)
    definitions = "".join(
        f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in verdict.definitions.items()
    )
    invalid = "".join(f"<li>{escape(r)}</li>" for r in verdict.invalid_reasons)
    aa = f", A/A copy <b>{escape(verdict.aa)}</b>" if verdict.aa else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(text.title(verdict))}</title><style>{CSS}</style></head>
<body>
<h1>{_badge(verdict.status)} {escape(verdict.candidate)} vs {escape(verdict.baseline)}</h1>
<p>{escape(verdict.reason)}</p>
<p class="muted">run {escape(verdict.run_id)} · scenario {escape(verdict.scenario or "—")} ·
candidate <b>{escape(verdict.candidate)}</b>, baseline <b>{escape(verdict.baseline)}</b>{aa}
· {escape(versions)}</p>
{"<ul>" + invalid + "</ul>" if invalid else ""}
<h2>Gates</h2>
<table><tr><th>gate</th><th>status</th><th>limit</th><th>reason</th></tr>{gates}</table>
{_fidelity(verdict)}
<h2>Over time</h2>
<p class="muted">shaded: fault windows as measured; dotted lines: when a target's error rate
settled after a fault.</p>
{plots}
<h2>Phases, all routes</h2>
{_metrics_table(text.totals(verdict), "phase")}
<h2>Per route</h2>
{_per_route(verdict)}
{_side_tables(verdict)}
{_responses(run, verdict)}
<h2>Definitions</h2><ul>{definitions}</ul>
</body></html>
"""
