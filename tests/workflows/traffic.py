"""Payments traffic for end-to-end tests: a GoReplay file imported with `harness capture import`.

The mix (per second): balance reads, payment reads, payment writes, /catalog and /health,
from several client sessions, at a steady rate. Written as a real ``.gor`` file (request
records only), so the import path the users take is the one the tests take.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from harness.cli.main import main

SEPARATOR = "\n\U0001f435\U0001f648\U0001f649\n"


def _request(method: str, path: str, session: int, body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: payments.prod.example.com",
        "User-Agent: shop-client/1.0",
        f"X-Client-Id: client-{session}",
    ]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def write_gor(path: Path, *, seconds: float, rate: float, seed: int = 7) -> int:
    """Write ``seconds`` of traffic at ``rate`` req/s; return the number of requests."""
    rng = random.Random(seed)
    t0 = 1_760_000_000 * 10**9
    n = int(seconds * rate)
    with path.open("wb") as out:
        for i in range(n):
            ts = t0 + int(i * 1e9 / rate)
            session = rng.randrange(12)
            kind = rng.random()
            account = rng.randrange(1, 200)
            if account % 10 == 0:  # every tenth account holds EUR; the traffic pays in USD
                account += 1
            if kind < 0.30:
                raw = _request("GET", f"/accounts/{account}/balance", session)
            elif kind < 0.50:
                raw = _request("GET", f"/payments/{rng.randrange(1, 50)}", session)
            elif kind < 0.70:
                body = json.dumps(
                    {
                        "account_id": account,
                        "amount_cents": rng.randrange(100, 5000),
                        "currency": "USD",
                    }
                ).encode()
                raw = _request("POST", "/payments", session, body)
            elif kind < 0.85:
                raw = _request("GET", "/catalog", session)
            else:
                raw = _request("GET", "/health", session)
            out.write(f"1 {i:024x} {ts} 0\n".encode() + raw + SEPARATOR.encode())
    return n


def payments_capture(tmp: Path, *, seconds: float, rate: float) -> Path:
    """A capture file of payments traffic, made by `harness capture import`."""
    gor = tmp / "payments.gor"
    write_gor(gor, seconds=seconds, rate=rate)
    out = tmp / "payments.capture.parquet"
    code = main(["capture", "import", str(gor), "-o", str(out), "--format", "gor"])
    assert code == 0
    return out


REPO = Path(__file__).resolve().parents[2]
DEMO_CAPTURE = REPO / "captures" / "payments-demo-mitm.capture.parquet"

SHORT_KILL = """\
name: {name}
capture: {capture}
speed: 5.0
loop: true
ordering: schedule
duration: 22s
timeout: 2s
stack: {stack}
faults:
  - {{at: 7s, for: 7s, dependency: postgres, kind: down}}
probes:
  - {{name: db_attempts, prometheus: {{path: /metrics, metric: payments_db_attempts_total}}}}
independent_routes: [/health, /catalog]
gates:
  error_rate: {{max_increase_pp: 1.0}}
  latency_p99: {{max_ratio: 1.25}}
  retry_amplification: {{max_ratio: 1.5, probe: db_attempts}}
  recovery_time: {{max: 10s}}
  cascade: {{max_error_rate: 0.01}}
"""


def write_short_kill(path: Path, stack: Path, name: str = "short-kill") -> Path:
    """db-kill in 22 s on the bundled demo capture (~70 req/s): the database down 7 s at 7 s."""
    path.write_text(SHORT_KILL.format(name=name, capture=DEMO_CAPTURE, stack=stack))
    return path
