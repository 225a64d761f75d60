"""A Locust worker of a replay: ``python -m harness.replay.remote --master-host H``.

Started by ``harness worker`` on another machine, or by :func:`harness.replay.launch.start_master`
for ``--processes N`` on this one (``--part-dir``: write the part files there and send their
paths instead of their bytes). It connects a Locust ``WorkerRunner`` to the master, waits for
its shard, loads it (in a thread: Locust's heartbeats go on meanwhile), lets Locust spawn its
:class:`~harness.replay.user.ReplayUser`, which replays the shard from the shared t0; it sends
aggregated progress once a second, Locust's stats every few seconds and a last time before its
rows, which go to the master in one message at the end. The capture must be readable here: at
the path the master gives, or ``--capture``.
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


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    from harness.replay import locustenv

    parser = argparse.ArgumentParser(prog="python -m harness.replay.remote")
    parser.add_argument("--master-host", required=True)
    parser.add_argument("--master-port", type=int, default=5557)
    parser.add_argument("--capture", type=Path, default=None)
    parser.add_argument("--wait", type=float, default=300.0)
    parser.add_argument("--part-dir", type=Path, default=None)
    locustenv.add_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one replay for the master; exit 0 when the part was sent, 1 on error."""
    args = _parse(argv)
    from harness.replay.priority import raise_priority

    raised = raise_priority()
    from gevent import monkey

    monkey.patch_all()
    import signal

    import gevent

    from harness.errors import HarnessError
    from harness.replay import locustenv
    from harness.replay.user import replay_user_class

    user = replay_user_class(None)
    try:
        env = locustenv.environment([user], locustenv.settings_from(args))
        runner = env.create_worker_runner(args.master_host, args.master_port)
    except HarnessError as exc:
        print(f"harness worker: {exc}", file=sys.stderr)
        return 1
    except ConnectionError:
        print(
            f"harness worker: no master at {args.master_host}:{args.master_port}", file=sys.stderr
        )
        return 1
    locustenv.fire_init(env)
    scratch = None if args.part_dir else Path(tempfile.mkdtemp(prefix="harness-worker-"))
    parts = Path(args.part_dir) if args.part_dir else scratch
    assert parts is not None
    worker = _Worker(args, runner, user, parts)
    worker.priority_raised = raised
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, worker.stop)
    try:
        return worker.serve()
    finally:
        if scratch is not None:
            for path in scratch.glob("*"):
                path.unlink()
            scratch.rmdir()


class _Worker:
    """The worker's side of the replay protocol (:mod:`harness.replay.spec`)."""

    def __init__(self, args: argparse.Namespace, runner: Any, user: Any, parts: Path) -> None:
        import gevent.event

        from harness.replay import spec as protocol

        self.args = args
        self.runner = runner
        self.user = user
        self.parts = parts
        self.done = gevent.event.Event()
        self.outcome: list[int] = []
        self.runs: list[Any] = []
        self.assigned = False
        self.stopped = False
        self.priority_raised = False
        runner.register_message(protocol.MSG_ASSIGN, self._on_assign)
        runner.register_message(protocol.MSG_START, self._on_start)
        runner.register_message(protocol.MSG_STOP, self._on_stop)

    def _report(self, kind: str, **data: Any) -> None:
        from harness.replay import spec as protocol

        if kind == "progress":
            self.runner.send_message(protocol.MSG_PROGRESS, data)
        elif kind == "ready":
            self.runner.send_message(protocol.MSG_READY, data)

    def _on_assign(self, environment: Any, msg: Any, **_: Any) -> None:
        import gevent

        from harness.replay import spec as protocol

        self.assigned = True
        worker = int(msg.data["worker"])
        spec = protocol.ShardSpec.from_dict(msg.data["spec"])
        spec = replace(spec, part=str(self.parts / f"part-{worker}.parquet"))
        if self.args.capture is not None:
            spec = replace(spec, capture=str(self.args.capture))
        gevent.spawn(self._serve_shard, worker, spec)

    def _on_start(self, environment: Any, msg: Any, **_: Any) -> None:
        for run in self.runs:
            run.set_t0(int(msg.data["t0_ns"]))

    def _on_stop(self, environment: Any, msg: Any, **_: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopped = True
        for run in self.runs:
            run.stop()
        if not self.assigned:
            self.done.set()

    def _serve_shard(self, worker: int, spec: Any) -> None:
        import gevent

        from harness.errors import HarnessError
        from harness.replay import spec as protocol
        from harness.replay.dispatch import ShardRun
        from harness.replay.shard import load_shard

        runner = self.runner
        try:
            shard = gevent.get_hub().threadpool.apply(load_shard, (spec,))
            run = ShardRun(spec, shard, self._report, worker, runner.environment.events.request)
            run.priority_raised = self.priority_raised
            self.user.shard = run
            self.runs.append(run)
            if self.stopped:
                run.stop()
            run.get_ready()
            if not run.wait_claimed(grace_s=max(10.0, self.args.wait)):
                raise RuntimeError("Locust did not start the replay user")
            run.finished.wait()
            if run.error is not None:
                raise run.error
            runner.user_greenlets.join(timeout=5.0)
            runner._send_stats()  # Locust's last stats reach the master before the rows
            summary = dict(run.summary or {})
            message: dict[str, Any] = {"summary": summary}
            if self.args.part_dir is None:  # remote: the master has no access to our files
                message["part_bytes"] = Path(spec.part).read_bytes()
                if summary.get("responses"):
                    message["responses_bytes"] = Path(spec.responses_part).read_bytes()
            runner.send_message(protocol.MSG_PART, message)
            self.outcome.append(0)
        except HarnessError as exc:
            runner.send_message(protocol.MSG_ERROR, {"worker": worker, "message": str(exc)})
            self.outcome.append(1)
        except Exception as exc:
            last = traceback.format_exception_only(exc)[-1].strip()
            message = {"worker": worker, "message": f"worker {worker} crashed: {last}"}
            runner.send_message(protocol.MSG_ERROR, message)
            self.outcome.append(1)
        finally:
            self.done.set()

    def _greet(self) -> None:
        """Say hello to the master until it assigns a shard (or the worker stops)."""
        import gevent

        from harness.replay import spec as protocol

        while not (self.assigned or self.stopped or self.done.is_set()):
            self.runner.send_message(protocol.MSG_HELLO, {})
            gevent.sleep(protocol.HELLO_EVERY_S)

    def serve(self) -> int:
        import gevent

        # the handlers above are registered: the master may assign a shard now
        greeter = gevent.spawn(self._greet)
        try:
            return self._serve()
        finally:
            greeter.kill(block=False)

    def _serve(self) -> int:
        if not self.done.wait(timeout=self.args.wait) and not self.assigned:
            print(f"harness worker: no assignment within {self.args.wait:g}s", file=sys.stderr)
            return 1
        self.done.wait()
        # the master answers the last part with "quit"; do not wait for it forever
        self.runner.greenlet.join(timeout=10)
        return self.outcome[0] if self.outcome else 1


def _crashed(exc: BaseException, path: Path | None) -> None:
    from harness.crashes import message_for, one_line

    line = message_for(one_line(exc), str(path) if path else None, "the remote worker")
    print(f"harness: error: {line}", file=sys.stderr)


if __name__ == "__main__":
    from harness.crashes import guarded_main

    sys.exit(guarded_main(main, where="remote worker", on_crash=_crashed))
