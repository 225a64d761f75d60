"""Replay a capture to one or more targets on the captured schedule: :func:`replay`.

The orchestrating process plans, fixes the shared t0, starts worker processes (or a Locust master
that hands shards to remote workers), shows their progress, stops them on request, merges their
part files into ``requests.parquet`` and writes ``manifest.json``. It never imports gevent.
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
from harness.replay.manifest import read_manifest, replay_manifest, update_manifest
from harness.replay.model import ReplayOptions, ReplayProgress, ReplayResult, ReplayTarget
from harness.replay.plan import PLAN_COLUMNS, original_hosts, plan_replay, read_capture
from harness.replay.processes import WorkerGroup
from harness.replay.rebuild import check_target_url
from harness.replay.results import lag_quantiles, merge_parts
from harness.replay.spec import ShardSpec, TargetSpec
from harness.replay.validity import judge, target_counts
from harness.rundir import RunDir

#: extra time, past the schedule and the request timeout, before workers are declared hung
_GRACE_S = 30.0
#: how long workers may take to load the capture and open connections
_READY_TIMEOUT_S = 120.0
#: t0 is at least this far after the last worker reported ready
_READY_MARGIN_NS = 200_000_000


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
    table = read_capture(capture, PLAN_COLUMNS)
    sessions = pc.count_distinct(table.column("session"), mode="all").as_py()
    if options.master is not None:
        shards = options.master.expect_workers
    else:
        shards = max(1, min(options.process_count, sessions))
    plan = plan_replay(table, shards, options.speed, options.duration_s, options.loop)
    del table
    rundir = RunDir(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    work = run_dir / ".replay"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()

    template = ShardSpec(
        capture=str(capture.resolve()),
        shard=0,
        shards=shards,
        targets=[TargetSpec(t.name, t.url, dict(t.headers)) for t in targets],
        t0_ns=0,
        part="",
        speed=options.speed,
        duration_s=options.duration_s,
        loop=options.loop,
        timeout_s=options.timeout_s,
        pool_latency_s=options.pool_latency_s or options.timeout_s,
        flush_rows=options.flush_rows,
    )
    group = WorkerGroup([t.name for t in targets], plan.total)
    manifest_t0 = t0_ns or 0
    stopped = False
    try:
        if options.master is None:
            t0_ns = _start_local(
                group, template, t0_ns, work, start_delay_s=options.start_delay_s, stop=stop
            )
            if t0_ns is None and not (stop is not None and stop.is_set()):
                group.close()
                failed = group.failures() or ["workers were not ready in time"]
                raise ReplayError(f"replay to {run_dir} did not start: {failed[0]}")
            if t0_ns is not None and on_t0 is not None:
                on_t0(t0_ns)
                on_t0 = None
            deadline_s = (t0_ns - time.time_ns()) / 1e9 if t0_ns is not None else 0.0
        else:
            _start_master(group, template, options, t0_ns, work)
            deadline_s = options.master.wait_s + options.start_delay_s
        deadline_s += plan.span_ns / 1e9 + options.timeout_s + _GRACE_S
        # stopped before the start: nothing was sent, the (empty) results are still written
        stopped = _watch(group, deadline_s, on_progress, on_t0, stop) or t0_ns is None
        manifest_t0 = t0_ns if t0_ns is not None else (group.t0_ns or 0)
    finally:
        group.close()
    failures = group.failures()
    summaries = group.summaries()
    parts = sorted(Path(s["part"]) for s in summaries.values())
    merged = merge_parts(parts, rundir.requests)
    result = _result(
        run_dir,
        merged,
        [t.name for t in targets],
        total=plan.total,
        span_ns=plan.span_ns,
        summaries=summaries,
        options=options,
        stopped=stopped,
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


def _start_local(
    group: WorkerGroup,
    template: ShardSpec,
    t0_ns: int | None,
    work: Path,
    *,
    start_delay_s: float,
    stop: threading.Event | None,
) -> int | None:
    """Start the local workers; returns t0. Unless the caller fixed t0, it is chosen once
    every worker is ready (capture loaded, connections open), and at least ``start_delay_s``
    after the start, so a slow start does not show up as send lag. ``None``: not ready."""
    from dataclasses import replace

    started = time.time_ns()
    for k in range(template.shards):
        spec = replace(template, shard=k, t0_ns=t0_ns or 0, part=str(work / f"part-{k}.parquet"))
        path = work / f"worker-{k}.json"
        path.write_text(spec.to_json())
        args = ["harness.replay.worker", str(path), "--worker", str(k)]
        group.start(f"worker {k}", args, work / f"worker-{k}.log", stdin=t0_ns is None)
    if t0_ns is not None:
        return t0_ns
    if not group.wait_ready(_READY_TIMEOUT_S, stop):
        group.send_t0(0)  # no start for anyone: the workers exit
        return None
    t0 = max(time.time_ns() + _READY_MARGIN_NS, started + int(start_delay_s * 1e9))
    group.send_t0(t0)
    return t0


def _start_master(
    group: WorkerGroup, template: ShardSpec, options: ReplayOptions, t0_ns: int | None, work: Path
) -> None:
    master = options.master
    assert master is not None
    path = work / "master.json"
    path.write_text(template.to_json())
    args = [
        "harness.replay.master",
        str(path),
        "--bind-host",
        master.bind_host,
        "--port",
        str(master.port),
        "--expect-workers",
        str(master.expect_workers),
        "--wait",
        str(master.wait_s),
        "--start-delay",
        str(options.start_delay_s),
        "--parts",
        str(work),
    ]
    if t0_ns is not None:
        args += ["--t0-ns", str(t0_ns)]
    group.start("master", args, work / "master.log")


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
) -> ReplayResult:
    p50, p99, lag_max = lag_quantiles(table)
    counts = target_counts(table, names, total)
    cpu = {k: float(str(s.get("cpu_ratio", 0.0))) for k, s in summaries.items()}
    valid, reasons = judge(p99, options.lag_bound_ms, cpu, options.cpu_bound, table.num_rows)
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
        valid=valid,
        reasons=reasons,
        interrupted=stopped,
        workers=len(summaries),
        cpu_ratio_max=max(cpu.values(), default=0.0),
    )


def _with_t0(result: ReplayResult, t0_ns: int) -> ReplayResult:
    from dataclasses import replace

    return replace(result, t0_ns=t0_ns)


def _validity_json(result: ReplayResult) -> dict[str, object]:
    return {"valid": result.valid, "reasons": result.reasons, "lag_p99_ms": result.lag_p99_ms}


def _replay_json(result: ReplayResult) -> dict[str, object]:
    return {
        "lag_p50_ms": result.lag_p50_ms,
        "lag_p99_ms": result.lag_p99_ms,
        "lag_max_ms": result.lag_max_ms,
        "scheduled_rate_per_s": result.scheduled_rate_per_s,
        "achieved_rate_per_s": result.achieved_rate_per_s,
        "workers": result.workers,
        "cpu_ratio_max": result.cpu_ratio_max,
        "targets": {
            name: {
                "scheduled": c.scheduled,
                "sent": c.sent,
                "answered": c.answered,
                "errors": c.errors,
                "achieved_rate_per_s": c.achieved_rate_per_s,
            }
            for name, c in result.targets.items()
        },
    }
