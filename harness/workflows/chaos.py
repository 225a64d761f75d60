"""``harness chaos DIR``: the nightly suite, every scenario of a folder against the current build.

For each ``*.yaml`` of the folder, in name order, one after another:

1. run it as ``harness run`` does (the stack file's targets, ``--build`` overrides applied)
   into ``RESULTS/nights/<night>/<scenario>/``;
2. judge tonight's candidate against the **last known-good run** of that scenario,
   ``RESULTS/known-good/<scenario>/``: both runs are merged into
   ``<scenario>/vs-known-good/`` (:mod:`harness.workflows.merge`) and the ordinary analysis
   judges it. Without a known-good run yet (or when the scenario's schedule changed since),
   tonight's candidate is judged against the stack's baseline in the same run, and the index
   says so;
3. with ``promote``, a passing run is copied to ``known-good/<scenario>/`` (never a failing one).

A scenario that crashes (bad scenario, unreachable component, any exception) is recorded as
``error`` with its one-line message and the suite goes on. The night's exit code is the worst of
the scenarios' (an error counts as its :class:`HarnessError` exit code, anything else as 4).
Results go to ``summary.json`` and ``index.html`` (:mod:`harness.workflows.chaos_index`).
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.crashes import internal_error
from harness.errors import HarnessError, Interrupted, UsageError, exit_code_for
from harness.rundir import RunDir
from harness.workflows.chaos_model import (
    SUMMARY_FILE,
    Comparison,
    NightSummary,
    ScenarioResult,
    figures_of,
)
from harness.workflows.merge import (
    RunSide,
    judged_target,
    merge_runs,
    read_manifest_dict,
    schedule_differences,
)
from harness.workflows.run import Progress, RunRequest, run_scenario

NIGHTS = "nights"
KNOWN_GOOD_DIR = "known-good"
VS_KNOWN_GOOD = "vs-known-good"
#: Written into a promoted run: which night it came from and when it was promoted.
PROMOTED_FILE = "promoted.json"


@dataclass
class NightRequest:
    """One night of the suite: the scenario folder, the results folder and the options."""

    suite: Path
    results: Path
    night: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"))
    builds: dict[str, str] = field(default_factory=dict)
    promote: bool = False
    processes: int | None = None

    @property
    def night_dir(self) -> Path:
        return self.results / NIGHTS / self.night

    def known_good(self, scenario: str) -> Path:
        return self.results / KNOWN_GOOD_DIR / scenario


Step = Callable[[str, str], None]
Done = Callable[[ScenarioResult], None]
ProgressFactory = Callable[[str], Progress | None]


def suite_scenarios(suite: Path) -> list[Path]:
    """The scenario files of ``suite`` in name order (:class:`UsageError` when there are none)."""
    if not suite.is_dir():
        raise UsageError(f"{suite}: not a folder of scenarios")
    files = sorted(p for p in suite.glob("*.yaml") if p.is_file())
    if not files:
        raise UsageError(f"{suite}: no *.yaml scenario in the folder")
    return files


def _check_night(request: NightRequest, scenarios: list[Path]) -> None:
    name = request.night
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        raise UsageError(f"--night must be a plain folder name, got {name!r}")
    for path in scenarios:
        folder = request.night_dir / path.stem
        if folder.exists() and any(folder.iterdir()):
            raise UsageError(
                f"{folder} already holds a run of night {name!r}; pass another --night NAME"
            )


def run_night(
    request: NightRequest,
    *,
    on_step: Step = lambda _scenario, _msg: None,
    on_done: Done = lambda _result: None,
    progress: ProgressFactory = lambda _scenario: None,
) -> NightSummary:
    """Run the night (see the module docs); writes ``summary.json`` and ``index.html``."""
    from harness.workflows.chaos_index import write_index

    scenarios = suite_scenarios(request.suite)
    _check_night(request, scenarios)
    request.night_dir.mkdir(parents=True, exist_ok=True)
    started = _now()
    results: list[ScenarioResult] = []
    stopped_by: ScenarioResult | None = None
    for path in scenarios:
        if stopped_by is not None:
            result = _not_run(path, stopped_by)
        else:
            result = run_one(request, path, on_step=on_step, on_progress=progress(path.stem))
            if result.status == "interrupted":
                stopped_by = result
        results.append(result)
        on_done(result)
    summary = NightSummary(
        night=request.night,
        suite=str(request.suite),
        results=str(request.results),
        started=started,
        finished=_now(),
        builds=dict(request.builds),
        exit_code=max((r.exit_code for r in results), default=0),
        scenarios=results,
    )
    text = summary.model_dump_json(indent=2) + "\n"
    (request.night_dir / SUMMARY_FILE).write_text(text, encoding="utf-8")
    write_index(request.results, summary)
    return summary


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _not_run(path: Path, stopped_by: ScenarioResult) -> ScenarioResult:
    return ScenarioResult(
        name=path.stem,
        file=str(path),
        status="error",
        exit_code=stopped_by.exit_code,
        reason=f"not run: the night was stopped while running {stopped_by.name}",
    )


def run_one(
    request: NightRequest,
    path: Path,
    *,
    on_step: Step = lambda _scenario, _msg: None,
    on_progress: Progress | None = None,
) -> ScenarioResult:
    """Run and judge one scenario; any exception becomes an ``error`` result."""
    name = path.stem
    run_dir = request.night_dir / name
    begun = time.monotonic()
    try:
        result = _run_and_judge(request, path, run_dir, on_step, on_progress)
    except Interrupted as exc:  # SIGTERM outside the replay: stop the night here as well
        result = ScenarioResult(
            name=name,
            file=str(path),
            status="interrupted",
            exit_code=exc.exit_code,
            reason=str(exc),
            run_dir=name if run_dir.exists() else None,
        )
    except Exception as exc:  # one scenario's crash must not stop the night
        if not isinstance(exc, HarnessError):  # a bug: exit 70, its traceback kept
            exc = internal_error(exc, run_dir if run_dir.is_dir() else request.night_dir)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        result = ScenarioResult(
            name=name,
            file=str(path),
            status="error",
            exit_code=exit_code_for(exc),
            reason=message,
            run_dir=name if run_dir.exists() else None,
        )
    finally:
        drop_stack_database(run_dir)
    result.seconds = round(time.monotonic() - begun, 1)
    return result


def drop_stack_database(run_dir: Path) -> None:
    """Delete the stopped stack's throwaway database cluster (~80 MB a run); logs stay.

    Every run clones fresh databases from the template, so nothing reads it again, and a
    suite that runs every night would otherwise fill the disk.
    """
    data = run_dir / "stack" / "postgres" / "data"
    if data.is_dir():
        shutil.rmtree(data, ignore_errors=True)


def _run_and_judge(
    request: NightRequest,
    path: Path,
    run_dir: Path,
    on_step: Step,
    on_progress: Progress | None,
) -> ScenarioResult:
    from harness.analysis.verdict import exit_code
    from harness.report.render import compare_run

    name = path.stem
    outcome = run_scenario(
        RunRequest(
            scenario=path,
            run_dir=run_dir,
            builds=dict(request.builds),
            processes=request.processes,
            judge=False,
        ),
        on_step=lambda msg: on_step(name, msg),
        on_progress=on_progress,
    )
    target = judged_target(run_dir)
    known_good = request.known_good(name)
    note, folder = "", run_dir
    compared: Comparison = "stack baseline"
    kg_label = None
    if _is_run(known_good):
        changed = schedule_differences(known_good, run_dir)
        if changed:
            note = (
                f"the known-good run has another schedule ({', '.join(changed)} changed): "
                "judged against the stack baseline; promote a passing run to refresh it"
            )
        else:
            on_step(name, "merging with the known-good run")
            folder = merge_runs(
                RunSide(known_good, judged_target(known_good)),
                RunSide(run_dir, target),
                run_dir / VS_KNOWN_GOOD,
            )
            compared = "known-good"
            kg_label = _known_good_label(known_good)
    else:
        note = "no known-good run yet: judged against the stack baseline of the same run"
    on_step(name, "judging")
    if compared == "known-good":
        comparisons = compare_run(folder, baseline="known-good", candidate="candidate")
    else:
        comparisons = compare_run(run_dir, candidate=target)
    verdict = comparisons[0].verdict
    out = comparisons[0].out
    if outcome.interrupted_by is not None:
        note = "interrupted: the rest of the night was not run"
    result = ScenarioResult(
        name=name,
        file=str(path),
        status=verdict.status,
        exit_code=exit_code(verdict),
        reason=verdict.reason,
        compared_with=compared,
        known_good=kg_label,
        note=note,
        run_dir=name,
        report=str((out / "report.html").relative_to(request.night_dir)),
        verdict=str((out / "verdict.json").relative_to(request.night_dir)),
        figures=figures_of(verdict),
    )
    if request.promote and verdict.status == "pass":
        on_step(name, "promoting to known-good")
        promote(run_dir, known_good, night=request.night)
        result.promoted = True
    return result


def _is_run(folder: Path) -> bool:
    paths = RunDir(folder)
    return paths.manifest.is_file() and paths.requests.is_file()


def _known_good_label(folder: Path) -> str:
    import json

    promoted = folder / PROMOTED_FILE
    night = None
    if promoted.is_file():
        try:
            night = json.loads(promoted.read_text(encoding="utf-8")).get("night")
        except (OSError, ValueError, AttributeError):
            night = None
    run_id = read_manifest_dict(folder).get("run_id") or folder.name
    return f"night {night}" if night else f"run {run_id}"


def promote(run_dir: Path, known_good: Path, *, night: str) -> None:
    """Copy the run's files (not its stack's working files) to ``known_good``, replacing it.

    The copy is made next to the old one and swapped in, so an interrupted promotion leaves
    the previous known-good run intact.
    """
    import json

    known_good.parent.mkdir(parents=True, exist_ok=True)
    fresh = known_good.with_name(f".{known_good.name}.promoting")
    old = known_good.with_name(f".{known_good.name}.replaced")
    for leftover in (fresh, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    fresh.mkdir()
    # Top-level files are the run directory contract (manifest, requests, events, probes and
    # the reports); sub-folders hold the stack's database and logs, or comparisons.
    for item in run_dir.iterdir():
        if item.is_file():
            shutil.copy2(item, fresh / item.name)
    record = {"night": night, "from": str(run_dir), "promoted": _now()}
    (fresh / PROMOTED_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if known_good.exists():
        known_good.rename(old)
    fresh.rename(known_good)
    if old.exists():
        shutil.rmtree(old)
