"""Run one shard with test hooks in a gevent process: ``python hooks_run.py SPEC.json OUT.json``
(``... plain``: the base hooks, strict schedule; ``... slow-writer``: the same, with a part-file
writer whose first write takes 1.5 s, and the niceness of the writer's thread in OUT.json).

The hooks (what the session-state work plugs in) order requests by their session's replies,
send a login through ``send`` before a session's first request, and copy the previous reply's
status into a header. The rows written by the real sender are printed to OUT.json.
"""

import json
import os
import sys
import time
from pathlib import Path

from gevent import monkey

monkey.patch_all()

import gevent  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from geventhttpclient.header import Headers  # noqa: E402

from harness.replay import results  # noqa: E402
from harness.replay.dispatch import ShardRun  # noqa: E402
from harness.replay.exchange import Await, Outgoing, RequestHooks  # noqa: E402
from harness.replay.shard import load_shard  # noqa: E402
from harness.replay.spec import ShardSpec  # noqa: E402


class Hooks(RequestHooks):
    """Odd requests await the even one before them (+50 ms think); each session logs in once."""

    ordered = True

    def __init__(self):
        self.logged_in = set()
        self.last_status = {}
        self.logins = []

    def awaits(self, request):
        return Await((request.idx - 1,), 50_000_000) if request.idx % 2 else None

    def awaited(self, request):
        return request.idx % 2 == 0

    def outgoing(self, target, request, send):
        if (target, request.session) not in self.logged_in:
            self.logged_in.add((target, request.session))
            headers = Headers()
            headers.add("Host", "example")
            answer = send(Outgoing("POST", f"/login/{request.session}", headers, b"{}"), "login")
            self.logins.append(answer.status)
        headers = list(request.headers[target].items())
        previous = self.last_status.get((target, request.session))
        if previous is not None:
            headers.append(("X-Previous-Status", str(previous)))
        return Outgoing(request.method, request.path, headers, request.body, link="ok")

    def answered(self, target, request, outgoing, answer):
        self.last_status[(target, request.session)] = answer.status


WRITER = {}


def slow_writer():
    """The first write takes 1.5 s (a disk or a core busy elsewhere); records the thread's nice."""
    real_write = results.PartWriter.write
    real_sleep = monkey.get_original("time", "sleep")
    native_id = monkey.get_original("threading", "get_native_id")

    def write(self, batches):
        if not WRITER:
            WRITER["nice"] = os.getpriority(os.PRIO_PROCESS, native_id())
            real_sleep(1.5)
        return real_write(self, batches)

    results.PartWriter.write = write


def main():
    mode = sys.argv[3] if len(sys.argv) > 3 else ""
    if mode == "slow-writer":
        slow_writer()
    spec = ShardSpec.load(Path(sys.argv[1]))
    shard = load_shard(spec)
    events = []

    class Event:
        def fire(self, **kw):
            events.append(kw["name"])

    hooks = Hooks() if len(sys.argv) < 4 else RequestHooks()  # "plain": the strict schedule
    run = ShardRun(spec, shard, lambda kind, **data: None, 0, Event(), hooks=hooks)
    run.set_t0(time.time_ns() + 300_000_000)
    run.claim()
    gevent.spawn(run.run).join()
    rows = pq.read_table(spec.part).to_pylist()
    groups = pq.ParquetFile(spec.part).num_row_groups
    logins = getattr(hooks, "logins", [])
    out = {
        "rows": rows,
        "row_groups": groups,
        "logins": logins,
        "events": events,
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "writer_nice": WRITER.get("nice"),
    }
    Path(sys.argv[2]).write_text(json.dumps(out, default=str))


main()
