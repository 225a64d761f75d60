"""A remote worker of the distributed mode: ``python -m harness.replay.remote --master-host H``.

Started by ``harness worker``. It connects a Locust ``WorkerRunner`` to the master, waits for its
shard assignment, replays the shard exactly like a local worker (:mod:`harness.replay.dispatch`),
sends aggregated progress once a second, and at the end sends its part file to the master in one
bulk message. The capture must be readable here: at the path the master gives, or ``--capture``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one replay for the master; exit 0 when the part was sent, 1 on error."""
    parser = argparse.ArgumentParser(prog="python -m harness.replay.remote")
    parser.add_argument("--master-host", required=True)
    parser.add_argument("--master-port", type=int, default=5557)
    parser.add_argument("--capture", type=Path, default=None)
    parser.add_argument("--wait", type=float, default=300.0)
    args = parser.parse_args(argv)

    from gevent import monkey

    monkey.patch_all()
    import signal

    import gevent
    import gevent.event
    from locust.env import Environment

    from harness.errors import HarnessError
    from harness.replay import spec as protocol
    from harness.replay.dispatch import ShardRun

    env = Environment(user_classes=[])
    try:
        runner = env.create_worker_runner(args.master_host, args.master_port)
    except ConnectionError:
        print(
            f"harness worker: no master at {args.master_host}:{args.master_port}", file=sys.stderr
        )
        return 1
    done = gevent.event.Event()
    outcome: list[int] = []
    runs: list[ShardRun] = []
    scratch = Path(tempfile.mkdtemp(prefix="harness-worker-"))

    start = gevent.event.AsyncResult()

    def report(kind: str, **data: Any) -> None:
        if kind == "progress":
            runner.send_message(protocol.MSG_PROGRESS, data)
        elif kind == "ready":
            runner.send_message(protocol.MSG_READY, data)

    def serve(worker: int, spec: protocol.ShardSpec) -> None:
        try:
            run = ShardRun(spec, report, worker)
            runs.append(run)
            run.get_ready()
            if spec.t0_ns == 0:
                t0 = start.get(timeout=args.wait)  # the master starts everyone on one t0
                if t0 is None:
                    return  # stopped before the start
                run.set_t0(t0)
            summary = run.run()
            part = Path(spec.part).read_bytes()
            runner.send_message(protocol.MSG_PART, {"summary": summary, "part": part})
            outcome.append(0)
        except HarnessError as exc:
            runner.send_message(protocol.MSG_ERROR, {"worker": worker, "message": str(exc)})
            outcome.append(1)
        except Exception as exc:
            last = traceback.format_exception_only(exc)[-1].strip()
            message = f"remote worker {worker} crashed: {last}"
            runner.send_message(protocol.MSG_ERROR, {"worker": worker, "message": message})
            outcome.append(1)
        finally:
            done.set()

    def on_assign(environment: Any, msg: Any, **_: Any) -> None:
        worker = int(msg.data["worker"])
        spec = protocol.ShardSpec.from_dict(msg.data["spec"])
        spec = replace(spec, part=str(scratch / f"part-{worker}.parquet"))
        if args.capture is not None:
            spec = replace(spec, capture=str(args.capture))
        gevent.spawn(serve, worker, spec)

    def on_start(environment: Any, msg: Any, **_: Any) -> None:
        start.set(int(msg.data["t0_ns"]))

    def on_stop(environment: Any, msg: Any, **_: Any) -> None:
        for run in runs:
            run.stop()
        if not start.ready():
            start.set(None)

    def on_signal() -> None:
        on_stop(None, None)
        if not runs:
            done.set()

    runner.register_message(protocol.MSG_ASSIGN, on_assign)
    runner.register_message(protocol.MSG_START, on_start)
    runner.register_message(protocol.MSG_STOP, on_stop)
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, on_signal)
    try:
        if not done.wait(timeout=args.wait) and not runs:
            print(f"harness worker: no assignment within {args.wait:g}s", file=sys.stderr)
            return 1
        done.wait()
        # the master answers the last part with "quit"; do not wait for it forever
        runner.greenlet.join(timeout=10)
        return outcome[0] if outcome else 1
    finally:
        for path in scratch.glob("*"):
            path.unlink()
        scratch.rmdir()


if __name__ == "__main__":
    sys.exit(main())
