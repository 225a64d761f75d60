"""Replay a capture to one or more targets on the captured schedule: :func:`replay`.

The orchestrating process plans, starts the Locust processes (:mod:`harness.replay.launch`: one
local runner, or a master with local or remote workers), learns the shared t0, shows their
progress, stops them on request, merges their part files into ``requests.parquet`` (and
``responses.parquet``), judges validity and writes ``manifest.json``. It never imports gevent.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from harness.errors import InternalError, ReplayError, UsageError
from harness.replay.launch import start_master, start_single
from harness.replay.manifest import read_manifest, replay_manifest, update_manifest
from harness.replay.model import ReplayOptions, ReplayProgress, ReplayResult, ReplayTarget
from harness.replay.plan import PLAN_COLUMNS, original_hosts, plan_replay, read_capture
from harness.replay.processes import WorkerGroup
from harness.replay.rebuild import check_target_url
from harness.replay.results import lag_quantiles, merge_parts
from harness.replay.session_plan import identity_counts, prepare_sessions, target_spec
from harness.replay.spec import ShardSpec
from harness.replay.validity import Schedule, judge, target_counts
from harness.rundir import RESPONSES_SCHEMA, RunDir

#: extra time, past the schedule and the request timeout, before workers are declared hung
_GRACE_S = 30.0


def check_targets(capture: Path, targets: Sequence[ReplayTarget], options: ReplayOptions) -> None:
    """Refuse bad target lists: none, duplicate names, non-http(s) URLs, the original host."""
    if not targets:
        raise UsageError("no target to replay to (give --target NAME=URL)")
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise UsageError(f"target names must be unique, got {', '.join(names)}")
    for t in targets:
        check_target_url(t.name, t.url)
    if options.allow_original_host:
        return
    from urllib.parse import urlsplit

    hosts = original_hosts(capture)
    for t in targets:
        host = (urlsplit(t.url).hostname or "").lower()
        # a capture recorded on loopback (the demo, a local service) cannot be production
        if host in hosts and not _is_loopback(host):
            raise UsageError(
                f"target {t.name!r} ({t.url}) is the capture's original host {host}: refusing "
                "to replay production traffic to it (pass --allow-original-host to override)"
            )


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def replay(
    capture: Path,
    targets: Sequence[ReplayTarget],
    run_dir: Path,
    options: ReplayOptions,
    *,
    t0_ns: int | None = None,
    on_t0: Callable[[int], None] | None = None,
    on_progress: Callable[[ReplayProgress], None] | None = None,
    stop: threading.Event | None = None,
) -> ReplayResult:
    """Replay ``capture`` to every target at the captured times divided by ``options.speed``.

    ``t0_ns`` is the shared start (epoch ns). By default it is fixed once every worker is ready,
    at least ``start_delay_s`` after the call; ``on_t0`` is called (from the calling thread) as
    soon as it is fixed, so a fault timeline can run on the same clock. Setting ``stop`` ends the
    replay early; what was sent is still written. Fields of an existing ``manifest.json`` that a
    replay does not own (``scenario``, ``seed``, ``versions``...) are kept. Writes
    ``requests.parquet`` and ``manifest.json`` into ``run_dir`` and returns counts, send lag and
    validity; raising is left to the caller (the CLI raises
    :class:`~harness.errors.RunInvalid` when ``valid`` is false).
    """
    if not options.speed > 0:
        raise UsageError(f"speed must be > 0, got {options.speed}")
    if options.timeout_s <= 0:
        raise UsageError(f"timeout must be > 0, got {options.timeout_s}")
    check_targets(capture, targets, options)
    sessions_plan = prepare_sessions(capture, targets, options)
    table = read_capture(capture, PLAN_COLUMNS)
    sessions = pc.count_distinct(table.column("session"), mode="all").as_py()
    if options.master is not None:
        shards = options.master.expect_workers
    else:
        peak = plan_replay(table, 1, options.speed, options.duration_s, options.loop)
        sends_per_s = peak.shards[0].peak_rate_per_s * len(targets)
        shards = max(1, min(options.process_count(sends_per_s), sessions))
    plan = plan_replay(table, shards, options.speed, options.duration_s, options.loop)
    del table
    schedule = Schedule(span_s=plan.span_ns / 1e9, fault_windows_s=options.fault_windows_s)
    rundir = RunDir(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    work = run_dir / ".replay"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()

    template = ShardSpec(
        capture=str(capture.resolve()),
        shard=0,
        shards=shards,
        targets=[target_spec(t) for t in targets],
        t0_ns=0,
        part="",
        speed=options.speed,
        duration_s=options.duration_s,
        loop=options.loop,
        timeout_s=options.timeout_s,
        flush_rows=options.flush_rows,
        max_connections=options.max_connections,
        keep_response_bytes=options.keep_response_bytes,
        ordering=options.ordering,
        identities=sessions_plan.identities,
        captured_logins=sessions_plan.captured_json(),
    )
    group = WorkerGroup([t.name for t in targets], plan.total)
    manifest_t0 = t0_ns or 0
    stopped = False
    try:
        if shards == 1 and options.master is None:
            t0_ns = start_single(group, template, options, t0_ns, work, stop=stop)
            if t0_ns is None and not (stop is not None and stop.is_set()):
                group.close()
                failed = group.failures() or ["workers were not ready in time"]
                raise ReplayError(f"replay to {run_dir} did not start: {failed[0]}")
            if t0_ns is not None and on_t0 is not None:
                on_t0(t0_ns)
                on_t0 = None
            deadline_s = (t0_ns - time.time_ns()) / 1e9 if t0_ns is not None else 0.0
        else:
            deadline_s = start_master(group, template, options, t0_ns, work)
            deadline_s += options.start_delay_s
        deadline_s += plan.span_ns / 1e9 + options.timeout_s + _GRACE_S
        # stopped before the start: nothing was sent, the (empty) results are still written
        stopped = _watch(group, deadline_s, on_progress, on_t0, stop)
        if t0_ns is None:
            t0_ns = group.t0_ns  # a master reported it (or never started: stopped before)
        stopped = stopped or t0_ns is None
        manifest_t0 = t0_ns or 0
    finally:
        group.close()
    failures = group.failures()
    summaries = group.summaries()
    parts = sorted(Path(s["part"]) for s in summaries.values())
    merged = merge_parts(parts, rundir.requests)
    if options.keep_response_bytes > 0:
        kept = sorted(Path(str(s["responses"])) for s in summaries.values() if s.get("responses"))
        merge_parts(kept, rundir.responses, RESPONSES_SCHEMA)
    result = _result(
        run_dir,
        merged,
        [t.name for t in targets],
        total=plan.total,
        span_ns=plan.span_ns,
        summaries=summaries,
        options=options,
        stopped=stopped,
        schedule=schedule,
    )
    result = _with_t0(result, manifest_t0)
    manifest = replay_manifest(
        run_dir,
        capture,
        requests=plan.total,
        targets=targets,
        t0_ns=manifest_t0,
        speed=options.speed,
    )
    status = "failed" if failures else ("interrupted" if stopped else "complete")
    manifest.update(status=status, validity=_validity_json(result), replay=_replay_json(result))
    if any(s.get("session_state") for s in summaries.values()):
        manifest.update(identities=identity_counts(summaries.values()))
    update_manifest(run_dir, _keep_callers_fields(read_manifest(run_dir), manifest))
    internal = group.internal_failures()
    if internal:
        raise InternalError(internal[0])
    if failures:
        raise ReplayError(f"replay to {run_dir} failed: {failures[0]}")
    shutil.rmtree(work, ignore_errors=True)
    return result


#: manifest fields a replay always writes; the others are only filled in when missing, so a
#: caller (``harness run``) that wrote its scenario, seed or versions first keeps them
_REPLAY_FIELDS = frozenset(
    {"format_version", "run_id", "t0_ns", "speed", "capture", "targets", "status", "validity"}
    | {"replay"}
)


def _keep_callers_fields(existing: dict[str, object], ours: dict[str, object]) -> dict[str, object]:
    merged = dict(ours)
    for key, value in existing.items():
        if key in _REPLAY_FIELDS or value is None:
            continue
        if isinstance(value, dict) and isinstance(ours.get(key), dict):
            mine = ours[key]
            assert isinstance(mine, dict)
            merged[key] = {**mine, **{k: v for k, v in value.items() if v is not None}}
        else:
            merged[key] = value
    return merged


def _watch(
    group: WorkerGroup,
    deadline_s: float,
    on_progress: Callable[[ReplayProgress], None] | None,
    on_t0: Callable[[int], None] | None,
    stop: threading.Event | None,
) -> bool:
    """Wait for the workers; report progress once a second and a master's t0 once, from the
    calling thread. True when stopped early."""
    give_up = time.monotonic() + deadline_s
    stopped = False
    next_report = time.monotonic() + 1.0
    while group.alive():
        if on_t0 is not None and group.t0_ns is not None:
            on_t0(group.t0_ns)
            on_t0 = None
        if stop is not None and not stopped and stop.wait(0.1):
            stopped = True
            group.signal()
        else:
            time.sleep(0.1)
        now = time.monotonic()
        if on_progress is not None and now >= next_report:
            on_progress(group.progress())
            next_report = now + 1.0
        if now > give_up:
            raise ReplayError(f"workers did not finish within {deadline_s:.0f}s; stopped them")
    if on_progress is not None:
        on_progress(group.progress())
    return stopped


def _result(
    run_dir: Path,
    table: pa.Table,
    names: Sequence[str],
    *,
    total: int,
    span_ns: int,
    summaries: dict[int, dict[str, object]],
    options: ReplayOptions,
    stopped: bool,
    schedule: Schedule,
) -> ReplayResult:
    p50, p99, lag_max = lag_quantiles(table)
    counts = target_counts(table, names, total)
    cpu = {k: float(str(s.get("cpu_ratio", 0.0))) for k, s in summaries.items()}
    pools = {k: int(str(s.get("connections", 0))) for k, s in summaries.items()}
    validity = judge(
        table,
        names,
        schedule,
        fixed_bound_ms=options.lag_bound_ms,
        cpu_ratios=cpu,
        cpu_bound=options.cpu_bound,
        connections=pools,
    )
    span_s = span_ns / 1e9
    achieved = [c.achieved_rate_per_s for c in counts.values()]
    rundir = RunDir(run_dir)
    return ReplayResult(
        run_dir=run_dir,
        requests_path=rundir.requests,
        manifest_path=rundir.manifest,
        t0_ns=0,
        targets=counts,
        lag_p50_ms=p50,
        lag_p99_ms=p99,
        lag_max_ms=lag_max,
        scheduled_rate_per_s=(total - 1) / span_s if span_s > 0 else 0.0,
        achieved_rate_per_s=min(achieved) if achieved else 0.0,
        valid=validity.valid,
        reasons=validity.reasons,
        interrupted=stopped,
        workers=len(summaries),
        cpu_ratio_max=max(cpu.values(), default=0.0),
        warnings=validity.warnings,
        lag_bound_ms=validity.lag_bound_ms,
        priority_raised=bool(summaries)
        and all(bool(s.get("priority_raised")) for s in summaries.values()),
    )


def _with_t0(result: ReplayResult, t0_ns: int) -> ReplayResult:
    from dataclasses import replace

    return replace(result, t0_ns=t0_ns)


def _validity_json(result: ReplayResult) -> dict[str, object]:
    return {
        "valid": result.valid,
        "reasons": result.reasons,
        "warnings": result.warnings,
        "lag_p99_ms": result.lag_p99_ms,
        "lag_bound_ms": result.lag_bound_ms,
    }


def _replay_json(result: ReplayResult) -> dict[str, object]:
    return {
        "lag_p50_ms": result.lag_p50_ms,
        "lag_p99_ms": result.lag_p99_ms,
        "lag_max_ms": result.lag_max_ms,
        "scheduled_rate_per_s": result.scheduled_rate_per_s,
        "achieved_rate_per_s": result.achieved_rate_per_s,
        "workers": result.workers,
        "cpu_ratio_max": result.cpu_ratio_max,
        "priority_raised": result.priority_raised,
        "targets": {
            name: {
                "scheduled": c.scheduled,
                "sent": c.sent,
                "answered": c.answered,
                "errors": c.errors,
                "achieved_rate_per_s": c.achieved_rate_per_s,
                "pool_waits": c.pool_waits,
                "pool_wait_max_ms": c.pool_wait_max_ms,
            }
            for name, c in result.targets.items()
        },
    }
