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


def test_field_level_differences_in_the_reports(tmp_path: Path) -> None:
    from harness.analysis.frames import load_run
    from harness.analysis.verdict import judge
    from harness.report.html import render_html
    from harness.report.markdown import render_markdown
    from tests.analysis.runs import Behaviour, SyntheticRun

    run = SyntheticRun(
        duration_s=20, rate=20, gates={"response_diff": {"max_share": 0.05}}, responses=True
    )
    run.target("b", "baseline").target("a", "aa").target(
        "c", "candidate", Behaviour(body_change=0.1)
    )
    loaded = load_run(run.write(tmp_path))
    verdict = judge(loaded)
    markdown = render_markdown(verdict)
    assert "differ beyond the noise learned from the A/A copy" in markdown
    assert "| /payments | $.amount | 20 of 100 | 0.0% |" in markdown
    assert "(noise: not counted)" in markdown  # $.created_at and friends
    page = render_html(verdict, loaded)
    assert "<code>$.amount: 100 -&gt; &quot;changed&quot;</code>" in page


def test_the_field_table_says_why_a_field_was_not_counted() -> None:
    from harness.analysis.model import FieldDiff, Responses
    from harness.report.text import field_rows

    def diff(name: str, **kw: object) -> FieldDiff:
        return FieldDiff.model_validate({"route": "/p", "field": name, "pairs": 100, **kw})

    fields = [
        diff("$.balance", differing=100, noise_share=0.0),
        diff("$.id", differing=100, noise_share=0.0, minted=True, reshaped=100),
        diff("header:location", differing=90, noise_share=0.0, noise=True, minted=True, reshaped=0),
        diff("$.created_at", differing=100, noise_share=1.0, noise=True),
    ]
    verdict = Verdict(
        status="fail", reason="", baseline="b", candidate="c", responses=Responses(fields=fields)
    )
    assert [row[3] for row in field_rows(verdict)] == [
        "0.0%",
        "0.0% (minted per response: 100 changed format)",
        "0.0% (minted per response: not counted)",
        "100.0% (noise: not counted)",
    ]
    # a journal written before `minted` reads as not minted
    old = verdict.model_dump(mode="json")
    for row in old["responses"]["fields"]:
        del row["minted"], row["reshaped"]
    assert [f.minted for f in Verdict.model_validate(old).responses.fields] == [False] * 4
