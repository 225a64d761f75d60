"""Run SQL against a database from a timeline action: ``{python} -m harness.faults.sql DSN SQL``.

For what no proxy can do (a migration that takes a lock under load). The statements run in one
simple-query call, so ``BEGIN; LOCK TABLE ...; SELECT pg_sleep(8); COMMIT;`` holds the lock for
eight seconds. Prints what it did with timestamps; exits 0 on success, 1 when the SQL failed,
2 on bad usage.
"""

from __future__ import annotations

import sys
import time


def main(argv: list[str]) -> int:
    """Entry point; ``argv`` is ``[DSN, SQL]``."""
    if len(argv) != 2:
        print("usage: python -m harness.faults.sql DSN SQL", file=sys.stderr)
        return 2
    import psycopg

    dsn, sql = argv
    started = time.monotonic()
    print(f"{time.strftime('%H:%M:%S')} running: {sql}", flush=True)
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.encode())
    except psycopg.Error as exc:
        print(f"failed after {time.monotonic() - started:.3f}s: {exc}".strip(), file=sys.stderr)
        return 1
    print(f"{time.strftime('%H:%M:%S')} done in {time.monotonic() - started:.3f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
