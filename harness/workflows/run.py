"""``harness run``: one scenario end to end, from lint to verdict.

lint -> bring the stack up (fresh databases cloned from the template, fresh proxies) -> reset
the proxies the run owns -> fix t0 -> start the probe sampler and the fault timeline on that
clock -> replay -> revert every fault (always) -> stop probes -> tear the stack down -> write
the manifest -> judge each candidate against the baseline and write the reports.

SIGINT and SIGTERM during the replay stop it early; faults are reverted, partial results are
kept, the run is marked interrupted and the caller exits 130 or 143. A fault or command action
that fails at run time stops the run the same way, but the run is marked ``error`` and its error
raised (exit 4; 70 for a bug), never judged: a run without its faults proves nothing.
"""

from __future__ import annotations

import contextlib
import platform
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.crashes import internal_errors
from harness.errors import HarnessError, Interrupted
from harness.rundir import RunDir
from harness.scenario.model import Scenario
from harness.scenario.stackfile import POSTGRES, Stack, TargetSpec, load_stack
from harness.workflows.signals import signals_to_stop

if TYPE_CHECKING:
    from harness.faults.actions import ActionContext
    from harness.faults.events import EventLog
    from harness.faults.timeline import FaultTarget
    from harness.probes.sampler import ProbeTarget
    from harness.replay.model import LocustOptions, ReplayProgress, ReplayResult, ReplayTarget
    from harness.report.render import Comparison
    from harness.stack.runtime import RunningTarget, StackRuntime


def _default_locust() -> LocustOptions:
    from harness.replay.model import LocustOptions

    return LocustOptions()


@dataclass
class RunRequest:
    """What to run: a scenario, where to write, and how to run its stack."""

    scenario: Path
    run_dir: Path
    builds: dict[str, str] = field(default_factory=dict)
    processes: int | None = None
    speed: float | None = None
    start_delay_s: float = 2.0
    judge: bool = True
    baseline: str | None = None
    #: Replaces the stack file's targets (``harness validate`` names the builds to compare).
    targets: dict[str, TargetSpec] | None = None
    #: Locust's web UI, CSV, HTML and the user's locustfile for the replay
    locust: LocustOptions = field(default_factory=_default_locust)
    #: ``session`` (wait for the session's earlier answers) or ``schedule`` (strict schedule);
    #: None: the scenario's ``ordering``
    ordering: str | None = None


@dataclass
class RunOutcome:
    """What a run produced: the replay result, whether it was interrupted, the verdicts."""

    run_dir: Path
    replay: ReplayResult | None
    interrupted_by: int | None
    comparisons: list[Comparison] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)


Progress = Callable[["ReplayProgress"], None]
Step = Callable[[str], None]


def load_checked(
    scenario_path: Path,
    builds: dict[str, str],
    targets: Callable[[Stack], dict[str, TargetSpec]] | None = None,
) -> tuple[Scenario, Stack]:
    """Lint the scenario (a broken one fails before any traffic) and load its stack.

    ``targets``, given the loaded stack, returns targets that replace the stack file's.
    """
    from harness.scenario.lint import lint

    report = lint(scenario_path)
    scenario = report.raise_for_errors()
    stack = load_stack(scenario.stack, builds)
    if targets is not None:
        stack.file.targets = targets(stack)
    return scenario, stack


def run_scenario(
    request: RunRequest,
    *,
    on_step: Step = lambda _msg: None,
    on_progress: Progress | None = None,
    on_cleanup: Step | None = None,
) -> RunOutcome:
    """Run ``request.scenario`` and, when ``request.judge``, judge it (see module docs).

    Before its stack starts, what killed runs left behind is cleaned up, one line each to
    ``on_cleanup`` (default ``on_step``): see :mod:`harness.stack.orphans`.

    A run that fails (a fault or action that fails at run time, a target that dies, a bug) is
    stopped, its faults reverted and its stack torn down; its manifest says ``status: error``
    and the error is raised (a bug as :class:`~harness.errors.InternalError`, its traceback
    saved in the run directory).
    """
    chosen = request.targets
    scenario, stack = load_checked(
        request.scenario, request.builds, (lambda _stack: chosen) if chosen else None
    )
    from harness.replay.session_plan import check_before_stack

    check_before_stack(scenario.capture, stack, chosen)  # links and accounts: exit 3 now
    run_dir = request.run_dir
    if (run_dir / "requests.parquet").exists():
        raise HarnessError(f"{run_dir} already holds a run; choose another -o/--output")
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with internal_errors(run_dir):
            return _run_checked(
                request,
                scenario,
                stack,
                on_step=on_step,
                on_progress=on_progress,
                on_cleanup=on_cleanup,
            )
    except HarnessError as exc:
        if not isinstance(exc, Interrupted):
            mark_failed(run_dir, exc)
        raise


