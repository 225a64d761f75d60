"""What session state costs per replayed request: links, cookie jars, session order.

Builds a synthetic replay of ``--sessions`` sessions (default 10,000), each of which logs in
(a token in the JSON body and a session cookie), creates resources (a server-assigned id in the
answer and a ``Location``) and then sends ``--requests`` requests that carry links: the token
in ``Authorization``, the id in the path and in a JSON body, the session cookie. It then runs
exactly what a worker runs per request and target, :meth:`SessionState.prepare` and
:meth:`SessionState.answered`, on every request in schedule order for two targets, and reports
the CPU time per request (and, for comparison, a request without links or cookies).

::

    .venv/bin/python benchmarks/session_state.py                      # 10,000 sessions
    .venv/bin/python benchmarks/session_state.py --sessions 2000 --requests 10

No network: the replies are made up; the figure is the harness's own work per request, which
adds to the sender's ~70 us of CPU per request (benchmarks/README.md, replay throughput).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.replay.links import parse_links, sources_needed
from harness.replay.ordering import Order
from harness.replay.session_state import (
    NeedLogin,
    RowState,
    SessionState,
    TargetState,
)
from harness.replay.sources import Reply
from harness.replay.substitute import Outgoing

HOST = "api.example.com"


def build(
    sessions: int, per_session: int
) -> tuple[dict[int, RowState], list[tuple[int, Outgoing, Reply]]]:
    """Rows and the (idx, captured request, reply) of every request in schedule order."""
    rows: dict[int, RowState] = {}
    work: list[tuple[int, Outgoing, Reply]] = []
    idx = 0
    for s in range(sessions):
        session = f"s{s:06d}"
        login_idx, create_idx = idx, idx + 1
        login = Outgoing("POST", "/api/users/login", [("Host", HOST)], b'{"user": {}}')
        token = f"tok-{s:06d}-live"
        login_reply = Reply(
            200,
            [
                ("Content-Type", "application/json"),
                ("Set-Cookie", f"sid=live{s}; Path=/; HttpOnly"),
            ],
            json.dumps({"user": {"token": token, "id": s}}).encode(),
        )
        rows[login_idx] = RowState(session, HOST)
        work.append((login_idx, login, login_reply))
        create = Outgoing(
            "POST",
            "/api/articles",
            [
                ("Host", HOST),
                ("Authorization", "Token CAPTURED-TOKEN"),
                ("Cookie", "sid=cap; theme=dark"),
            ],
            b'{"article": {"title": "t"}}',
        )
        token_link = {
            "src_idx": login_idx,
            "src": "json:$.user.token",
            "dst": "header:Authorization",
            "value": "CAPTURED-TOKEN",
            "encoding": "raw",
            "kind": "token",
        }
        rows[create_idx] = RowState(
            session, HOST, parse_links([token_link]), Order((login_idx,), 1000)
        )
        created = Reply(
            201,
            [("Location", f"/api/articles/{1000 + s}")],
            json.dumps({"article": {"id": 1000 + s, "slug": f"t-{s:x}"}}).encode(),
        )
        work.append((create_idx, create, created))
        idx += 2
        for n in range(per_session):
            links = parse_links(
                [
                    token_link,
                    {
                        "src_idx": create_idx,
                        "src": "json:$.article.id",
                        "dst": "path",
                        "value": "77",
                        "encoding": "raw",
                        "kind": "id",
                    },
                    {
                        "src_idx": create_idx,
                        "src": "json:$.article.id",
                        "dst": "json:$.comment.article",
                        "value": "77",
                        "encoding": "raw",
                        "kind": "id",
                    },
                ]
            )
            request = Outgoing(
                "POST",
                "/api/articles/77/comments",
                [
                    ("Host", HOST),
                    ("Authorization", "Token CAPTURED-TOKEN"),
                    ("Accept", "*/*"),
                    ("Cookie", "sid=cap; theme=dark"),
                ],
                json.dumps({"comment": {"article": 77, "body": f"comment {n}"}}).encode(),
            )
            rows[idx] = RowState(session, HOST, links, Order((idx - 1,), 1000))
            work.append((idx, request, Reply(201, [], b'{"comment": {"id": 5}}')))
            idx += 1
    return rows, work


def measure(rows: dict[int, RowState], work: list[tuple[int, Outgoing, Reply]]) -> float:
    """CPU seconds for prepare + answered of every request on two targets."""
    targets = [
        TargetState("baseline", "127.0.0.1:8001"),
        TargetState("candidate", "127.0.0.1:8002"),
    ]
    state = SessionState(rows, targets, sources_needed(r.links for r in rows.values()))
    now = time.time()
    start = time.process_time()
    for idx, request, reply in work:
        for k in (0, 1):
            prepared = state.prepare(k, idx, request, now=now)
            assert not isinstance(prepared, NeedLogin)  # no staging identities here
            out = prepared[0]
            state.answered(k, idx, out.path, reply, now=now)
    return time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20, help="linked requests per session")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows, work = build(args.sessions, args.requests)
    plain_rows = {idx: RowState(None, HOST) for idx in rows}
    cpu = measure(rows, work)
    plain = measure(plain_rows, work)
    sends = 2 * len(work)
    linked = sum(1 for _, r in rows.items() if r.links) * 2
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"sessions {args.sessions}, requests {len(work)} x 2 targets = {sends} sends, "
        f"{linked} with links (3 each: header, path, JSON body) and a cookie"
    )
    print(
        f"session state: {cpu / sends * 1e6:.1f} us CPU per send "
        f"(without links or cookies: {plain / sends * 1e6:.1f} us); {cpu:.2f} s in all"
    )
    print(f"peak RSS {peak:.0f} MB; load average before {load:.2f}, after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
