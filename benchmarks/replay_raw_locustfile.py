"""Raw Locust FastHttpUser for the throughput benchmark: no schedule, no result rows, no waits.

With ``RAW_COUNTS=DIR`` in the environment every process that runs users writes
``DIR/PID.tsv``: ``epoch-seconds<TAB>requests so far`` every 0.25 s (a counter on Locust's
``request`` event), so the benchmark reads the rate of any window, also with ``--processes``
(where the master's own history only moves when a worker reports, every 3 s).
"""

import os
import time
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant, events, task
from locust.runners import MasterRunner


class RawUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/items/1?page=1", headers={"Accept": "application/json"})


@events.init.add_listener
def _count_requests(environment: Any, **_kwargs: Any) -> None:
    folder = os.environ.get("RAW_COUNTS")
    if not folder or isinstance(environment.runner, MasterRunner):
        return
    count = [0]

    def counted(**_kw: Any) -> None:
        count[0] += 1

    def sample() -> None:
        with (Path(folder) / f"{os.getpid()}.tsv").open("a") as out:
            while True:
                out.write(f"{time.time()}\t{count[0]}\n")
                out.flush()
                gevent.sleep(0.25)

    environment.events.request.add_listener(counted)
    gevent.spawn(sample)
