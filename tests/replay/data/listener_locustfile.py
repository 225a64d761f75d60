"""A user's locustfile for the replay tests: a request listener, as Locust users write them.

Every Locust process of the replay imports it; each replayed request appends one JSON line
(Locust's request name, type, length, failure, and the replay's context) to the file named by
the environment variable ``HARNESS_TEST_EVENTS``.
"""

import json
import os
from pathlib import Path

from locust import events


@events.request.add_listener
def record(request_type, name, response_time, response_length, exception, context, **_kw):
    line = {
        "type": request_type,
        "name": name,
        "time_ms": response_time,
        "length": response_length,
        "failed": exception is not None,
        "target": context["target"],
        "idx": context["idx"],
        "queue_ms": context["queue_ms"],
    }
    with Path(os.environ["HARNESS_TEST_EVENTS"]).open("a") as out:
        out.write(json.dumps(line) + "\n")
