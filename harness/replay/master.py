"""The distributed mode's master: ``python -m harness.replay.master SPEC.json ...``.

Started by :func:`harness.replay.engine.replay` when ``options.master`` is set. It runs a Locust
``MasterRunner``, waits for the expected workers (``harness worker --master-host ...``), fixes t0,
gives each worker its shard by a custom message, forwards their once-a-second progress as lines
on stdout, and writes the part file each worker sends once at the end (one bulk message, so no
shared filesystem is needed) into ``--parts``. Nothing per request travels over Locust's messaging.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any


def _report(kind: str, **data: Any) -> None:
    from harness.replay.spec import encode_line

    sys.stdout.write(encode_line(kind, **data) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the master until every worker has sent its part (or on error); exit 0 or 1."""
    parser = argparse.ArgumentParser(prog="python -m harness.replay.master")
    parser.add_argument("spec", type=Path)
    parser.add_argument("--bind-host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5557)
    parser.add_argument("--expect-workers", type=int, default=1)
    parser.add_argument("--wait", type=float, default=60.0)
    parser.add_argument("--start-delay", type=float, default=2.0)
    parser.add_argument("--parts", type=Path, required=True)
    parser.add_argument("--t0-ns", type=int, default=None)
    args = parser.parse_args(argv)

    from gevent import monkey

    monkey.patch_all()
    import gevent
    from locust.env import Environment

    from harness.replay import spec as protocol

    template = protocol.ShardSpec.load(args.spec)
    expected = args.expect_workers
    env = Environment(user_classes=[])
    runner = env.create_master_runner(args.bind_host, args.port)
    finished: dict[int, bool] = {}
    ready: set[int] = set()
    errors: list[str] = []

    def on_ready(environment: Any, msg: Any, **_: Any) -> None:
        ready.add(int(msg.data["worker"]))

    def on_progress(environment: Any, msg: Any, **_: Any) -> None:
        _report("progress", **msg.data)

    def on_part(environment: Any, msg: Any, **_: Any) -> None:
        summary = dict(msg.data["summary"])
        worker = int(summary["worker"])
        path = args.parts / f"part-{worker}.parquet"
        path.write_bytes(msg.data["part"])
        summary["part"] = str(path)
        _report("summary", **summary)
        finished[worker] = True

    def on_error(environment: Any, msg: Any, **_: Any) -> None:
        errors.append(str(msg.data["message"]))
        _report("error", **msg.data)

    runner.register_message(protocol.MSG_READY, on_ready)
    runner.register_message(protocol.MSG_PROGRESS, on_progress)
    runner.register_message(protocol.MSG_PART, on_part)
    runner.register_message(protocol.MSG_ERROR, on_error)
    stopping: list[bool] = []

    def stop() -> None:
        stopping.append(True)
        runner.send_message(protocol.MSG_STOP, {})

    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop)

    try:
        give_up = time.monotonic() + args.wait
        while len(runner.clients.ready) < expected:
            if time.monotonic() > give_up or stopping:
                _report(
                    "error",
                    message=f"only {len(runner.clients.ready)} of {expected} workers connected to "
                    f"the master on {args.bind_host}:{args.port} within {args.wait:g}s",
                )
                return 1
            gevent.sleep(0.1)
        workers = sorted(c.id for c in runner.clients.ready)[:expected]
        assigned = time.time_ns()
        for k, client_id in enumerate(workers):
            # t0 0: the worker loads its shard, reports ready and waits for the start message
            spec = replace(template, shard=k, shards=expected, t0_ns=args.t0_ns or 0, part="")
            runner.send_message(
                protocol.MSG_ASSIGN, {"worker": k, "spec": asdict(spec)}, client_id=client_id
            )
        t0 = args.t0_ns
        if t0 is None:
            give_up = time.monotonic() + args.wait
            while len(ready) < expected:
                if errors or stopping or time.monotonic() > give_up or _gone(runner, workers):
                    if not errors:
                        _report("error", message=f"only {len(ready)} of {expected} workers "
                                f"got ready within {args.wait:g}s")  # fmt: skip
                    return 1
                gevent.sleep(0.02)
            t0 = max(time.time_ns() + 200_000_000, assigned + int(args.start_delay * 1e9))
            runner.send_message(protocol.MSG_START, {"t0_ns": t0})
        _report("t0", t0_ns=t0)
        while len(finished) < expected and not errors:
            gone = _gone(runner, workers)
            if gone:
                _report("error", message=f"worker {gone[0]} disconnected before sending its rows")
                return 1
            gevent.sleep(0.2)
        return 1 if errors else 0
    finally:
        runner.quit()


def _gone(runner: Any, workers: list[str]) -> list[str]:
    """Workers that quit or stopped answering heartbeats."""
    from locust.runners import STATE_MISSING

    return [
        w for w in workers if w not in runner.clients or runner.clients[w].state == STATE_MISSING
    ]


if __name__ == "__main__":
    sys.exit(main())
