"""Fuzzing of every input format: mutations of real files, run through the real ``harness`` CLI.

Shared by the fuzz tests (``tests/capture/test_fuzz.py``, ``tests/scenario/test_fuzz.py``:
bounded, deterministic, a few seconds each) and the longer run of
``benchmarks/fuzz_inputs.py --minutes N``. A mutation is drawn from a ``random.Random`` (so
hypothesis can drive and shrink it through ``st.randoms()``, and the script can replay a seed):
bytes flipped, inserted, deleted, duplicated or cut, numbers replaced by extreme ones, and
tokens that mean something to the format (separators, aliases, nesting, ``NaN``, a terabyte
length prefix) spliced in.

The contract every run must keep: exit 0 (what was usable imported, the rest counted) or exit 3
(one line that names the file); never a traceback, never another exit code.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, settings

from harness.cli.main import main

#: The bounded fuzz of the test suite: deterministic examples, the same on every run.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "capture" / "data"
MONKEYS = "🐵🙈🙉".encode()

_NUMBERS = [b"0", b"-1", b"9" * 30, b"99999999999", b"1e400", b"-0", b"1_0", b"0x10", b".5"]
_DIGITS = re.compile(rb"\d+")


@dataclass(frozen=True)
class Format:
    """A format to fuzz: the file it mutates, the other files it needs, the command that reads."""

    name: str
    file: str
    seed: Callable[[], bytes]
    argv: Callable[[Path], list[str]]
    tokens: tuple[bytes, ...]
    extra: Callable[[], dict[str, bytes]] = dict


def mutate(data: bytes, rng: random.Random, tokens: tuple[bytes, ...]) -> bytes:
    """``data`` with one to four mutations drawn from ``rng``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(8)
        at = rng.randint(0, len(out))
        if kind == 0 and out:  # flip a few bytes
            for _ in range(rng.randint(1, 8)):
                out[rng.randrange(len(out))] = rng.randrange(256)
        elif kind == 1:  # insert random bytes
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif kind == 2:  # delete a range
            del out[at : at + rng.randint(1, 64)]
        elif kind == 3:  # duplicate a range
            piece = out[at : at + rng.randint(1, 512)]
            where = rng.randint(0, len(out))
            out[where:where] = piece * rng.randint(1, 3)
        elif kind == 4:  # cut the end off
            del out[at:]
        elif kind == 5:  # a number made extreme
            numbers = list(_DIGITS.finditer(out))
            if numbers:
                found = rng.choice(numbers)
                out[found.start() : found.end()] = rng.choice(_NUMBERS)
        elif kind in (6, 7) and tokens:  # a token of the format spliced in
            out[at:at] = rng.choice(tokens) * rng.choice((1, 1, 2, 50))
    return bytes(out)


def run(argv: list[str]) -> tuple[int, str, str]:
    """``harness ARGV`` in this process: (exit code, stdout, stderr). An exception escapes."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def contract_problem(code: int, stderr: str, names: list[str]) -> str | None:
    """What breaks the input contract in one run's outcome, or ``None``: an exit code but 0 and
    3, or an exit 3 whose error lines do not each name one of the files ``names``."""
    if code not in (0, 3):
        return f"exit {code}: {stderr.strip()[-300:]}"
    if code == 3:
        lines = [line for line in stderr.splitlines() if line.strip()]
        if not lines:
            return "exit 3 without a message"
        for line in lines:
            if "error" in line and not any(name in line for name in names):
                return f"exit 3 without a file's name: {line[:300]}"
    return None


def _gor() -> bytes:
    parts = (ROOT / "captures" / "payments-demo.gor").read_bytes().split(b"\n" + MONKEYS + b"\n")
    return b"".join(p + b"\n" + MONKEYS + b"\n" for p in parts[:12])


def _import(name: str) -> Callable[[Path], list[str]]:
    def argv(folder: Path) -> list[str]:
        return ["capture", "import", str(folder / name), "-o", str(folder / "out.capture.parquet")]

    return argv


def _lint(folder: Path) -> list[str]:
    return ["lint", str(folder / "s.yaml")]


STACK = b"""\
name: shop
postgres: {template: shop_template}
builds:
  v1: "{python} -m http.server {port}"
targets:
  baseline: {build: v1, env: {A: x}, headers: {X-K: {from_env: HOME}}}
  candidate: {build: "${SHOP_BUILD:-v1}"}
defaults: {health: /, startup_timeout: 30s}
"""

SCENARIO = b"""\
name: shop-kill
capture: capture.capture.parquet
stack: stack.yaml
speed: 2.0
duration: 40s
faults:
  - {at: 5s, for: 5s, dependency: postgres, kind: down}
  - {at: 15s, for: 5s, kind: latency, latency_ms: 300, jitter_ms: 50, targets: [candidate]}
  - {at: 25s, run: "{python} -c 'print(1)' {postgres.url:candidate}", timeout: 10s}
