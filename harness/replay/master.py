"""The Locust master of a replay over several workers: ``python -m harness.replay.master SPEC``.

Started by :func:`harness.replay.launch.start_master`, for ``--processes N`` (its workers are
local processes) or ``--master`` (``harness worker`` processes join from other machines). It runs
a Locust ``MasterRunner``: waits for the expected workers, gives each its shard by a custom
message, spawns one :class:`~harness.replay.user.ReplayUser` per worker with Locust's own
dispatch, fixes t0 once every worker is ready, forwards their once-a-second progress as lines on
stdout, and collects each worker's part file at the end (the path when the worker is local, the
bytes in one bulk message otherwise: no shared filesystem needed). Locust's stats aggregate
here, so the web UI, ``--csv`` and ``--html`` belong to this process; Locust's heartbeats find
a worker that stopped answering.
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

#: a worker missing Locust's heartbeats this long is given up
_MISSING_S = 10.0


def _report(kind: str, **data: Any) -> None:
    from harness.replay.spec import encode_line

    sys.stdout.write(encode_line(kind, **data) + "\n")
    sys.stdout.flush()


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    from harness.replay import locustenv

    parser = argparse.ArgumentParser(prog="python -m harness.replay.master")
    parser.add_argument("spec", type=Path)
    parser.add_argument("--bind-host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5557)
    parser.add_argument("--expect-workers", type=int, default=1)
    parser.add_argument("--wait", type=float, default=60.0)
    parser.add_argument("--start-delay", type=float, default=2.0)
    parser.add_argument("--parts", type=Path, required=True)
    parser.add_argument("--t0-ns", type=int, default=None)
    locustenv.add_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the master until every worker has sent its part (or on error); exit 0 or 1."""
    args = _parse(argv)
    from gevent import monkey

    monkey.patch_all()
    import gevent

    from harness.errors import HarnessError
    from harness.replay import locustenv

    settings = locustenv.settings_from(args)
    try:
        from harness.replay.user import replay_user_class

        env = locustenv.environment([replay_user_class(None)], settings)
        runner = env.create_master_runner(args.bind_host, args.port)
        outputs = locustenv.LocustOutputs(env, settings)
        locustenv.fire_init(env, outputs.web_ui)
        outputs.start()
    except HarnessError as exc:
        _report("error", message=str(exc))
        return 1
    except OSError as exc:  # the port is taken
        _report("error", message=f"master cannot listen on {args.bind_host}:{args.port}: {exc}")
        return 1
    master = _Master(args, runner)
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, master.stop)
    try:
        return master.serve()
    finally:
        runner.quit()
        outputs.finish()


