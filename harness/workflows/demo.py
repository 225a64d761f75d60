"""``harness demo``: the whole story in a few minutes on the embedded stack.

Replays the bundled capture of the payments service with the ``db-kill`` scenario against three
builds at once (the production build ``v2.3.1`` as baseline, and the two hotfixes), then judges
each hotfix against the baseline. Expected: ``hotfix-naive`` fails (a retry storm that also
takes ``/health`` down), ``hotfix-safe`` passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import InputError
from harness.scenario.stackfile import TargetSpec
from harness.workflows.run import Progress, RunOutcome, RunRequest, Step, run_scenario

if TYPE_CHECKING:
    from harness.analysis.model import Verdict

BASELINE = "v2.3.1"
HOTFIXES: tuple[str, ...] = ("hotfix-naive", "hotfix-safe")
EXPECTED: dict[str, str] = {"hotfix-naive": "fail", "hotfix-safe": "pass"}
#: The gates that tell a retry storm apart best, first: shown first when they fail.
TELLING: tuple[str, ...] = (
    "retry_amplification",
    "cascade",
    "error_rate",
    "recovery_time",
    "latency_p99",
)


@dataclass(frozen=True)
class DemoVerdict:
    """One hotfix's verdict, the numbers that explain it, and where its reports are."""

    build: str
    status: str
    explanation: list[str]
    report: Path
    folder: Path


def find_demo_scenario(start: Path | None = None) -> Path:
    """``scenarios/db-kill.yaml`` of this checkout (searched from ``start`` and the package)."""
    here = Path(__file__).resolve()
    roots = [start or Path.cwd(), *here.parents]
    for root in roots:
        candidate = root / "scenarios" / "db-kill.yaml"
        if candidate.is_file():
            return candidate
    raise InputError(
        "cannot find scenarios/db-kill.yaml: run `harness demo` from the project's checkout "
        "(or pass --scenario)"
    )


def run_demo(
    run_dir: Path,
    *,
    scenario: Path | None = None,
    processes: int | None = None,
    on_step: Step = lambda _msg: None,
    on_progress: Progress | None = None,
) -> tuple[RunOutcome, list[DemoVerdict]]:
    """Run the demo and return the run and one verdict per hotfix."""
    targets = {BASELINE: TargetSpec(build=BASELINE, role="baseline")}
    for build in HOTFIXES:
        targets[build] = TargetSpec(build=build, role="candidate")
    request = RunRequest(
        scenario=scenario or find_demo_scenario(),
        run_dir=run_dir,
        processes=processes,
        targets=targets,
        baseline=BASELINE,
    )
    outcome = run_scenario(request, on_step=on_step, on_progress=on_progress)
    verdicts = []
    for comparison in outcome.comparisons:
        verdict = comparison.verdict
        verdicts.append(
            DemoVerdict(
                build=verdict.candidate,
                status=verdict.status,
                explanation=explain(comparison.verdict),
                report=comparison.out / "report.html",
                folder=comparison.out,
            )
        )
    return outcome, verdicts


def explain(verdict: Verdict) -> list[str]:
    """The one or two gate reasons that explain a verdict: failed gates first, else the key ones."""
    failed = sorted(
        (g for g in verdict.gates if g.status == "fail"),
        key=lambda g: TELLING.index(g.name) if g.name in TELLING else len(TELLING),
    )
    if failed:
        return [f"{g.name}: {g.reason}" for g in failed[:2]]
    key = [g for g in verdict.gates if g.name in ("error_rate", "retry_amplification")]
    chosen = key or verdict.gates[:2]
    return [f"{g.name}: {g.reason}" for g in chosen[:2]] or [verdict.reason]
