"""One worker's replay of its shard: a dispatcher greenlet that sends each request on time.

Runs only in worker processes, after ``gevent.monkey.patch_all()``, inside the Locust user of
:mod:`harness.replay.user`. The dispatcher sleeps until ``t0 + due`` (waking at most once per
:data:`~harness.replay.timeline.WAKE_EVERY_NS`: a request due sooner after the last wake leaves
at the next one, up to 0.25 ms late, counted in its lag) and hands each request and
target to a sender greenlet (:mod:`harness.replay.senders`: reused from request to request, a new
one whenever none is idle); it never waits for a response before sending the next request (open
workload). Each target has its own connection pool in the user's ``FastHttpSession``
(:class:`~harness.replay.connections.ReplaySession`), sized so it does not bind on the captured
traffic (:mod:`harness.replay.shard`); a send that still had to wait for a connection is late by
that wait, and its row says so (``queue_ms``).

In session order, a request that awaits replies of its session is handed at its scheduled time
to the worker's :class:`~harness.replay.timeline.SessionTimeline`, and the same dispatcher loop
spawns its greenlet when the timeline releases it (replies in, think time over): one timer for
the whole shard, no greenlet sleeping per waiting request.

Per request and target: build the outgoing request (hooks), send it (Locust's ``request`` event
fires), hand the answer to the hooks, write the row (and the kept response), then let the
requests awaiting this reply go. See :mod:`harness.replay.exchange` for the hooks.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import gevent.threadpool
import pyarrow as pa

from harness.replay.connections import ReplaySession
from harness.replay.exchange import (
    Answer,
    Outgoing,
    ReplayRequest,
    ReplyBoard,
    RequestHooks,
    hooks_for,
)
from harness.replay.locations import location_of
from harness.replay.priority import lower_this_thread
from harness.replay.results import BATCH_ROWS, PartWriter, ResponseBuffer, RowBuffer
from harness.replay.senders import Senders
from harness.replay.shard import Shard
from harness.replay.spec import ShardSpec
from harness.replay.timeline import SessionTimeline, Slot, next_wake
from harness.rundir import RESPONSES_SCHEMA

Report = Callable[..., None]
"""``report(kind, **data)``: sends one protocol line (see :mod:`harness.replay.spec`)."""

#: when the dispatcher is behind, it yields to the senders after this many spawns
_BURST = 16

#: the collector's first threshold while a worker sends (Python's default is 700): replies, rows
#: and greenlet frames come and go by the thousand each second; at 6,000 req/s a young collection
#: every 700 of them ran 627 times in 10 s for 1 % of the worker's CPU, at 10,000 none ran in 10 s
#: at 8,000 req/s (objects are freed by their reference counts; the collector only finds cycles)
_GC_YOUNG = 10_000

#: rows (in multiples of ``flush_rows``) that may wait for a part-file write still under way
#: before the dispatcher waits for it
_PENDING_FLUSHES = 4


def stats_names(spec: ShardSpec, route: str | None) -> list[str]:
    """Locust stats names of a route, one per target: the route template, prefixed with the
    target's name when the replay has several targets (so the builds keep their own rows)."""
    label = route or "(no route)"
    if len(spec.targets) == 1:
        return [label]
    return [f"{t.name} {label}" for t in spec.targets]


