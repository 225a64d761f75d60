"""Mixed traffic against one running payments service, killing its database part-way.

A small stand-alone check of how a build behaves while its database is gone, without the
harness: ``--rate`` requests per second on an open schedule (a slow answer does not delay the
next request), with the toxiproxy proxy in front of the database disabled from ``--kill-at``
for ``--kill-for`` seconds. Prints, per phase and route, the error rate (status 0 or >= 500)
and latency, and the database attempts per request read from ``/metrics``::

    python examples/payments/storm.py --url http://127.0.0.1:8080 \\
        --toxiproxy http://127.0.0.1:8474 --proxy payments-db --rate 80 --seconds 30
"""

from __future__ import annotations

import argparse
import concurrent.futures
import random
import statistics
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

import httpx

#: (weight, method, path template, needs the database)
MIX = (
    (25, "POST", "/payments", True),
    (20, "GET", "/payments/{id}", True),
    (25, "GET", "/accounts/{id}/balance", True),
    (20, "GET", "/catalog", False),
    (10, "GET", "/health", False),
)


@dataclass
class Result:
    phase: str
    route: str
    status: int
    seconds: float


def db_attempts(client: httpx.Client) -> float:
    text = client.get("/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("payments_db_attempts_total "):
            return float(line.split()[1])
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--toxiproxy", required=True, help="toxiproxy API URL")
    parser.add_argument("--proxy", required=True, help="the proxy in front of the database")
    parser.add_argument("--rate", type=float, default=80.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--kill-at", type=float, default=8.0)
    parser.add_argument("--kill-for", type=float, default=12.0)
    parser.add_argument("--timeout", type=float, default=2.0, help="client timeout, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--fault",
        choices=("down", "partition"),
        default="down",
        help="down: disable the proxy; partition: black-hole both directions",
    )
    args = parser.parse_args()

    rng = random.Random(args.seed)
    weights = [w for w, *_ in MIX]
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    client = httpx.Client(base_url=args.url, timeout=args.timeout, limits=limits)
    admin = httpx.Client(base_url=args.url, timeout=5)
    results: list[Result] = []
    lock = threading.Lock()
    phase = ["before"]
    attempts: dict[str, float] = {}

    def one(method: str, template: str) -> None:
        current = phase[0]
        path = template.replace("{id}", str(rng.randint(1, 1000)))
        body = {"account_id": rng.randint(1, 1000), "amount_cents": 100, "currency": "USD"}
        started = time.monotonic()
        try:
            kwargs = {"json": body} if method == "POST" else {}
            status = client.request(method, path, **kwargs).status_code  # type: ignore[arg-type]
        except httpx.HTTPError:
            status = 0
        with lock:
            results.append(Result(current, template, status, time.monotonic() - started))

    def set_proxy(enabled: bool) -> None:
        url = f"{args.toxiproxy}/proxies/{args.proxy}"
        if args.fault == "down":
            httpx.post(url, json={"enabled": enabled}, timeout=5).raise_for_status()
            return
        for stream in ("upstream", "downstream"):
            name = f"partition_{stream}"
            if enabled:
                httpx.delete(f"{url}/toxics/{name}", timeout=5)
            else:
                toxic = {"name": name, "type": "timeout", "stream": stream}
                toxic["attributes"] = {"timeout": 0}  # type: ignore[assignment]
                httpx.post(f"{url}/toxics", json=toxic, timeout=5).raise_for_status()

    t0 = time.monotonic()
    attempts["start"] = db_attempts(admin)
    with concurrent.futures.ThreadPoolExecutor(max_workers=400) as pool:
        n = 0
        while (due := n / args.rate) < args.seconds:
            now = time.monotonic() - t0
            if phase[0] == "before" and now >= args.kill_at:
                attempts["before"] = db_attempts(admin)
                set_proxy(False)
                phase[0] = "during"
            elif phase[0] == "during" and now >= args.kill_at + args.kill_for:
                attempts["during"] = db_attempts(admin)
                set_proxy(True)
                phase[0] = "after"
            if due > now:
                time.sleep(due - now)
            _, method, template, _ = rng.choices(MIX, weights)[0]
            pool.submit(one, method, template)
            n += 1
    attempts["after"] = db_attempts(admin)
    if phase[0] == "during":
        set_proxy(True)

    report(results, attempts)
    return 0


def report(results: list[Result], attempts: dict[str, float]) -> None:
    groups: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        groups[(r.phase, r.route)].append(r)
    print(f"{'phase':7} {'route':24} {'n':>5} {'err%':>6} {'p50ms':>7} {'p99ms':>7}")
    previous = "start"
    for phase in ("before", "during", "after"):
        rows = [r for r in results if r.phase == phase]
        for _, _, route, _ in MIX:
            group = groups.get((phase, route), [])
            if not group:
                continue
            errors = sum(1 for r in group if r.status == 0 or r.status >= 500)
            ms = sorted(r.seconds * 1000 for r in group)
            p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
            print(
                f"{phase:7} {route:24} {len(group):5d} {100 * errors / len(group):6.1f}"
                f" {statistics.median(ms):7.1f} {p99:7.1f}"
            )
        if phase in attempts and rows:
            per = (attempts[phase] - attempts[previous]) / len(rows)
            print(f"{phase:7} db attempts per request: {per:.2f}")
        previous = phase


if __name__ == "__main__":
    sys.exit(main())
