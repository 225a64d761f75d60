"""Record sample captures of the payments demo service with the real tools (issue 3, item 9).

::

    .venv/bin/python captures/record_demo.py                # about 30 s of traffic
    .venv/bin/python captures/record_demo.py --duration 20 --gor /path/to/gor
    .venv/bin/python captures/record_demo.py --import-only  # import the recordings again

1. starts an embedded PostgreSQL with the demo's schema and seed data (``schema.sql``) and the
   demo service (build ``v2.3.1``) on free loopback ports;
2. puts ``mitmdump --mode reverse:...`` in front of it, writing ``payments-demo.mitm``; and, when
   a GoReplay binary is given (``--gor`` or ``gor`` on PATH), also runs ``gor --input-raw`` on
   the service's port with ``--input-raw-track-response``, writing ``payments-demo.gor``;
3. drives a traffic mix through mitmdump: several clients on their own keep-alive connections
   (each with a client id header, a session cookie and a bearer token, all fake), steady load
   with a peak in the middle third, reads and writes;
4. stops everything (mitmdump with SIGINT so it flushes its file) and imports each recording
   into ``*.capture.parquet`` with the harness (the defaults: pseudonyms and session links;
   sessions by ``X-Client-Id``).

``--import-only`` records nothing and imports the committed recordings again (after a change to
the importer); ``--no-import`` leaves the recordings raw.

Everything it starts, it stops, also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.capture.config import CaptureConfig, SessionConfig  # noqa: E402
from harness.capture.ingest import import_capture  # noqa: E402
from harness.capture.inspect import summarize  # noqa: E402
from harness.stack.ports import free_port  # noqa: E402
from harness.stack.postgres import EmbeddedPostgres  # noqa: E402

HERE = Path(__file__).resolve().parent
PAYMENTS = ROOT / "examples" / "payments"
BIN = Path(sys.executable).parent


@contextlib.contextmanager
def process(cmd: list[str], log: Path, **kw: object) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``cmd``; on exit stop it (SIGINT, then SIGTERM, then SIGKILL) by its own pid."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **kw)  # type: ignore[call-overload]
        try:
            yield proc
        finally:
            for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                if proc.poll() is not None:
                    break
                proc.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(wait)


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def rate_at(t: float, duration: float, base: float, peak: float) -> float:
    """Requests per second at time ``t``: steady, a peak in the middle third, steady again."""
    return peak if duration / 3 <= t < 2 * duration / 3 else base


@dataclass(frozen=True)
class Load:
    """The shape of the traffic every client follows."""

    url: str
    start: float
    duration: float
    share: float  # this client's share of the total rate
    base: float
    peak: float


def client(n: int, load: Load, counts: dict[str, int]) -> None:
    """One client: its own connection, identity and random stream of reads and writes."""
    rng = random.Random(n)
    headers = {
        "X-Client-Id": f"client-{n:02d}",
        "Authorization": f"Bearer demo-token-{rng.getrandbits(64):016x}",
        "Cookie": f"session=demo-{rng.getrandbits(64):016x}; theme=light",
        "User-Agent": f"payments-demo-client/{n}",
    }
    stop_at = load.start + load.duration
    with httpx.Client(base_url=load.url, headers=headers, timeout=5.0) as http:
        while (now := time.monotonic()) < stop_at:
            pick = rng.random()
            account = rng.randint(1, 1000)
            try:
                if pick < 0.35:
                    response = http.get(f"/payments/{rng.randint(1, 5000)}")
                elif pick < 0.55:
                    response = http.get(f"/accounts/{account}/balance")
                elif pick < 0.70:
                    currency = "EUR" if account % 10 == 0 else "USD"
                    body = {
                        "account_id": account,
                        "amount_cents": rng.randint(100, 5000),
                        "currency": currency,
                    }
                    response = http.post("/payments", json=body)
                elif pick < 0.85:
                    response = http.get("/catalog")
                else:
                    response = http.get("/health")
                key = str(response.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            counts[key] = counts.get(key, 0) + 1
            rate = rate_at(now - load.start, load.duration, load.base, load.peak) * load.share
            time.sleep(rng.expovariate(rate))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of traffic")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--base-rate", type=float, default=8.0, help="req/s outside the peak")
    parser.add_argument("--peak-rate", type=float, default=30.0, help="req/s during the peak")
    parser.add_argument("--out", type=Path, default=HERE.relative_to(ROOT))
    parser.add_argument("--gor", default=shutil.which("gor"), help="GoReplay binary (optional)")
    parser.add_argument("--no-import", action="store_true", help="leave the recordings raw")
    parser.add_argument(
        "--import-only",
        action="store_true",
        help="record nothing: import the recordings already in --out again (after a change to"
        " the importer)",
    )
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if not args.import_only:
        record(args, out)
    if not args.no_import:
        import_recordings(out)
    return 0


def record(args: argparse.Namespace, out: Path) -> None:
    """Run the service, the recorders and the clients; leave the raw recordings in ``out``."""
    work = Path(tempfile.mkdtemp(prefix="record-demo-"))  # process logs
    mitm_file = out / "payments-demo.mitm"
    gor_file = out / "payments-demo.gor"
    for old in (mitm_file, gor_file):
        old.unlink(missing_ok=True)
    with EmbeddedPostgres() as pg:
        pg.create_template("payments_template", (PAYMENTS / "schema.sql").read_text())
        pg.clone("payments_template", "payments_demo")
        port, proxy = free_port(), free_port()
        service = [
            sys.executable,
            str(PAYMENTS / "app.py"),
            "--port",
            str(port),
            "--dsn",
            pg.dsn("payments_demo"),
            "--variant",
            "v2.3.1",
        ]
        with contextlib.ExitStack() as stack:
            stack.enter_context(process(service, work / "service.log"))
            wait_http(f"http://127.0.0.1:{port}/health")
            mitmdump = [
                str(BIN / "mitmdump"),
                "--mode",
                f"reverse:http://127.0.0.1:{port}",
                "--listen-host",
                "127.0.0.1",
                "--listen-port",
                str(proxy),
                "-w",
                str(mitm_file),
                "--set",
                "flow_detail=0",
            ]
            stack.enter_context(process(mitmdump, work / "mitmdump.log"))
            if args.gor:
                gor = [
                    args.gor,
                    "--input-raw",
                    f"127.0.0.1:{port}",
                    "--input-raw-track-response",
                    "--output-file",
                    str(gor_file),
                    "--output-file-append",
                ]
                stack.enter_context(process(gor, work / "gor.log"))
                time.sleep(2.0)  # let the packet capture attach before traffic starts
            wait_http(f"http://127.0.0.1:{proxy}/health")
            counts: dict[str, int] = {}
            load = Load(
                f"http://127.0.0.1:{proxy}",
                time.monotonic(),
                args.duration,
                1 / args.clients,
                args.base_rate,
                args.peak_rate,
            )
            threads = [
                threading.Thread(target=client, args=(n, load, counts)) for n in range(args.clients)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            print(f"sent: {dict(sorted(counts.items()))}")
            time.sleep(1.0)  # let gor flush the last responses
    shutil.rmtree(work, ignore_errors=True)


def import_recordings(
    out: Path, stem: str = "payments-demo", config: CaptureConfig | None = None
) -> None:
    """Import each recording ``STEM.mitm`` and ``STEM.gor`` in ``out`` into
    ``STEM-mitm.capture.parquet`` and ``STEM-gor.capture.parquet`` with the default options
    (pseudonyms, links) and ``config``; by default the payments demo's: sessions by the client
    id header and a fixed session salt (the session keys stay reproducible)."""
    if config is None:
        config = CaptureConfig(session=SessionConfig(header="X-Client-Id", salt="payments-demo"))
    for source in (out / f"{stem}.mitm", out / f"{stem}.gor"):
        if source.exists() and source.stat().st_size:
            target = out / f"{source.stem}-{source.suffix[1:]}.capture.parquet"
            import_capture([source], target, config=config)
            s = summarize(target)
            print(
                f"{source.name}: {s.requests} requests ({s.responses} with response), "
                f"{s.sessions} sessions, {s.duration_s:.1f} s, peak {s.peak_per_s}/s "
                f"-> {target.name}"
            )


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