def mark_failed(run_dir: Path, error: HarnessError) -> None:
    """Record in the manifest that the run ended in error: ``status: error``, the one-line
    ``error`` and its ``exit_code`` (a run directory never looks like a run that was judged)."""
    from harness.replay.manifest import update_manifest

    with contextlib.suppress(OSError, ValueError):
        update_manifest(
            run_dir, {"status": "error", "error": str(error), "exit_code": error.exit_code}
        )


def _run_checked(
    request: RunRequest,
    scenario: Scenario,
    stack: Stack,
    *,
    on_step: Step,
    on_progress: Progress | None,
    on_cleanup: Step | None,
) -> RunOutcome:
    from harness.stack.runtime import StackRuntime

    run_dir = request.run_dir
    runtime = StackRuntime(stack, run_dir / "stack", on_step=on_step, on_cleanup=on_cleanup)
    with signals_to_stop() as (stop, received):
        try:
            runtime.up()
            outcome = _replay_with_faults(
                request,
                scenario,
                runtime,
                stop=stop,
                received=received,
                on_step=on_step,
                on_progress=on_progress,
            )
        finally:
            on_step("tearing the stack down")
            runtime.down()
    _write_manifest(request, scenario, runtime, outcome)
    if outcome.interrupted_by is None and request.judge:
        from harness.report.render import compare_run

        on_step("judging")
        outcome.comparisons = compare_run(run_dir, baseline=request.baseline)
    return outcome


def _replay_with_faults(
    request: RunRequest,
    scenario: Scenario,
    runtime: StackRuntime,
    *,
    stop: threading.Event,
    received: list[int],
    on_step: Step,
    on_progress: Progress | None,
) -> RunOutcome:
    from harness.faults.cleanup import reset_owned
    from harness.faults.events import EventLog
    from harness.faults.timeline import FaultTimeline
    from harness.probes.sampler import ProbeSampler
    from harness.probes.toxiproxy import AcceptedConnections
    from harness.replay import ReplayOptions, replay

    run = RunDir(request.run_dir)
    client = runtime.client()
    owned = [t.proxy for t in runtime.targets.values() if t.proxy is not None]
    reset_owned(client, owned)
    options = ReplayOptions(
        speed=request.speed or scenario.speed,
        duration_s=scenario.duration,
        loop=scenario.loop,
        processes=request.processes,
        timeout_s=scenario.timeout or 10.0,
        lag_bound_ms=scenario.lag_bound_ms,
        fault_windows_s=tuple((f.at, f.until) for f in scenario.fault_list()),
        start_delay_s=request.start_delay_s,
        allow_original_host=scenario.allow_original_host,
        locust=request.locust,
        keep_response_bytes=scenario.response_bytes(),
        ordering=request.ordering or scenario.ordering,
    )
    if scenario.probes:
        from harness.probes.preflight import check_probes

        on_step("checking the probes")
        check_probes(scenario.probes, _probe_targets(runtime))
    accepted = None
    if runtime.toxiproxy is not None and not runtime.toxiproxy.external:
        accepted = AcceptedConnections(runtime.toxiproxy.log_path)
    # t0 is fixed by the replay once its workers are ready (a slow start is not send lag);
    # events, probes and the fault timeline all start on that clock in on_t0.
    with EventLog(run.events, time.time_ns()) as events:
        timeline = FaultTimeline(
            scenario.faults,
            client,
            _fault_targets(runtime),
            events,
            t0_ns=None,
            actions=_action_context(request, scenario, runtime),
        )
        samplers: list[ProbeSampler] = []

        def on_t0(t0_ns: int) -> None:
            if samplers:  # called once per run; a second call changes nothing
                return
            events.t0_ns = t0_ns
            _stack_events(events, runtime)
            events.emit("run_started", t_ns=0, scenario=scenario.name)
            sampler = ProbeSampler(
                scenario.run_probes(),
                _probe_targets(runtime),
                run.probes,
                t0_ns=t0_ns,
                interval_s=scenario.probe_interval,
                events=events,
                accepted_connections=accepted,
            )
            samplers.append(sampler)
            sampler.start()
            timeline.start(t0_ns)

        def failed() -> bool:
            return timeline.failed.is_set() or any(s.failed.is_set() for s in samplers)

        result = None
        try:
            with timeline, _forward(failed, stop):
                on_step("replaying")
                result = replay(
                    scenario.capture,
                    [_replay_target(t, runtime.stack.dir) for t in runtime.targets.values()],
                    request.run_dir,
                    options,
                    on_t0=on_t0,
                    on_progress=on_progress,
                    stop=stop,
                )
                if received:
                    signum = received[0]
                    events.emit("interrupted", signal=signal.Signals(signum).name, signum=signum)
        finally:
            for sampler in samplers:
                sampler.stop()
            failure = timeline.failure or next((s.failure for s in samplers if s.failure), None)
            error = str(failure) if failure is not None else None
            events.emit("run_finished", interrupted=bool(received), error=error)
    if timeline.failure is not None:  # the block raises it; this is for a stop in between
        raise timeline.failure
    for sampler in samplers:
        if sampler.failure is not None:
            raise sampler.failure
    return RunOutcome(
        run_dir=request.run_dir,
        replay=result,
        interrupted_by=received[0] if received else None,
        unverified=list(timeline.unverified),
    )