class ShardRun:
    """Replays one shard of the capture to every target on the shared clock.

    ``request_event`` is the Locust environment's ``events.request``; the user that runs the
    shard (:class:`~harness.replay.user.ReplayUser`) takes :attr:`session` as its ``client``.
    """

    def __init__(
        self,
        spec: ShardSpec,
        shard: Shard,
        report: Report,
        worker: int,
        request_event: Any,
        *,
        hooks: RequestHooks | None = None,
    ) -> None:
        self.spec = spec
        self.shard = shard
        self.report = report
        self.worker = worker
        self.hooks = hooks if hooks is not None else hooks_for(spec)
        self.schedule = shard.schedule
        self.names = [t.name for t in spec.targets]
        self.session = ReplaySession(
            request_event, [t.url for t in spec.targets], shard.connections, spec.timeout_s
        )
        self.board = ReplyBoard()
        self._wake = gevent.event.Event()
        self.timeline = SessionTimeline(self._release, self._wake.set)
        self.buffer = RowBuffer()
        self.writer = PartWriter(Path(spec.part))
        self.responses: ResponseBuffer | None = None
        self.response_writer: PartWriter | None = None
        if spec.keep_response_bytes > 0:
            self.responses = ResponseBuffer(spec.keep_response_bytes)
            self.response_writer = PartWriter(Path(spec.responses_part), RESPONSES_SCHEMA)
        self.senders = Senders()
        self.finished = gevent.event.Event()
        self.error: BaseException | None = None
        self.summary: dict[str, Any] | None = None
        #: whether this worker process runs at a raised CPU priority (harness.replay.priority)
        self.priority_raised = False
        self._claimed = gevent.event.Event()
        # counters per target for progress lines
        self.sent = [0] * len(self.names)
        self.done = [0] * len(self.names)
        self.errors = [0] * len(self.names)
        self.queued = [0] * len(self.names)
        self.lags: list[list[int]] = [[] for _ in self.names]
        self._stopped = False
        self._dispatcher: gevent.Greenlet | None = None
        self._flush: Any = None
        self._writer: gevent.threadpool.ThreadPool | None = None
        self._gc_threshold: tuple[int, ...] | None = None
        self._batches: list[pa.RecordBatch] = []
        self._response_batches: list[pa.RecordBatch] = []
        self._batched = 0
        self._batch_rows = min(BATCH_ROWS, spec.flush_rows)
        self._busy_since: tuple[float, float] | None = None
        self._last = (time.process_time(), time.monotonic())
        routes = {req.route for req in shard.requests.values()}
        self.stats_names = {route: stats_names(spec, route) for route in routes}
        self._t0_known = gevent.event.Event()
        self.t0_mono = 0
        if spec.t0_ns:
            self.set_t0(spec.t0_ns)

    # -- before t0 --------------------------------------------------------------------------

    def get_ready(self) -> None:
        """Open a few connections per target and report ``ready``; call before t0."""
        if len(self.schedule):
            self.session.warm_up()
            self._writer_thread()
        # the prepared requests live for the whole run: keep the collector from rescanning them
        gc.collect()
        gc.freeze()
        if self._gc_threshold is None:
            self._gc_threshold = gc.get_threshold()
            gc.set_threshold(max(_GC_YOUNG, self._gc_threshold[0]), *self._gc_threshold[1:])
        # the part-file thread then holds the GIL for short slices only, not the default 5 ms
        sys.setswitchinterval(0.0005)
        self.report("ready", worker=self.worker, requests=len(self.schedule))

    def claim(self) -> bool:
        """Called by the user that will run the shard: False when another user has it."""
        if self._claimed.is_set():
            return False
        self._claimed.set()
        return True

    def wait_claimed(self, grace_s: float = 10.0) -> bool:
        """Wait until a user claimed the shard (at most until ``grace_s`` past t0)."""
        self._t0_known.wait()
        late = (time.monotonic_ns() - self.t0_mono) / 1e9 if not self._stopped else 0.0
        return bool(self._claimed.wait(max(0.0, grace_s - late)))

    def set_t0(self, t0_ns: int) -> None:
        """Fix the shared start (epoch ns); :meth:`run` waits for it."""
        # the shared t0 is epoch ns; convert once and use the monotonic clock from then on
        self.t0_mono = t0_ns - (time.time_ns() - time.monotonic_ns())
        self._t0_known.set()

    # -- running ----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Replay the whole shard (or until :meth:`stop`); returns the summary line's data.

        Called once, from the replay user's task; :attr:`finished` is set when it returns or
        fails (then :attr:`error` holds why).
        """
        try:
            self._t0_known.wait()
            self.summary = self._run()
            if self.error is not None:  # a sending greenlet failed on a bug
                raise self.error
            return self.summary
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self.finished.set()

    def _run(self) -> dict[str, Any]:
        late_ms = (time.monotonic_ns() - self.t0_mono) / 1e6
        ticker = gevent.spawn(self._tick)
        if not self._stopped:
            self._dispatcher = gevent.spawn(self._dispatch)
            self._dispatcher.join()
        # CPU over the sending period only (from the first due request to the last)
        end_cpu, end_wall = time.process_time(), time.monotonic()
        start_cpu, start_wall = self._busy_since or (end_cpu, end_wall)
        wall = end_wall - start_wall
        cpu_ratio = (end_cpu - start_cpu) / wall if wall > 0.5 else 0.0
        self.senders.join(timeout=self.spec.timeout_s + 2.0)
        self.senders.kill(block=True, timeout=2.0)
        ticker.kill(block=True)
        self._tick_once()
        self._flush_rows(final=True)
        self.session.close()
        if self._gc_threshold is not None:  # a remote worker process may replay again
            gc.set_threshold(*self._gc_threshold)
            self._gc_threshold = None
        return {
            "worker": self.worker,
            "part": str(self.writer.path),
            "rows": self.writer.rows,
            "responses": str(self.response_writer.path) if self.response_writer else None,
            "cpu_ratio": cpu_ratio,
            "stopped": self._stopped,
            "late_ms": late_ms,
            "connections": self.shard.connections,
            "peak_in_flight": self.shard.peak_in_flight,
            "session_state": self.hooks.summary(),
            "priority_raised": self.priority_raised,
        }

    def stop(self) -> None:
        """Stop sending; requests in flight finish (bounded by the timeout)."""
        self._stopped = True
        if self._dispatcher is not None:
            self._dispatcher.kill(block=False)
        self._t0_known.set()  # stopped before the start: run() returns at once
        if self.claim():  # no user runs the shard yet: write its (empty) part all the same
            gevent.spawn(self.run)

    def _dispatch(self) -> None:
        if self.hooks.ordered:
            self._dispatch_ordered()
            return
        loop = gevent.get_hub().loop
        dues = self.schedule.due_ns.tolist()
        rows = self.schedule.rows.tolist()
        t0 = self.t0_mono
        spawn = self.senders.spawn
        requests = self.shard.requests
        targets = range(len(self.names))
        names = self.stats_names
        burst, woke = 0, 0
        for due, row in zip(dues, rows, strict=True):
            at = t0 + due
            rem = at - time.monotonic_ns()
            if rem > 0:
                burst = 0
                at = woke = next_wake(at, woke)
                rem = at - time.monotonic_ns()
                while rem > 0:
                    # libev timers count from the loop's cached time: refresh it first
                    loop.update_now()
                    gevent.sleep(rem / 1e9)
                    rem = at - time.monotonic_ns()
            else:
                burst += 1
                if burst % _BURST == 0:
                    gevent.sleep(0)
            if self._stopped:
                return
            if self._busy_since is None:
                self._busy_since = (time.process_time(), time.monotonic())
            request = requests[row]
            names_of = names[request.route]
            for k in targets:
                spawn(self._send, k, request, due, names_of[k], 0, None)
            if self.buffer.count >= self._batch_rows:
                self._take_batches()
                if self._batched >= self.spec.flush_rows:
                    self._flush_rows()

    def _dispatch_ordered(self) -> None:
        """Session order: the schedule and the :class:`SessionTimeline` of the requests that
        wait for replies, on one loop (one timer; no greenlet before a request may leave)."""
        loop = gevent.get_hub().loop
        dues = self.schedule.due_ns.tolist()
        rows = self.schedule.rows.tolist()
        t0 = self.t0_mono
        spawn = self.senders.spawn
        requests = self.shard.requests
        hooks, board, timeline = self.hooks, self.board, self.timeline
        timeout_ns = int(self.spec.timeout_s * 1e9)
        targets = range(len(self.names))
        names = self.stats_names
        wake = self._wake
        i, count, burst, woke = 0, len(dues), 0, 0
        while i < count or timeline.waiting:
            now = time.monotonic_ns()
            timeline.release_due(now)
            at = t0 + dues[i] if i < count else None
            if at is None or at > now:
                burst = 0
                nxt = timeline.next_at()
                until = at if nxt is None or (at is not None and at < nxt) else nxt
                if until is None:  # nothing waits: cannot happen while requests wait
                    break
                if until > now:
                    until = next_wake(until, woke)
                    # libev timers count from the loop's cached time: refresh it first; a reply
                    # that lets a request leave before ``until`` wakes the loop early
                    wake.clear()
                    loop.update_now()
                    wake.wait((until - now) / 1e9)
                    woke = time.monotonic_ns()
                if self._stopped:
                    return
                continue
            burst += 1
            if burst % _BURST == 0:
                gevent.sleep(0)
                if self._stopped:
                    return
            if self._busy_since is None:
                self._busy_since = (time.process_time(), time.monotonic())
            due, request = dues[i], requests[rows[i]]
            i += 1
            names_of = names[request.route]
            # slots are taken and posted here, in schedule order: a request finds the replies
            # of the occurrences it follows, also when a looped capture repeats them
            wanted = hooks.awaits(request)
            posted = hooks.awaited(request)
            for k in targets:
                mine = board.post(k, request.idx) if posted else None
                if wanted is None:
                    spawn(self._send, k, request, due, names_of[k], 0, mine)
                    continue
                payload = (k, request, due, names_of[k], mine)
                slots = board.slots(k, wanted.idxs)
                timeline.arrive(
                    t0 + due,
                    wanted.think_ns,
                    slots,
                    timeout_ns=timeout_ns,
                    now_ns=now,
                    payload=payload,
                )
            if self.buffer.count >= self._batch_rows:
                self._take_batches()
                if self._batched >= self.spec.flush_rows:
                    self._flush_rows()

    def _release(
        self, payload: tuple[int, ReplayRequest, int, str, Slot | None], go_ns: int, wait_ns: int
    ) -> None:
        """The timeline lets a waiting request leave (its send lag counts from ``go_ns``)."""
        del go_ns
        k, request, due, name, mine = payload
        self.senders.spawn(self._send, k, request, due, name, wait_ns, mine)

    def _send(  # noqa: PLR0917 - spawned once per request and target: positional on purpose
        self, k: int, request: ReplayRequest, due: int, name: str, wait_ns: int, mine: Slot | None
    ) -> None:
        end_ns: int | None = None
        try:
            self.sent[k] += 1
            send = functools.partial(self._extra, k, request)
            out = self.hooks.outgoing(k, request, send)
            context = {"target": self.names[k], "idx": request.idx, "session": request.session}
            answer = self.session.replay(k, out, name, context)
            end_ns = answer.end_ns
            if answer.location_route is None:
                answer.location_route = self._location_route(answer, out.path)
            self.hooks.answered(k, request, out, answer)
            self._record(k, request, due, wait_ns, out, answer)
        except Exception as exc:  # a bug (the send itself never raises): the worker fails loudly
            if self.error is None:
                self.error = exc
            self.stop()
        finally:
            if mine is not None:  # the requests awaiting this reply may go (also on failure)
                now = time.monotonic_ns()
                # from the reply's last byte: reading it for the next request is send lag
                self.timeline.replied(mine, end_ns if end_ns is not None else now, now)

    def _extra(self, k: int, request: ReplayRequest, out: Outgoing, name: str) -> Answer:
        """An exchange a hook needs before the request (a login): no row, a Locust event."""
        context = {"target": self.names[k], "idx": request.idx, "extra": True}
        return self.session.replay(k, out, name, context)

    def _record(  # noqa: PLR0917 - once per request and target: positional on purpose
        self, k: int, request: ReplayRequest, due: int, wait_ns: int, out: Outgoing, answer: Answer
    ) -> None:
        t0 = self.t0_mono
        body = answer.body
        self.buffer.append(
            self.names[k],
            request.idx,
            request.route,
            request.method,
            due,
            answer.sent_ns - t0,
            answer.end_ns - t0,
            answer.status,
            answer.error,
            len(body),
            hashlib.sha256(body).hexdigest() if answer.error == "none" else None,
            session=request.session,
            wait_ms=wait_ns / 1e6,
            queue_ms=answer.queue_ns / 1e6,
            connect_ms=answer.connect_ns / 1e6,
            link=out.link,
            orig_status=request.orig_status,
            orig_location_route=request.orig_location_route,
            location_route=answer.location_route,
        )
        if self.responses is not None:
            self.responses.append(
                self.names[k], request.idx, due, answer.status, answer.headers, body
            )
        self.done[k] += 1
        if answer.error != "none":
            self.errors[k] += 1
        if answer.queue_ns > 1_000_000:
            self.queued[k] += 1
        self.lags[k].append(answer.sent_ns - t0 - due - wait_ns)

    def _location_route(self, answer: Answer, path: str) -> str | None:
        """The route of a redirect's ``Location`` (the fidelity check compares it)."""
        location = location_of(answer.status, answer.headers)
        return self.shard.locations.route(location, path) if location is not None else None

    # -- writing ----------------------------------------------------------------------------

    def _take_batches(self) -> None:
        self._batches.append(self.buffer.take())
        self._batched += self._batches[-1].num_rows
        if self.responses is not None and self.responses.count:
            self._response_batches.append(self.responses.take())

    def _flush_rows(self, final: bool = False) -> None:
        """Hand the rows taken so far to the part-file writer (``final``: write them here, wait
        for the writer, close the part files).

        Parquet encoding runs in a thread of its own (it releases the GIL) at a lower priority
        (:func:`~harness.replay.priority.lower_this_thread`), so on a shared core it takes the
        loop's idle time, not its time slices. While a write is still under way the rows wait
        for the next flush, up to :data:`_PENDING_FLUSHES` times ``flush_rows`` of them: only
        then does the dispatcher wait for the writer.
        """
        if self._flush is not None:
            backlog = self._batched >= _PENDING_FLUSHES * self.spec.flush_rows
            if not (final or backlog or self._flush.ready()):
                return
            self._flush.get()
            self._flush = None
        if self.buffer.count:
            self._batches.append(self.buffer.take())
        if self.responses is not None and self.responses.count:
            self._response_batches.append(self.responses.take())
        batches, self._batches, self._batched = self._batches, [], 0
        kept, self._response_batches = self._response_batches, []

        def write() -> None:
            self.writer.write(batches)
            if self.response_writer is not None:
                self.response_writer.write(kept)

        if final:
            write()
            self.writer.close()
            if self.response_writer is not None:
                self.response_writer.close()
            if self._writer is not None:
                self._writer.kill()
                self._writer = None
            return
        self._flush = self._writer_thread().spawn(write)

    def _writer_thread(self) -> gevent.threadpool.ThreadPool:
        """The part-file writer's thread (started before t0 by :meth:`get_ready`)."""
        if self._writer is None:
            self._writer = gevent.threadpool.ThreadPool(1)
            self._writer.apply(lower_this_thread)
        return self._writer

    # -- progress ---------------------------------------------------------------------------

    def _tick(self) -> None:
        parent = os.getppid()
        while True:
            gevent.sleep(1.0)
            self._tick_once()
            if os.getppid() != parent:  # orphaned: the orchestrator died, stop sending
                self.stop()

    def _tick_once(self) -> None:
        now_cpu, now_wall = time.process_time(), time.monotonic()
        last_cpu, last_wall = self._last
        self._last = (now_cpu, now_wall)
        p99 = {}
        for name, lags in zip(self.names, self.lags, strict=True):
            ordered = sorted(lags)
            p99[name] = ordered[int(0.99 * (len(ordered) - 1))] / 1e6 if ordered else 0.0
        self.lags = [[] for _ in self.names]
        self.report(
            "progress",
            worker=self.worker,
            sent=dict(zip(self.names, self.sent, strict=True)),
            done=dict(zip(self.names, self.done, strict=True)),
            errors=dict(zip(self.names, self.errors, strict=True)),
            queued=dict(zip(self.names, self.queued, strict=True)),
            lag_p99_ms=p99,
            cpu=(now_cpu - last_cpu) / max(1e-3, now_wall - last_wall),
        )
