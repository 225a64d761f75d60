"""A local worker process: ``python -m harness.replay.worker SPEC.json --worker K``.

Started by :func:`harness.replay.engine.replay`, one per ``--processes``. It patches the process
with gevent first thing, replays its shard on the shared t0, writes its part file and prints
protocol lines (:mod:`harness.replay.spec`) on stdout. SIGTERM or SIGINT stop it early; the
rows of what was sent are still written.
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run one local worker; exit 0 when its part file is written, 1 on error.

    An unexpected exception (a bug) is reported as an ``error`` line with ``internal: true`` and
    the path of its saved traceback (in the run directory), which the orchestrator turns into
    exit 70; it never ends as a bare traceback on stderr.
    """
    parser = argparse.ArgumentParser(prog="python -m harness.replay.worker")
    parser.add_argument("spec", type=Path)
    parser.add_argument("--worker", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        return _serve(args.spec, args.worker)
    except Exception as exc:  # a bug: saved where the run keeps its files, reported in one line
        from harness.crashes import one_line, save_traceback

        # the spec sits in <run_dir>/.replay/: the traceback goes into the run directory
        path = save_traceback(exc, args.spec.resolve().parent.parent, where=f"worker {args.worker}")
        _report(
            "error",
            worker=args.worker,
            message=f"worker {args.worker} crashed: {one_line(exc)}",
            internal=True,
            traceback=str(path) if path else None,
        )
        return 1


def _serve(spec_path: Path, worker: int) -> int:
    from gevent import monkey

    monkey.patch_all()
    import gevent

    from harness.errors import HarnessError
    from harness.replay.dispatch import ShardRun
    from harness.replay.spec import ShardSpec

    try:
        spec = ShardSpec.load(spec_path)
        run = ShardRun(spec, _report, worker)
        run.get_ready()
    except HarnessError as exc:
        _report("error", worker=worker, message=str(exc))
        return 1
    if spec.t0_ns == 0:
        # the orchestrator fixes t0 once every worker is ready: "t0 <epoch ns>" on stdin
        line = sys.stdin.readline().split()
        if len(line) != 2 or line[0] != "t0" or int(line[1]) <= 0:
            return 0  # the orchestrator called the replay off before it started
        run.set_t0(int(line[1]))
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, run.stop)
    summary = run.run()
    _report("summary", **summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
