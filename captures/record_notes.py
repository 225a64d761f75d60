"""Record captures of the notes example (a stateful service) with the real tools (issue 12).

::

    .venv/bin/python captures/record_notes.py                       # about 60 s of traffic
    .venv/bin/python captures/record_notes.py --gor .venv/bin/goreplay --duration 20

1. starts an embedded PostgreSQL with the notes schema and seed data (``schema.sql``) and the
   notes service (build ``v1.8.0``) on free loopback ports;
2. puts ``mitmdump --mode reverse:...`` in front of it (keeping the ``Host`` the clients sent,
   as a reverse proxy in front of a service that checks ``Origin`` must), writing
   ``notes-demo.mitm``; and, when a
   GoReplay binary is given (``--gor``, or ``goreplay``/``gor`` on PATH or in .venv/bin), also
   runs ``gor --input-raw`` on the service's port with ``--input-raw-track-response``, writing
   ``notes-demo.gor`` (raw capture: root or CAP_NET_RAW);
3. drives the users of :mod:`examples.notes.traffic` through mitmdump: API writers that
   register, log in (token in the JSON body) and work on notes by server-assigned slug and id;
   browser users with a cookie session and CSRF tokens in forms; anonymous readers;
4. stops everything (mitmdump with SIGINT so it flushes its file) and imports each recording
   into ``*.capture.parquet`` with the harness's default options (a fixed session salt only, so
   the committed files are reproducible).

Everything it starts, it stops, also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from record_demo import import_recordings as import_demo_recordings  # noqa: E402
from record_demo import process, wait_http  # noqa: E402

from examples.notes.traffic import Mix, run_users  # noqa: E402
from harness.capture.config import CaptureConfig, SessionConfig  # noqa: E402
from harness.stack.ports import free_port  # noqa: E402
from harness.stack.postgres import EmbeddedPostgres  # noqa: E402

NOTES = ROOT / "examples" / "notes"
BIN = Path(sys.executable).parent


def find_gor() -> str | None:
    """A GoReplay binary: ``goreplay`` or ``gor`` on PATH or beside this Python."""
    for name in ("goreplay", "gor"):
        found = shutil.which(name) or shutil.which(name, path=str(BIN))
        if found:
            return found
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of traffic")
    parser.add_argument("--writers", type=int, default=6, help="API writers")
    parser.add_argument("--browsers", type=int, default=4, help="browser users (forms, cookies)")
    parser.add_argument("--readers", type=int, default=2, help="anonymous readers")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time, seconds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the users' choices")
    parser.add_argument("--out", type=Path, default=HERE.relative_to(ROOT))
    parser.add_argument("--gor", default=find_gor(), help="GoReplay binary (optional)")
    parser.add_argument("--no-gor", action="store_true", help="record with mitmdump only")
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
    """Run the service, the recorders and the users; leave the raw recordings in ``out``."""
    gor_bin = None if args.no_gor else args.gor
    work = Path(tempfile.mkdtemp(prefix="record-notes-"))  # process logs
    mitm_file = out / "notes-demo.mitm"
    gor_file = out / "notes-demo.gor"
    for old in (mitm_file, gor_file):
        old.unlink(missing_ok=True)

    with EmbeddedPostgres() as pg:
        pg.create_template("notes_template", (NOTES / "schema.sql").read_text())
        pg.clone("notes_template", "notes_demo")
        port, proxy = free_port(), free_port()
        service = [sys.executable, str(NOTES / "app.py"), "--port", str(port)]
        service += ["--dsn", pg.dsn("notes_demo"), "--variant", "v1.8.0"]
        with contextlib.ExitStack() as stack:
            stack.enter_context(process(service, work / "service.log"))
            wait_http(f"http://127.0.0.1:{port}/health")
            mitmdump = [str(BIN / "mitmdump"), "--mode", f"reverse:http://127.0.0.1:{port}"]
            mitmdump += ["--listen-host", "127.0.0.1", "--listen-port", str(proxy)]
            mitmdump += ["-w", str(mitm_file), "--set", "flow_detail=0"]
            # the browser users' form POSTs carry the proxy's Origin, which the service checks
            # against the Host it is sent: a reverse proxy in front of it keeps that Host
            mitmdump += ["--set", "keep_host_header=true"]
            stack.enter_context(process(mitmdump, work / "mitmdump.log"))
            if gor_bin:
                gor = [gor_bin, "--input-raw", f"127.0.0.1:{port}", "--input-raw-track-response"]
                gor += ["--output-file", str(gor_file), "--output-file-append"]
                stack.enter_context(process(gor, work / "gor.log"))
                time.sleep(2.0)  # let the packet capture attach before traffic starts
            wait_http(f"http://127.0.0.1:{proxy}/health")
            mix = Mix(args.writers, args.browsers, args.readers, args.think)
            counts = run_users(f"http://127.0.0.1:{proxy}", args.duration, mix, seed=args.seed)
            print(f"sent: {dict(sorted(counts.items()))}")
            time.sleep(3.0)  # let gor flush the last exchanges (1 s lost the last one)
    shutil.rmtree(work, ignore_errors=True)


def import_recordings(out: Path) -> None:
    """Import each recording in ``out`` with the default options (and a fixed session salt)."""
    import_demo_recordings(
        out, "notes-demo", CaptureConfig(session=SessionConfig(salt="notes-demo"))
    )


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
