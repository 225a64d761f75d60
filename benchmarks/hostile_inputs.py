"""The hostile-input campaign: every malformed capture, scenario, stack and config file, and the
resource bombs, through the real ``harness`` command, one fresh process each.

The cases are in ``benchmarks/hostile_cases.py``. Each runs in its own folder with a time
limit; the outcome is classified as

- **exit 3 with a place**: refused with exit 3, every error line one line that names the file
  and a place in it (``file:record``, ``file:line``, ``byte N``, ``entry N``; in a Parquet
  capture file ``column NAME`` or ``metadata key``);
- **tolerated**: exit 0, the damage skipped and counted;
- **exit 3 without a place**: refused, but the message does not say where;
- **traceback**: a Python traceback, or any exit code but 0 and 3 (1 would read as a failed gate);
- **hang**: still running at the time limit (killed).

It prints the table by kind, the peak memory (max RSS of the child process) of the worst case,
and every case whose outcome differs from what the case expects (exit code, or a text the
output should mention).

Usage::

    .venv/bin/python benchmarks/hostile_inputs.py                 # every case (~5 min)
    .venv/bin/python benchmarks/hostile_inputs.py -k har -v       # HAR cases, one line each
    .venv/bin/python benchmarks/hostile_inputs.py --keep /tmp/hi  # keep the files to look at
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hostile_cases import ROOT, Case, all_cases

OUTCOMES = ("exit 3 with a place", "tolerated", "exit 3 without a place", "traceback", "hang")
#: A place in an error line: file:record or file:line, byte N, line N, entry N; in a Parquet
#: capture file, a column or the metadata key.
PLACE = re.compile(
    r"(?::\d+(?=[:\s),;]|$)|\b(?:byte|line|entry|record) \d+|\bcolumn \w+|\bmetadata key )"
)
#: GNU time, to measure each command's own peak memory (see run_case); without it the figure
#: includes this runner's memory.
TIME = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").is_file() else None)
GROUPS = {
    "gor": "captures",
    "mitm": "captures",
    "har": "captures",
    "capture": "captures",
    "scenario": "scenario/stack/config",
    "stack": "scenario/stack/config",
    "config": "scenario/stack/config",
    "bomb": "bombs",
}


@dataclass
class Result:
    case: Case
    code: int | None
    outcome: str
    peak_mb: float
    seconds: float
    stdout: str
    stderr: str
    expected: bool


def run_case(case: Case, folder: Path, timeout: float) -> Result:
    """Write the case's files into ``folder``, run its command, classify what happened."""
    folder.mkdir(parents=True)
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            content(path)
    argv = [arg.replace("{dir}", str(folder)) for arg in case.argv]
    out_path, err_path = folder / ".stdout", folder / ".stderr"
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_CAMPAIGN_UNSET"}
    started = time.monotonic()
    # The peak memory is measured by GNU time around the command: a process's max RSS counts
    # the memory of the process it was spawned from (Linux keeps the high-water mark across
    # exec), and this runner holds every case in memory; time's own child starts small.
    rss_path = folder / ".maxrss"
    wrapper = [TIME, "-q", "-f", "%M", "-o", str(rss_path)] if TIME else []
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            [*wrapper, sys.executable, "-m", "harness.cli.main", *argv],
            stdout=out,
            stderr=err,
            cwd=folder,
            env=env,
            start_new_session=True,
        )
    hung = threading.Event()

    def kill() -> None:
        hung.set()
        os.killpg(process.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, kill)
    timer.start()
    _, status, usage = os.wait4(process.pid, 0)
    timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    code = None if hung.is_set() else process.returncode
    outcome = classify(code, stderr)
    peak_kb = usage.ru_maxrss
    if TIME and rss_path.is_file() and rss_path.read_text().strip().isdigit():
        peak_kb = int(rss_path.read_text().strip())
    return Result(
        case=case,
        code=code,
        outcome=outcome,
        peak_mb=peak_kb / 1024,
        seconds=seconds,
        stdout=stdout,
        stderr=stderr,
        expected=as_expected(case, code, stdout + stderr),
    )


def classify(code: int | None, stderr: str) -> str:
    """The outcome of one run (see the module docstring)."""
    if code is None:
        return "hang"
    if "Traceback (most recent call last)" in stderr or code not in (0, 3):
        return "traceback"
    if code == 0:
        return "tolerated"
    errors = [line for line in stderr.splitlines() if line.strip()]
    # harness lint prints one line per problem; every other command one error line
    if errors and all(PLACE.search(line) for line in errors if "error" in line):
        return "exit 3 with a place"
    return "exit 3 without a place"


def as_expected(case: Case, code: int | None, output: str) -> bool:
    """Whether the case ended as it expects: its exit code, and the texts it should mention."""
    if code is None or str(code) not in case.expect.split("|"):
        return False
    low = output.lower()
    return all(text.lower() in low for text in case.mentions)


def table(results: list[Result]) -> str:
    """The Markdown table of outcomes by group, with a total row."""
    by_group: dict[str, Counter[str]] = defaultdict(Counter)
    for result in results:
        group = GROUPS[result.case.kind]
        by_group[group][result.outcome] += 1
        by_group["all"][result.outcome] += 1
    head = "| inputs | tried | " + " | ".join(OUTCOMES) + " |"
    rows = [head, "|" + "---|" * (len(OUTCOMES) + 2)]
    for group in ("captures", "scenario/stack/config", "bombs", "all"):
        counts = by_group.get(group, Counter())
        cells = " | ".join(str(counts[o]) for o in OUTCOMES)
        name = f"**{group}**" if group == "all" else group
        rows.append(f"| {name} | {sum(counts.values())} | {cells} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per case")
    parser.add_argument("--keep", type=Path, help="write the cases here and keep them")
    args = parser.parse_args()
    capture = ROOT / "captures" / "payments-demo-gor.capture.parquet"
    cases = [c for c in all_cases(capture) if args.k in c.name]
    base = args.keep or Path(tempfile.mkdtemp(prefix="hostile-"))
    base.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    results = []
    try:
        for i, case in enumerate(cases):
            result = run_case(case, base / f"{i:03d}", args.timeout)
            results.append(result)
            if args.verbose or not result.expected:
                mark = "ok  " if result.expected else "DIFF"
                last = (
                    result.stderr.strip().splitlines() or result.stdout.strip().splitlines() or [""]
                )[-1]
                print(
                    f"{mark} {result.outcome:<22} exit {result.code} {result.peak_mb:6.0f} MB "
                    f"{result.seconds:5.1f} s  {case.name}: {last[:160]}",
                    flush=True,
                )
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    load_after = os.getloadavg()
    print()
    print(table(results))
    worst = max(results, key=lambda r: r.peak_mb)
    slowest = max(results, key=lambda r: r.seconds)
    print()
    print(f"peak memory of the worst case: {worst.peak_mb:.0f} MB ({worst.case.name})")
    print(f"slowest case: {slowest.seconds:.1f} s ({slowest.case.name})")
    unexpected = [r for r in results if not r.expected]
    print(f"cases as expected: {len(results) - len(unexpected)}/{len(results)}")
    print(f"load average: {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    return 1 if any(r.outcome in ("traceback", "hang") for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
