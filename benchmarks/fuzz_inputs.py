"""The long fuzz run: the mutations of ``tests/fuzzing.py`` with fresh seeds, for N minutes.

The CI fuzz tests (``tests/capture/test_fuzz.py``, ``tests/scenario/test_fuzz.py``) run 60 fixed
examples per format; this runs as many as fit in ``--minutes`` (split evenly across the
formats), in this process through the real CLI, and checks the same contract: exit 0 or 3, an
exit 3 naming the file, never a traceback. An example running longer than ``--timeout``
seconds counts as a hang. Every failing input is written to ``--out`` with its seed, and the
command to replay one seed is printed.

Usage::

    .venv/bin/python benchmarks/fuzz_inputs.py --minutes 10
    .venv/bin/python benchmarks/fuzz_inputs.py --minutes 2 --formats gor,har --seed 1000
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzzing import FORMATS, check, mutate, prepare


class _Hang(Exception):
    pass


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _Hang


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="total time (default 5)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated")
    parser.add_argument("--seed", type=int, default=None, help="first seed (default: random)")
    parser.add_argument("--timeout", type=int, default=30, help="seconds per example")
    parser.add_argument("--out", type=Path, default=Path("fuzz-failures"), help="failing inputs")
    args = parser.parse_args()
    names = [n for n in args.formats.split(",") if n]
    first = args.seed if args.seed is not None else random.SystemRandom().randrange(10**9)
    budget = args.minutes * 60 / len(names)
    signal.signal(signal.SIGALRM, _alarm)
    load = os.getloadavg()[0]
    rows = []
    failures = 0
    for name in names:
        fmt = FORMATS[name]
        seed_data = fmt.seed()
        counts: Counter[str] = Counter()
        with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as tmp:
            folder = Path(tmp)
            prepare(fmt, folder)
            seed = first
            end = time.monotonic() + budget
            while time.monotonic() < end:
                data = mutate(seed_data, random.Random(seed), fmt.tokens)
                signal.alarm(args.timeout)
                try:
                    code, problem = check(fmt, folder, data)
                    outcome = f"exit {code}" if problem is None else "contract broken"
                except _Hang:
                    outcome, problem = "hang", f"still running after {args.timeout} s"
                except Exception:  # the finding itself: a traceback the CLI let through
                    outcome, problem = "traceback", traceback.format_exc(limit=-3)
                finally:
                    signal.alarm(0)
                counts[outcome] += 1
                if problem is not None:
                    failures += 1
                    args.out.mkdir(parents=True, exist_ok=True)
                    saved = args.out / f"{name}-{seed}-{fmt.file}"
                    saved.write_bytes(data)
                    print(f"{name} seed {seed}: {outcome}: {problem.strip()[-400:]}")
                    print(f"  input saved to {saved}")
                seed += 1
        rows.append((name, sum(counts.values()), counts))
    print()
    print("| format | tried | exit 0 | exit 3 | contract broken | traceback | hang |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, tried, counts in rows:
        cells = " | ".join(
            str(counts[k]) for k in ("exit 0", "exit 3", "contract broken", "traceback", "hang")
        )
        print(f"| {name} | {tried} | {cells} |")
    print()
    print(f"seeds {first}.. ({args.minutes:g} min), load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
