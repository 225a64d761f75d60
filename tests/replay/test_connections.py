"""The replay session's per-request machinery against a real HTTP server on 127.0.0.1: the
liveness check of pooled connections and the request timeout.

Each check runs in a child process, as a worker does (Locust monkey-patches on import)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

from tests.plugins.httpserver import RecordingServer

_PRELUDE = """
from gevent import monkey
monkey.patch_all()
import json, socket, sys
import gevent, gevent.event
from geventhttpclient.header import Headers
from locust.event import EventHook
from harness.replay.connections import ReplaySession, _TimedPool
from harness.replay.exchange import Outgoing
"""


def _child(code: str, *args: str) -> Any:
    script = _PRELUDE + textwrap.dedent(code)
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_liveness_check_sees_a_closed_connection_without_yielding() -> None:
    seen = _child("""
        listener = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(listener.getsockname())
        peer, _ = listener.accept()
        check = _TimedPool._is_socket_alive
        seen = [check(None, client)]
        peer.close()  # the server hangs up an idle keep-alive connection
        gevent.socket.wait_read(client.fileno(), timeout=5)
        ran = []
        gevent.spawn(ran.append, True)  # ready to run: a switch to the hub would run it
        seen.append(check(None, client))
        seen.append(check(None, client))
        seen.append(ran == [])  # the checks gave the other greenlet no turn
        client.close()
        seen += [check(None, client), check(None, None)]
        print(json.dumps(seen))
    """)
    assert seen == [True, False, False, True, False, False]


def test_the_request_timeout_fires_on_each_slow_request_only(http_server: RecordingServer) -> None:
    http_server.delay("/slow", 2.0)
    seen = _child(
        """
        fired = []
        event = EventHook()
        event.add_listener(lambda **kw: fired.append(kw))
        session = ReplaySession(event, [sys.argv[1]], connections=4, timeout_s=0.3)
        answers = []
        for n, path in enumerate(["/a", "/slow/1", "/b", "/slow/2", "/c"]):
            headers = Headers()
            headers.add("Host", "example.test")
            out = Outgoing("GET", path, headers, b"")
            answers.append(session.replay(0, out, path, {"n": n}))
        session.close()
        print(json.dumps({
            "errors": [a.error for a in answers],
            "status": [a.status for a in answers],
            "body": answers[2].body.decode(),
            "fired": [[kw["context"]["n"], kw["exception"] is None] for kw in fired],
        }))
        """,
        http_server.url,
    )
    assert seen["errors"] == ["none", "timeout", "none", "timeout", "none"]
    assert seen["status"] == [200, 0, 200, 0, 200]
    assert seen["body"] == "GET /b 0"
    assert seen["fired"] == [[0, True], [1, False], [2, True], [3, False], [4, True]]


def test_the_timeout_ends_every_slow_request_in_flight_and_never_a_later_one(
    http_server: RecordingServer,
) -> None:
    """One periodic check bounds all requests: 20 slow ones in flight at once each end at their
    own deadline (never before it); a greenlet whose first request finished long ago is not hit
    by that request's deadline while it waits in its next one (on the same, pooled,
    connection: the test server's listen backlog of 5 delays new ones)."""
    http_server.delay("/slow", 3.0)
    http_server.delay("/late", 0.6)
    seen = _child(
        """
        event = EventHook()
        session = ReplaySession(event, [sys.argv[1]], connections=32, timeout_s=1.0)

        def send(path):
            headers = Headers()
            headers.add("Host", "example.test")
            return session.replay(0, Outgoing("GET", path, headers, b""), path, {})

        def slow(n):
            answer = send(f"/slow/{n}")
            return answer.error, answer.end_ns - answer.sent_ns - answer.queue_ns

        first_done = gevent.event.Event()

        def two():
            first = send("/fast")
            first_done.set()
            gevent.sleep(0.5)  # the case: the next request starts half a timeout later
            second = send("/late/1")  # in flight at the first one's deadline, done before its own
            return [first.error, second.error, second.status]

        pair = gevent.spawn(two)
        first_done.wait()
        slows = [gevent.spawn(slow, n) for n in range(20)]
        gevent.joinall([*slows, pair])
        session.close()
        print(json.dumps({
            "slow": sorted({s.value[0] for s in slows}),
            "shortest_ns": min(s.value[1] for s in slows),
            "pair": pair.value,
        }))
        """,
        http_server.url,
    )
    assert seen["slow"] == ["timeout"]
    assert seen["shortest_ns"] >= 1_000_000_000 - 50_000_000  # sent after its clock started
    assert seen["pair"] == ["none", "none", 200]
