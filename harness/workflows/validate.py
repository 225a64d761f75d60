"""``harness validate``: the pre-deploy check of one candidate build against the baseline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UsageError
from harness.scenario.stackfile import Stack, TargetSpec
from harness.workflows.run import Progress, RunOutcome, RunRequest, Step, run_scenario
from harness.workflows.specs import validation_targets

if TYPE_CHECKING:
    from harness.replay.model import LocustOptions


def validate(
    scenario: Path,
    run_dir: Path,
    *,
    baseline: str,
    candidate: str,
    aa: bool = False,
    processes: int | None = None,
    locust: LocustOptions | None = None,
    ordering: str | None = None,
    on_step: Step = lambda _msg: None,
    on_progress: Progress | None = None,
    on_cleanup: Step | None = None,
) -> RunOutcome:
    """Run ``scenario`` with ``baseline`` and ``candidate`` paired, then judge the candidate."""
    chosen: dict[str, TargetSpec] = {}

    def targets(stack: Stack) -> dict[str, TargetSpec]:
        chosen.update(validation_targets(stack, baseline, candidate, aa=aa))
        return chosen

    # Parse the specs against the stack before anything starts (bad SPEC: exit 2 at once).
    from harness.workflows.run import load_checked

    scenario_model, _stack = load_checked(scenario, {}, targets)
    if scenario_model.fault_list():
        blind = [n for n, t in chosen.items() if t.url is not None and not t.postgres_proxy]
        if blind:
            raise UsageError(
                f"the scenario injects faults but {', '.join(blind)} is a URL without "
                "',proxy=NAME' (the toxiproxy proxy in front of its database)"
            )
    request = RunRequest(
        scenario=scenario,
        run_dir=run_dir,
        processes=processes,
        targets=chosen,
        baseline="baseline",
        ordering=ordering,
    )
    if locust is not None:
        request.locust = locust
    return run_scenario(request, on_step=on_step, on_progress=on_progress, on_cleanup=on_cleanup)