def _stack_events(events: EventLog, runtime: StackRuntime) -> None:
    """The targets' start and health, at the times they happened (before t0: negative)."""
    for target in runtime.targets.values():
        if target.started_ns is None:  # a running build given by URL: nothing was started
            continue
        events.emit(
            "target_started",
            t_ns=target.started_ns - events.t0_ns,
            target=target.name,
            url=target.url,
            build=target.build,
            pid=target.process.pid if target.process else None,
        )
        if target.healthy_ns is not None:
            events.emit("target_healthy", t_ns=target.healthy_ns - events.t0_ns, target=target.name)


def _replay_target(target: RunningTarget, stack_dir: Path) -> ReplayTarget:
    from harness.replay import ReplayTarget

    return ReplayTarget(
        target.name,
        target.url,
        dict(target.headers),
        auth=target.auth,
        auth_where=target.auth_where,
        stack_dir=stack_dir,
    )


def _probe_targets(runtime: StackRuntime) -> list[ProbeTarget]:
    from harness.probes.sampler import ProbeTarget

    out = []
    for t in runtime.targets.values():
        dsn = None
        if runtime.postgres is not None and t.database is not None:
            dsn = runtime.postgres.dsn(t.database)  # direct: probes work while the proxy is down
        out.append(ProbeTarget(t.name, url=t.url, dsn=dsn, proxy=t.proxy))
    return out


def _fault_targets(runtime: StackRuntime) -> list[FaultTarget]:
    from harness.faults.timeline import FaultTarget

    return [
        FaultTarget(t.name, {POSTGRES: t.proxy} if t.proxy else {})
        for t in runtime.targets.values()
    ]


def _action_context(
    request: RunRequest, scenario: Scenario, runtime: StackRuntime
) -> ActionContext:
    from harness.faults.actions import ActionContext, ActionTarget

    targets = {}
    pg = runtime.postgres
    for t in runtime.targets.values():
        targets[t.name] = ActionTarget(
            name=t.name,
            url=t.url,
            dsn=pg.dsn(t.database) if pg is not None and t.database else None,
            dbname=t.database,
            db_host=pg.host if pg is not None else None,
            db_port=pg.port if pg is not None else None,
        )
    scenario_dir = scenario.file.parent if scenario.file else request.scenario.parent
    return ActionContext(
        run_dir=request.run_dir, scenario_dir=scenario_dir, targets=targets, record=runtime.ledger
    )


def _write_manifest(
    request: RunRequest, scenario: Scenario, runtime: StackRuntime, outcome: RunOutcome
) -> None:
    from harness.replay.manifest import read_manifest, update_manifest

    manifest = read_manifest(request.run_dir)
    versions = dict(manifest.get("versions") or {})  # type: ignore[call-overload]
    versions.update(
        toxiproxy=runtime.toxiproxy_version,
        postgres=runtime.postgres_version,
    )
    status = "interrupted" if outcome.interrupted_by is not None else manifest.get("status")
    update_manifest(
        request.run_dir,
        {
            "scenario": scenario.to_manifest(),
            "scenario_file": str(request.scenario),
            "targets": {
                t.name: {"url": t.url, "role": t.role, "build": t.build}
                for t in runtime.targets.values()
            },
            "versions": versions,
            "status": status,
            "interrupted_by": (
                signal.Signals(outcome.interrupted_by).name if outcome.interrupted_by else None
            ),
            "seed": scenario.seed,
            "host": platform.node(),
            "unverified_faults": outcome.unverified,
        },
    )


@contextlib.contextmanager
def _forward(failed: Callable[[], bool], target: threading.Event) -> Iterator[None]:
    """Set ``target`` once ``failed()`` is true (a failed fault or probe stops the replay)."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            if failed():
                target.set()
                return

    thread = threading.Thread(target=watch, name="fault-failure-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=1.0)


def raise_if_interrupted(outcome: RunOutcome) -> None:
    """Raise :class:`Interrupted` (exit 130/143) for a run stopped by a signal."""
    if outcome.interrupted_by is not None:
        name = signal.Signals(outcome.interrupted_by).name
        raise Interrupted(
            f"run interrupted by {name}; faults reverted, partial results in {outcome.run_dir}",
            signum=outcome.interrupted_by,
        )
