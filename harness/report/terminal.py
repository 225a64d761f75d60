"""The rich summary printed at the end of ``harness run`` / ``compare``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.analysis.model import Verdict
from harness.report import text

if TYPE_CHECKING:
    from rich.console import Console

COLORS: dict[str, str] = {
    "pass": "green",
    "fail": "red",
    "inconclusive": "yellow",
    "invalid": "magenta",
    "interrupted": "grey50",
    "skipped": "grey50",
}


def print_summary(verdict: Verdict, console: Console | None = None) -> None:
    """A table of gates and the overall status line."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title=text.title(verdict), show_lines=False, expand=False)
    table.add_column("gate")
    table.add_column("status")
    table.add_column("limit")
    table.add_column("reason", overflow="fold")
    for gate in verdict.gates:
        color = COLORS.get(gate.status, "white")
        table.add_row(
            text.gate_title(gate.name), f"[{color}]{gate.status}[/]", gate.limit, gate.reason
        )
    console.print(table)
    faithful = text.fidelity_summary(verdict)
    if faithful:
        console.print(faithful, highlight=False, markup=False)
    color = COLORS.get(verdict.status, "white")
    console.print(
        f"[bold {color}]{verdict.status.upper()}[/]: {verdict.reason}", highlight=False, markup=True
    )
