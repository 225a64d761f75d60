"""The single local replay process: ``python -m harness.replay.worker SPEC.json``.

Started by :func:`harness.replay.engine.replay` for ``--processes 1``. It patches the process
with gevent first thing, runs a Locust ``LocalRunner`` with one
:class:`~harness.replay.user.ReplayUser` that replays the whole schedule on the shared t0
(Locust's stats, web UI, CSV and HTML come from this process), writes its part file and prints
protocol lines (:mod:`harness.replay.spec`) on stdout. SIGTERM or SIGINT stop it early; the rows
of what was sent are still written. (Several processes: :mod:`harness.replay.master` with
workers of :mod:`harness.replay.remote`.)
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _report(kind: str, **data: Any) -> None:
    from harness.replay.spec import encode_line

    sys.stdout.write(encode_line(kind, **data) + "\n")
    sys.stdout.flush()


def _read_t0() -> int | None:
    """The orchestrator's ``t0 <epoch ns>`` line (``None``: the replay was called off)."""
    line = sys.stdin.readline().split()
    if len(line) != 2 or line[0] != "t0" or int(line[1]) <= 0:
        return None
    return int(line[1])


def report_crash(exc: BaseException, run_dir: Path, worker: int) -> None:
    """Report a bug as an ``error`` line with ``internal: true`` and the path of its saved
    traceback (in the run directory), which the orchestrator turns into exit 70."""
    from harness.crashes import one_line, save_traceback

    path = save_traceback(exc, run_dir, where=f"worker {worker}")
    _report(
        "error",
        worker=worker,
        message=f"worker {worker} crashed: {one_line(exc)}",
        internal=True,
        traceback=str(path) if path else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay in one process; exit 0 when its part file is written, 1 on error.

    An unexpected exception (a bug) is reported with :func:`report_crash`; it never ends as a
    bare traceback on stderr.
    """
    from harness.replay import locustenv

    parser = argparse.ArgumentParser(prog="python -m harness.replay.worker")
    parser.add_argument("spec", type=Path)
    parser.add_argument("--worker", type=int, default=0)
    locustenv.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return _serve(args)
    except Exception as exc:  # a bug: saved where the run keeps its files, reported in one line
        # the spec sits in <run_dir>/.replay/: the traceback goes into the run directory
        report_crash(exc, args.spec.resolve().parent.parent, args.worker)
        return 1


def _serve(args: argparse.Namespace) -> int:
    from harness.replay.priority import raise_priority

    raised = raise_priority()
    from gevent import monkey

    monkey.patch_all()
    import gevent

    from harness.errors import HarnessError
    from harness.replay import locustenv
    from harness.replay.dispatch import ShardRun
    from harness.replay.shard import load_shard
    from harness.replay.spec import ShardSpec
    from harness.replay.user import replay_user_class

    worker = int(args.worker)
    settings = locustenv.settings_from(args)
    try:
        spec = ShardSpec.load(args.spec)
        user = replay_user_class(None)
        env = locustenv.environment([user], settings)
        runner = env.create_local_runner()
        outputs = locustenv.LocustOutputs(env, settings)
        locustenv.fire_init(env, outputs.web_ui)
        # loading in a thread keeps the loop (web UI, runner) answering meanwhile
        shard = gevent.get_hub().threadpool.apply(load_shard, (spec,))
        run = ShardRun(spec, shard, _report, worker, env.events.request)
        run.priority_raised = raised
        user.shard = run
        outputs.start()
        runner.start(1, spawn_rate=1)
        run.get_ready()
    except HarnessError as exc:
        _report("error", worker=worker, message=str(exc))
        return 1
    if spec.t0_ns == 0:
        # the orchestrator fixes t0 once every worker is ready: "t0 <epoch ns>" on stdin
        t0 = gevent.get_hub().threadpool.apply(_read_t0)
        if t0 is None:
            run.stop()  # called off before it started: nothing is sent
        else:
            run.set_t0(t0)
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, run.stop)
    if not run.wait_claimed():
        run.stop()
        _report("error", worker=worker, message="Locust did not start the replay user")
        return 1
    run.finished.wait()
    runner.quit()
    outputs.finish()
    if run.error is not None:
        raise run.error
    if run.summary is None:
        raise RuntimeError("the replay user ended without a summary")
    _report("summary", **run.summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