probes:
  - {name: db_attempts, prometheus: {path: /metrics, metric: x_total}}
independent_routes: [/health]
gates:
  error_rate: {max_increase_pp: 1.0}
  latency_p99: {max_ratio: 1.25}
  retry_amplification: {max_ratio: 1.5, probe: db_attempts}
"""

CONFIG = b"""\
session: {header: X-Client-Id}
routes:
  rules:
    - {pattern: "/accounts/[^/]+/balance", route: "/accounts/{id}/balance"}
redaction: {headers: [X-Sig], fields: [iban]}
filters: {deny_routes: [/health], since_s: 0, sample: 1.0}
limits: {max_record_bytes: 8M}
"""

_YAML_TOKENS = (b"&a ", b"*a", b"<<: ", b".nan", b".inf", b"{", b"[", b"\t", b"\n  ", b": ", b"- ",
                b"!!python/object ", b"'", b'"', b"\\", b"\xff", b"\x00", b"? ", b"%YAML 1.1\n",
                b"---\n", b"${X}", b"{bogus}", b"speed: 1\n")  # fmt: skip


def _capture() -> dict[str, bytes]:
    return {
        "capture.capture.parquet": (
            ROOT / "captures" / "payments-demo-gor.capture.parquet"
        ).read_bytes()
    }


FORMATS: dict[str, Format] = {
    "gor": Format(
        "gor",
        "in.gor",
        _gor,
        _import("in.gor"),
        (
            MONKEYS,
            b"\n" + MONKEYS + b"\n",
            b"\r\n" + MONKEYS + b"\r\n",
            b"\r\n",
            b"\n",
            b"1 ",
            b"2 ",
            b"3 ",
            b"HTTP/1.1 ",
            b"\xef\xbb\xbf",
            b"\x1f\x8b\x08\x00",
            b" ",
        ),
    ),
    "mitm": Format(
        "mitm",
        "in.mitm",
        (DATA / "flows-successful_log.mitm").read_bytes,
        _import("in.mitm"),
        (
            b"999999999999:",
            b"0:~",
            b"0:]",
            b"0:}",
            b"4:true!",
            b"3:nan^",
            b"5:hello,",
            b"1:5#",
            b"]",
            b"}",
            b",",
            b";",
            b"#",
            b"^",
            b":",
        ),
    ),
    "har": Format(
        "har",
        "in.har",
        (DATA / "postdata.har").read_bytes,
        _import("in.har"),
        (
            b"NaN",
            b"Infinity",
            b"-1",
            b"1e400",
            b"[",
            b"{",
            b"]",
            b"}",
            b'"\\ud800"',
            b"null",
            b'"9999-12-31T00:00:00Z"',
            b'"http://[::1/x"',
            b",",
            b'"status": "abc"',
            b"\xff",
        ),
    ),
    "scenario": Format(
        "scenario",
        "s.yaml",
        lambda: SCENARIO,
        _lint,
        _YAML_TOKENS,
        lambda: {**_capture(), "stack.yaml": STACK},
    ),
    "stack": Format(
        "stack",
        "stack.yaml",
        lambda: STACK,
        _lint,
        _YAML_TOKENS,
        lambda: {**_capture(), "s.yaml": SCENARIO},
    ),
    "config": Format(
        "config",
        "c.yaml",
        lambda: CONFIG,
        lambda folder: [*_import("in.gor")(folder), "--config", str(folder / "c.yaml")],
        _YAML_TOKENS,
        lambda: {"in.gor": _gor()},
    ),
}


def prepare(fmt: Format, folder: Path) -> None:
    """Write the files ``fmt`` needs besides the one it mutates into ``folder``."""
    for name, data in fmt.extra().items():
        (folder / name).write_bytes(data)


def check(fmt: Format, folder: Path, data: bytes) -> tuple[int, str | None]:
    """Write ``data`` as the mutated file, run the command: (exit code, contract problem)."""
    (folder / fmt.file).write_bytes(data)
    code, _, stderr = run(fmt.argv(folder))
    return code, contract_problem(code, stderr, [fmt.file, *fmt.extra()])


def fuzz_once(name: str, folder: Path, rng: random.Random) -> None:
    """One mutation of format ``name``'s seed through the CLI in ``folder``: fails the test with
    the problem when the outcome breaks the contract (an exit code but 0 and 3, or an exit 3
    whose message names no file)."""
    fmt = FORMATS[name]
    prepare(fmt, folder)
    code, problem = check(fmt, folder, mutate(fmt.seed(), rng, fmt.tokens))
    assert problem is None, problem
    assert code in (0, 3)
