"""``summary.md``: the verdict for a pull request comment or ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from harness.analysis.model import Verdict
from harness.report import text


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def render_markdown(verdict: Verdict) -> str:
    """Status, gates with reasons, per-phase totals and the definitions, as Markdown."""
    icon = text.STATUS_ICON.get(verdict.status, "")
    lines = [f"## {icon} {text.title(verdict)}", "", _cell(verdict.reason), ""]
    if verdict.gates:
        lines += ["| gate | status | limit | reason |", "|---|---|---|---|"]
        for gate in verdict.gates:
            lines.append(
                f"| {text.gate_title(gate.name)} | {text.STATUS_ICON[gate.status]} "
                f"{gate.status} | {_cell(gate.limit)} | {_cell(gate.reason)} |"
            )
        lines.append("")
    failing = text.failing_checks(verdict)
    if failing:
        lines += ["<details><summary>failing checks</summary>", ""]
        lines += [f"- **{name}** {_cell(check.reason)}" for name, check in failing[:30]]
        if len(failing) > 30:
            lines.append(f"- … and {len(failing) - 30} more (see verdict.json)")
        lines += ["", "</details>", ""]
    rows = text.totals(verdict)
    if rows:
        lines += [
            "| phase | target | requests | error rate | p50 ms | p99 ms |",
            "|---|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {_cell(r.phase)} | {r.target} | {r.requests} | {text.rate(r)} | "
            f"{text.ms(r.p50_ms)} | {text.ms(r.p99_ms)} |"
            for r in rows
        ]
        lines.append("")
    faithful = text.fidelity_summary(verdict)
    if faithful:
        lines += [_cell(faithful), ""]
        worst = text.fidelity_routes(verdict)
        if worst:
            lines += ["<details><summary>routes that did not match the capture</summary>", ""]
            lines += ["| target | route | matched | captured -> replayed | hint |"]
            lines += ["|---|---|---:|---|---|"]
            lines += [f"| {' | '.join(_cell(c) for c in row)} |" for row in worst]
            lines += ["", "</details>", ""]
    headline = text.responses_headline(verdict)
    if headline:
        lines += [f"Responses: {_cell(headline)}", ""]
        fields = text.field_rows(verdict)
        if fields:
            lines += ["| route | field | candidate differs in | between the A/A copies |"]
            lines += ["|---|---|---:|---:|"]
            lines += [f"| {' | '.join(_cell(c) for c in row)} |" for row in fields[:10]]
            lines += [""]
    versions = ", ".join(f"{k} {v}" for k, v in verdict.versions.items())
    lines += [f"<sub>run {verdict.run_id} · {versions}</sub>", ""]
    return "\n".join(lines)