class _Master:
    """The master's side of the replay protocol (:mod:`harness.replay.spec`)."""

    def __init__(self, args: argparse.Namespace, runner: Any) -> None:
        from harness.replay import spec as protocol

        self.args = args
        self.runner = runner
        self.template = protocol.ShardSpec.load(args.spec)
        self.expected = int(args.expect_workers)
        self.finished: set[int] = set()
        self.ready: set[int] = set()
        self.errors: list[str] = []
        self.stopping = False
        self.missing_since: dict[str, float] = {}
        #: workers that said hello (their handlers are registered), in the order they did
        self.greeted: dict[str, None] = {}
        runner.register_message(protocol.MSG_HELLO, self._on_hello)
        runner.register_message(protocol.MSG_READY, self._on_ready)
        runner.register_message(protocol.MSG_PROGRESS, self._on_progress)
        runner.register_message(protocol.MSG_PART, self._on_part)
        runner.register_message(protocol.MSG_ERROR, self._on_error)

    def _on_hello(self, environment: Any, msg: Any, **_: Any) -> None:
        self.greeted.setdefault(str(msg.node_id), None)

    def _waiting(self) -> list[str]:
        """Workers connected and greeted, able to take a shard."""
        connected = {c.id for c in self.runner.clients.ready}
        return [w for w in self.greeted if w in connected]

    def _on_ready(self, environment: Any, msg: Any, **_: Any) -> None:
        self.ready.add(int(msg.data["worker"]))

    def _on_progress(self, environment: Any, msg: Any, **_: Any) -> None:
        _report("progress", **msg.data)

    def _on_part(self, environment: Any, msg: Any, **_: Any) -> None:
        summary = dict(msg.data["summary"])
        worker = int(summary["worker"])
        for key, name in (("part", f"part-{worker}.parquet"),
                          ("responses", f"part-{worker}.responses.parquet")):  # fmt: skip
            data = msg.data.get(f"{key}_bytes")
            if data is not None:  # a remote worker sent the file itself
                path = self.args.parts / name
                path.write_bytes(data)
                summary[key] = str(path)
        _report("summary", **summary)
        self.finished.add(worker)

    def _on_error(self, environment: Any, msg: Any, **_: Any) -> None:
        self.errors.append(str(msg.data["message"]))
        _report("error", **msg.data)

    def stop(self) -> None:
        from harness.replay import spec as protocol

        self.stopping = True
        self.runner.send_message(protocol.MSG_STOP, {})

    def serve(self) -> int:
        import gevent

        from harness.replay import spec as protocol

        args, runner = self.args, self.runner
        give_up = time.monotonic() + args.wait
        while len(self._waiting()) < self.expected:
            if self.stopping:
                return 0  # stopped before the start: nothing was sent
            if time.monotonic() > give_up:
                _report(
                    "error",
                    message=f"only {len(self._waiting())} of {self.expected} workers "
                    f"connected to the master on {args.bind_host}:{args.port} within "
                    f"{args.wait:g}s",
                )
                return 1
            gevent.sleep(0.05)
        workers = sorted(self._waiting())[: self.expected]
        assigned = time.time_ns()
        for k, client_id in enumerate(workers):
            # t0 0: the worker loads its shard, reports ready and waits for the start message
            spec = replace(self.template, shard=k, shards=self.expected,
                           t0_ns=args.t0_ns or 0, part="")  # fmt: skip
            runner.send_message(
                protocol.MSG_ASSIGN, {"worker": k, "spec": asdict(spec)}, client_id=client_id
            )
        t0 = args.t0_ns
        if t0 is None:
            while len(self.ready) < self.expected:
                if self.stopping:
                    return 0
                if self.errors or time.monotonic() > give_up or self._gone(workers):
                    if not self.errors:
                        _report("error", message=f"only {len(self.ready)} of {self.expected} "
                                f"workers got ready within {args.wait:g}s")  # fmt: skip
                    return 1
                gevent.sleep(0.02)
        # one replay user per worker, by Locust's own dispatch; each waits for t0
        gevent.spawn(runner.start, self.expected, float(self.expected)).join()
        if t0 is None:
            t0 = max(time.time_ns() + 200_000_000, assigned + int(args.start_delay * 1e9))
            runner.send_message(protocol.MSG_START, {"t0_ns": t0})
        _report("t0", t0_ns=t0)
        while len(self.finished) < self.expected and not self.errors:
            gone = self._gone([w for k, w in enumerate(workers) if k not in self.finished])
            if gone:
                _report("error", message=f"worker {gone[0]} disconnected before sending its rows")
                return 1
            gevent.sleep(0.1)
        return 1 if self.errors else 0

    def _gone(self, workers: list[str]) -> list[str]:
        """Workers that quit, or missed Locust's heartbeats for :data:`_MISSING_S`."""
        from locust.runners import STATE_MISSING

        now = time.monotonic()
        gone = []
        for w in workers:
            client = self.runner.clients.get(w)
            if client is None:
                gone.append(w)
            elif client.state == STATE_MISSING:
                if now - self.missing_since.setdefault(w, now) > _MISSING_S:
                    gone.append(w)
            else:
                self.missing_since.pop(w, None)
        return gone


def _crashed(exc: BaseException, path: Path | None) -> None:
    from harness.crashes import one_line

    where = str(path) if path else None
    _report("error", message=f"master crashed: {one_line(exc)}", internal=True, traceback=where)


if __name__ == "__main__":
    from harness.crashes import guarded_main

    sys.exit(guarded_main(main, where="replay master", on_crash=_crashed))
