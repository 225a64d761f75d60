"""The fault timeline: applies and reverts faults and runs command actions on the replay's clock.

A thread sleeps until ``t0 + at`` (t0 is the replay's start, epoch ns, shared with the
workers), applies the fault to the proxy of every target (or the named ones) at once, verifies
it took effect, and at ``t0 + at + for`` reverts and verifies again. Each step writes an event
with its MEASURED time (see :mod:`harness.rundir`). Leaving the ``with`` block, however it is
left (normal end, exception, SIGINT, SIGTERM), reverts everything still applied, in ``finally``,
with further SIGINT/SIGTERM held back until it is done::

    with FaultTimeline(scenario.faults, client, targets, events, t0_ns=t0) as timeline:
        result = replay(capture, targets, run_dir, options, t0_ns=t0, stop=timeline.failed)

or, when the replay fixes t0 itself, ``t0_ns=None`` and ``on_t0=timeline.start`` (which also
sets the event log's ``t0_ns``).
    # every proxy enabled again, every toxic removed; timeline.failure is None if all applied
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any

from harness.errors import FaultError, HarnessError, Interrupted
from harness.faults.actions import ActionContext, PlannedCommand, RunningCommand, plan_commands
from harness.faults.events import EventLog
from harness.faults.kinds import (
    Check,
    ProxyFaults,
    applied_check,
    reverted_check,
    server_host,
)
from harness.faults.verify import Verification, parse_listen, round_trip_ms
from harness.scenario.model import (
    CommandAction,
    Fault,
    LatencyFault,
    TimelineEntry,
    entry_ids,
    fault_label,
)
from harness.stack.toxics import Proxy
from harness.stack.toxiproxy import ToxiproxyClient

#: How long leaving the timeline waits for a step in progress (a toxiproxy call) to finish.
JOIN_TIMEOUT_S = 15.0
#: How long before a latency fault its 'before' round trip is measured.
PREPARE_S = 0.3


@dataclass(frozen=True)
class FaultTarget:
    """A target and the toxiproxy proxy in front of each of its dependencies."""

    name: str
    proxies: dict[str, str]


@dataclass
class _Applied:
    fault: Fault
    fault_id: str
    proxies: list[tuple[str, Proxy]] = field(default_factory=list)  # (target, proxy)


class FaultTimeline:
    """Runs a scenario's timeline in a thread; a context manager that always cleans up.

    ``failed`` is set when a fault could not be applied or reverted (toxiproxy refused or was
    unreachable), a command action could not start, exited with a non-zero status or timed out,
    or the timeline's thread met a bug: pass it as the replay's ``stop`` event so a run whose
    faults did not happen ends early; leaving the block then reverts everything and raises
    ``failure`` (:class:`FaultError`, exit 4; :class:`~harness.errors.InternalError`, exit 70,
    for a bug). Verifications that fail are recorded (``verified.ok: false``) and listed in
    ``unverified``, but do not stop the run.
    """

    def __init__(
        self,
        entries: Sequence[TimelineEntry],
        client: ToxiproxyClient,
        targets: Sequence[FaultTarget],
        events: EventLog,
        *,
        t0_ns: int | None,
        actions: ActionContext | None = None,
        verify: bool = True,
        record_interruption: bool = True,
    ) -> None:
        self.entries = list(entries)
        self.ids = entry_ids(self.entries)
        self.client = client
        self.targets = {target.name: target for target in targets}
        self.events = events
        self.t0_ns = t0_ns if t0_ns is not None else events.t0_ns
        self._t0_known = t0_ns is not None
        self.actions = actions
        self.verify = verify
        self.record_interruption = record_interruption
        self.failed = threading.Event()
        self.failure: HarnessError | None = None
        self.unverified: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._state = ProxyFaults()
        self._active: dict[str, _Applied] = {}
        self._info: dict[str, Proxy] = {}
        self._commands: list[tuple[RunningCommand, threading.Thread]] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        if any(isinstance(e, CommandAction) for e in self.entries) and actions is None:
            raise FaultError("the timeline has command actions but no ActionContext was given")

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, t0_ns: int | None = None) -> None:
        """Start the timeline thread on the clock starting at ``t0_ns`` (idempotent).

        With ``t0_ns=None`` at construction, entering the block does not start it: call this
        from the replay's ``on_t0`` callback once the replay has fixed its t0.
        """
        if t0_ns is not None:
            self.t0_ns = t0_ns
            self.events.t0_ns = t0_ns  # one clock for every event of the run
            self._t0_known = True
        if self._thread is None and self._t0_known and not self._closed:
            self._thread = threading.Thread(target=self._run, name="fault-timeline", daemon=True)
            self._thread.start()

    def __enter__(self) -> FaultTimeline:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with _signals_held() as late:
            signum = _signal_of(exc)
            if signum is not None and self.record_interruption:
                self.events.emit("interrupted", signal=signal.Signals(signum).name, signum=signum)
            reason = "interrupted" if signum is not None else ("error" if exc else "end")
            errors = self.close(reason)
        if late and exc is None:
            raise Interrupted(f"interrupted by {late[0].name} while reverting", signum=late[0])
        if exc is not None:
            if self.failure is not None and signum is None and isinstance(exc, Exception):
                # the failed fault stopped the run: it is the cause, the body's error an effect
                raise self.failure from exc
            return
        if self.failure is not None:
            raise self.failure
        if errors:
            raise FaultError(f"could not revert every fault: {errors[0]}")

    def close(self, reason: str = "end") -> list[str]:
        """Stop the thread, stop running commands, revert every fault still applied.

        Returns the errors met (each revert is attempted whatever the others do).
        """
        if self._closed:
            return []
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=JOIN_TIMEOUT_S)
        errors: list[str] = []
        for command, watcher in self._commands:
            try:
                command.stop()
            except OSError as exc:
                errors.append(f"action {command.planned.action_id}: {exc}")
            watcher.join(timeout=JOIN_TIMEOUT_S)
        with self._lock:
            pending = list(reversed(self._active.values()))
        for applied in pending:
            try:
                errors += self._revert(applied, reason=reason, scheduled=False)
            except Exception as exc:  # the other faults must still be reverted
                errors.append(f"{applied.fault_id}: {type(exc).__name__}: {exc}")
                self._fail(exc)
        return errors

    # -- the thread -------------------------------------------------------------------------

    def _steps(self) -> list[tuple[float, int, int]]:
        """(seconds from t0, order, entry index); reverts sort before applies at one instant."""
        steps = []
        for i, entry in enumerate(self.entries):
            if isinstance(entry, CommandAction):
                steps.append((entry.at, 1, i))
            else:
                steps.append((entry.at, 1, i))
                steps.append((entry.until, 0, i))
        return sorted(steps)

    def _run(self) -> None:
        try:
            self._prepare_all()
            self._run_steps()
        except Exception as exc:  # handed to the owner, never lost in a thread
            self._fail(exc)

    def _run_steps(self) -> None:
        for at_s, order, index in self._steps():
            entry = self.entries[index]
            before: dict[str, float] = {}
            if order == 1 and isinstance(entry, LatencyFault) and self.verify:
                # the 'before' round trip is measured just ahead, not on the fault's own time
                if self._wait_until(at_s - PREPARE_S):
                    return
                before = self._round_trips(entry)
            if self._wait_until(at_s):
                return
            if isinstance(entry, CommandAction):
                self._start_action(entry, self.ids[index], at_s)
            elif order == 1:
                self._apply(entry, self.ids[index], before)
            else:
                with self._lock:
                    applied = self._active.get(self.ids[index])
                if applied is not None:
                    self._revert(applied, reason="scheduled", scheduled=True)

    def _fail(self, exc: Exception) -> None:
        """Record the first failure and set ``failed`` (the run stops, then everything is
        reverted). A :class:`HarnessError` is kept as it is (exit 4 for a fault that could not
        be applied); anything else is a bug: its traceback is saved next to the event log and
        the failure becomes an :class:`~harness.errors.InternalError` (exit 70)."""
        if not isinstance(exc, HarnessError):
            from harness.crashes import internal_error

            where = f"thread {threading.current_thread().name}"
            exc = internal_error(exc, self.events.path.parent, where=where)
        with self._lock:
            if self.failure is None:
                self.failure = exc
        self.failed.set()

    def _wait_until(self, at_s: float) -> bool:
        """Sleep until ``t0 + at_s``; True when the timeline was stopped meanwhile."""
        wait_s = (self.t0_ns + int(at_s * 1e9) - time.time_ns()) / 1e9
        return self._stop.wait(max(0.0, wait_s))

    def _prepare_all(self) -> None:
        """Read every proxy the timeline will touch once, up front: applying a fault then costs
        only the calls that change something, and a missing proxy fails before t0."""
        for entry in self.entries:
            if isinstance(entry, CommandAction):
                continue
            for _, proxy in self._proxies_of(entry):
                if proxy not in self._info:
                    self._info[proxy] = self.client.get_proxy(proxy)

    def _fault_json(self, fault: Fault, fault_id: str, targets: list[str]) -> dict[str, Any]:
        data = fault.model_dump(mode="json", by_alias=True, exclude={"at", "for_", "name"})
        data.update(
            id=fault_id,
            label=fault_label(fault),
            kind=fault.kind,
            dependency=fault.dependency,
            targets=targets,
            at_s=fault.at,
            for_s=fault.for_,
        )
        data.pop("stack", None)
        return data

    def _proxies_of(self, fault: Fault) -> list[tuple[str, str]]:
        names = fault.targets or list(self.targets)
        out = []
        for name in names:
            target = self.targets.get(name)
            if target is None:
                raise FaultError(
                    f"fault on unknown target {name!r} (targets: {list(self.targets)})"
                )
            proxy = target.proxies.get(fault.dependency)
            if proxy is None:
                raise FaultError(f"target {name} has no proxy for {fault.dependency!r}")
            out.append((name, proxy))
        return out

    def _apply(self, fault: Fault, fault_id: str, before: dict[str, float]) -> None:
        pairs = self._proxies_of(fault)
        applied = _Applied(fault, fault_id)
        with self._lock:
            self._active[fault_id] = applied
        try:
            info = {proxy: self._info_of(proxy) for _, proxy in pairs}
            started = time.time_ns()
            failures = _at_once(
                [partial(self._state.apply, self.client, p, fault, fault_id) for _, p in pairs]
            )
            with self._lock:
                applied.proxies += [
                    (t, info[p]) for (t, p), e in zip(pairs, failures, strict=True) if e is None
                ]
            first = next((e for e in failures if e is not None), None)
            if first is not None:
                raise first
        except HarnessError as exc:
            self.events.emit(
                "fault_applied",
                fault=self._fault_json(fault, fault_id, [t for t, _ in pairs]),
                error=str(exc),
                verified={"check": "apply", "ok": False, "detail": str(exc)},
            )
            raise FaultError(f"fault {fault_id} ({fault_label(fault)}): {exc}") from None
        done = time.time_ns()
        checks = {
            target: applied_check(self.client, p, fault, fault_id, before.get(p.name))
            for target, p in applied.proxies
        }
        self._emit_step(
            "fault_applied", applied, checks, started_ns=started, done_ns=done, scheduled_s=fault.at
        )

    def _revert(self, applied: _Applied, *, reason: str, scheduled: bool) -> list[str]:
        fault, fault_id = applied.fault, applied.fault_id
        errors: list[str] = []
        reverted: list[tuple[str, Proxy]] = []
        started = time.time_ns()
        failures = _at_once(
            [
                partial(self._state.revert, self.client, p.name, fault, fault_id)
                for _, p in applied.proxies
            ]
        )
        for (target, proxy), error in zip(applied.proxies, failures, strict=True):
            if error is None:
                reverted.append((target, proxy))
            else:
                errors.append(f"{fault_id} on {proxy.name}: {error}")
        done = time.time_ns()
        with self._lock:
            if errors:  # keep what is still applied: leaving the timeline tries again
                applied.proxies = [p for p in applied.proxies if p not in reverted]
            else:
                self._active.pop(fault_id, None)
        checks = {t: reverted_check(self.client, p, fault, fault_id) for t, p in reverted}
        step = _Applied(fault, fault_id, reverted)
        extra: dict[str, Any] = {"reason": reason}
        if errors:
            extra["error"] = "; ".join(errors)
        self._emit_step(
            "fault_reverted",
            step,
            checks,
            started_ns=started,
            done_ns=done,
            scheduled_s=fault.until,
            **extra,
        )
        if scheduled and errors:
            raise FaultError(f"could not revert fault {errors[0]}")
        return errors

    def _info_of(self, proxy: str) -> Proxy:
        if proxy not in self._info:
            self._info[proxy] = self.client.get_proxy(proxy)
        return self._info[proxy]

    def _round_trips(self, fault: Fault) -> dict[str, float]:
        """Round trips through each proxy before a latency fault (its 'before' figure)."""
        out = {}
        for _, name in self._proxies_of(fault):
            with contextlib.suppress(OSError, HarnessError):
                address = parse_listen(self._info_of(name).listen, server_host(self.client))
                out[name] = round_trip_ms(address, 0.5)
        return out

    def _emit_step(
        self,
        kind: str,
        step: _Applied,
        checks: dict[str, Check],
        *,
        started_ns: int,
        done_ns: int,
        scheduled_s: float,
        **extra: Any,
    ) -> None:
        results = _run_checks(checks) if self.verify else {}
        targets = [t for t, _ in step.proxies]
        verified: dict[str, Any]
        if results:
            ok = all(r.ok for r in results.values())
            verified = {
                "check": next(iter(results.values())).check,
                "ok": ok,
                "detail": "; ".join(f"{t}: {r.detail}" for t, r in results.items()),
                "per_target": {t: r.to_json() for t, r in results.items()},
            }
            if not ok:
                self.unverified.append(f"{kind} {step.fault_id}: {verified['detail']}")
        else:
            verified = {"check": "none", "ok": True, "detail": "verification off"}
        self.events.emit(
            kind,
            t_ns=done_ns - self.t0_ns,
            fault=self._fault_json(step.fault, step.fault_id, targets),
            verified=verified,
            scheduled_ns=int(scheduled_s * 1e9),
            lag_ms=round((started_ns - self.t0_ns) / 1e6 - scheduled_s * 1000, 3),
            spread_ms=round((done_ns - started_ns) / 1e6, 3),
            proxies=[p.name for _, p in step.proxies],
            **extra,
        )

    # -- command actions --------------------------------------------------------------------

    def _start_action(self, action: CommandAction, action_id: str, at_s: float) -> None:
        assert self.actions is not None  # checked in __init__
        for planned in plan_commands(action, action_id, self.actions):
            # written to the ledger before it runs
            command = RunningCommand(
                planned, action.timeout, record=self.actions.record, name=_process_name(planned)
            )
            info = {
                "id": action_id,
                "label": action.name or action.run,
                "target": planned.target,
                "at_s": at_s,
                "command": planned.command,
                "output": str(planned.output),
            }
            self.events.emit("action_started", action=info, pid=command.process.pid)
            watcher = threading.Thread(
                target=self._watch, args=(command, info), name=f"action-{action_id}", daemon=True
            )
            self._commands.append((command, watcher))
            watcher.start()

    def _watch(self, command: RunningCommand, info: dict[str, Any]) -> None:
        try:
            while (status := command.poll()) is None:
                time.sleep(0.05)
            self.events.emit(
                "action_finished",
                action=info,
                exit_status=status,
                timed_out=command.timed_out,
                killed=command.killed and not command.timed_out,
                duration_s=round(command.duration_s, 3),
            )
            # its ledger entry goes when close() lets go of its process group (stop)
            problem = command.failure()
            if problem is not None:
                self._fail(FaultError(problem))
        except Exception as exc:  # handed to the owner, never lost in a thread
            self._fail(exc)


def _process_name(planned: PlannedCommand) -> str:
    target = f" on {planned.target}" if planned.target is not None else ""
    return f"action {planned.action_id}{target}"


def _at_once(calls: list[Callable[[], None]]) -> list[HarnessError | None]:
    """Run ``calls`` concurrently (every target's proxy changes at the same moment, not one
    after the other); the error of each, or None."""
    if len(calls) <= 1:
        return [_error_of(call) for call in calls]
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(_error_of, calls))


def _error_of(call: Callable[[], None]) -> HarnessError | None:
    try:
        call()
    except HarnessError as exc:
        return exc
    return None


def _run_checks(checks: dict[str, Check]) -> dict[str, Verification]:
    """Run the checks of all targets at once (a partition check waits 300 ms per proxy)."""
    if not checks:
        return {}
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        futures = {target: pool.submit(check) for target, check in checks.items()}
    results = {}
    for target, future in futures.items():
        try:
            results[target] = future.result()
        except (HarnessError, OSError) as exc:
            results[target] = Verification("error", False, f"check failed: {exc}")
    return results


def _signal_of(exc: BaseException | None) -> int | None:
    if isinstance(exc, Interrupted):
        return exc.signum
    if isinstance(exc, KeyboardInterrupt):
        return int(signal.SIGINT)
    return None


@contextlib.contextmanager
def _signals_held() -> Iterator[list[signal.Signals]]:
    """Hold SIGINT/SIGTERM back while reverting (a second Ctrl-C must not cut the revert
    short); yields the list of signals that arrived. Only the main thread can do this."""
    late: list[signal.Signals] = []
    if threading.current_thread() is not threading.main_thread():
        yield late
        return

    def hold(signum: int, _frame: object) -> None:
        late.append(signal.Signals(signum))

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield late
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
