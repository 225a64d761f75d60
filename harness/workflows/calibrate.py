"""``harness calibrate``: replay N A/A copies of one build (or re-judge runs) under a scenario's
gates, to measure how often each gate fails a build that did not change.

Each replay is a ``validate`` of the build against itself (and, when a gate needs the noise, a
third copy as the A/A pair), written to ``OUT/aa-NN/``. Re-judging reads run directories made
before (by this command, or any run whose baseline and candidate, or baseline and ``aa`` copy,
are the same build) and judges them with the scenario's gates as they are now: the way to tune
a gate without replaying again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import InputError
from harness.workflows.run import Progress, Step

if TYPE_CHECKING:
    from harness.analysis.frames import Run
    from harness.analysis.gates import GatesConfig
    from harness.analysis.model import Verdict
    from harness.replay.model import LocustOptions

#: Called after each run with its number (1-based), the run directory and its verdict.
OnRun = Callable[[int, Path, "Verdict"], None]


def needs_noise_copy(gates: GatesConfig) -> bool:
    """Whether a gate measures against an A/A copy (``relative_to: noise``, ``response_diff``)."""
    relative = [g for g in (gates.error_rate, gates.latency_p99, gates.retry_amplification) if g]
    return gates.response_diff is not None or any(g.relative_to == "noise" for g in relative)


def replay_copies(
    scenario: Path,
    build: str,
    runs: int,
    out: Path,
    *,
    processes: int | None = None,
    locust: LocustOptions | None = None,
    on_step: Step = lambda _msg: None,
    on_progress: Progress | None = None,
    on_run: OnRun | None = None,
) -> list[Verdict]:
    """``runs`` validations of ``build`` against itself; their verdicts, in order."""
    from harness.workflows.run import load_checked, raise_if_interrupted
    from harness.workflows.validate import validate

    scenario_model, _ = load_checked(scenario, {})
    aa = needs_noise_copy(scenario_model.gates)
    verdicts = []
    for number in range(1, runs + 1):
        run_dir = out / f"aa-{number:02d}"
        on_step(f"A/A run {number} of {runs}: {build} against itself in {run_dir}")
        outcome = validate(
            scenario,
            run_dir,
            baseline=build,
            candidate=build,
            aa=aa,
            processes=processes,
            locust=locust,
            on_step=on_step,
            on_progress=on_progress,
        )
        raise_if_interrupted(outcome)
        verdict = outcome.comparisons[0].verdict
        verdicts.append(verdict)
        if on_run is not None:
            on_run(number, run_dir, verdict)
    return verdicts


def rejudge(scenario: Path, run_dirs: list[Path], on_run: OnRun | None = None) -> list[Verdict]:
    """Judge each A/A run directory again with ``scenario``'s gates."""
    from harness.analysis.frames import load_run
    from harness.analysis.verdict import judge
    from harness.scenario.model import load_scenario

    gates = load_scenario(scenario).gates
    verdicts = []
    for number, run_dir in enumerate(run_dirs, start=1):
        run = load_run(run_dir)
        baseline, copy = aa_pair(run)
        verdict = judge(run, gates, baseline=baseline, candidate=copy)
        verdicts.append(verdict)
        if on_run is not None:
            on_run(number, run_dir, verdict)
    return verdicts


def aa_pair(run: Run) -> tuple[str, str]:
    """(baseline, copy): two targets of ``run`` that ran the same build; :class:`InputError`
    naming the run directory when there are none."""
    manifest = run.manifest
    baselines = manifest.names_with_role("baseline")
    if len(baselines) != 1:
        raise InputError(f"{run.root}: {len(baselines)} baseline targets: not an A/A run")
    base = baselines[0]
    build = manifest.targets[base].build
    for role in ("aa", "candidate"):
        for name in manifest.names_with_role(role):
            if build is not None and manifest.targets[name].build == build:
                return base, name
    others = {n: t.build for n, t in manifest.targets.items() if n != base}
    raise InputError(
        f"{run.root}: not an A/A run: baseline {base} ran {build or 'an unknown build'}, the "
        f"others {others or 'none'} (give runs of `harness calibrate` or `validate --aa`)"
    )
