"""summary.md, verdict.json and the terminal summary say the same thing."""

from pathlib import Path

import pytest
from rich.console import Console

from harness.analysis.model import Verdict
from harness.errors import InputError
from harness.report.journal import read_journal, render_journal
from harness.report.markdown import render_markdown
from harness.report.terminal import print_summary


def test_markdown_has_status_gates_and_phases(naive_verdict: Verdict) -> None:
    text = render_markdown(naive_verdict)
    assert text.startswith("## ❌ candidate vs baseline on `synthetic`: FAIL")
    assert "| Cascade (independent routes) | ❌ fail | <= 1.0% |" in text
    assert "| during `postgres down` | candidate |" in text
    assert "failing checks" in text


def test_journal_round_trip(tmp_path: Path, naive_verdict: Verdict) -> None:
    path = tmp_path / "verdict.json"
    path.write_text(render_journal(naive_verdict))
    again = read_journal(path)
    assert again == naive_verdict
    assert '"status": "fail"' in path.read_text()


def test_journal_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no verdict\.json"):
        read_journal(tmp_path / "verdict.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"status": "maybe"}')
    with pytest.raises(InputError, match=r"bad\.json: not a verdict journal"):
        read_journal(bad)


def test_terminal_summary(safe_verdict: Verdict) -> None:
    console = Console(record=True, width=160, color_system=None)
    print_summary(safe_verdict, console)
    out = console.export_text()
    assert "Retry amplification" in out
    assert "PASS: all 5 gates passed" in out
