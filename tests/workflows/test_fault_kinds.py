"""Every fault kind, seen from the target side in one `harness run` on the demo stack.

One timeline applies the kinds one after another (never overlapping) under replayed traffic;
for each window, the requests of the production build (v2.3.1) to routes that use the
database show the fault — errors or added latency inside the window, not before the first.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from harness.cli.main import main
from tests.workflows.traffic import payments_capture

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# (kind, params, what the target shows); each fault lasts 3 s, 2 s apart
KINDS: list[tuple[str, str, str]] = [
    ("latency", "latency_ms: 300", "slower"),
    ("bandwidth", "rate_kbps: 1", "slower"),
    ("slicer", "average_size: 8, delay_us: 20000", "slower"),
    ("partition", "", "errors"),
    ("reset_peer", "timeout_ms: 0", "errors"),
    ("timeout", "timeout_ms: 100", "errors"),
    ("limit_data", "bytes: 50", "errors"),
    ("down", "", "errors"),
    ("slow_close", "delay_ms: 1000", "listed"),
]
START_S, LENGTH_S, GAP_S = 3.0, 3.0, 2.0


@pytest.fixture(scope="module")
def run_dir() -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix="harness-test-kinds-"))
    try:
        capture = payments_capture(work, seconds=START_S + len(KINDS) * (LENGTH_S + GAP_S), rate=40)
        faults = []
        for i, (kind, params, _effect) in enumerate(KINDS):
            at = START_S + i * (LENGTH_S + GAP_S)
            extra = f", {params}" if params else ""
            faults.append(
                f"  - {{at: {at}s, for: {LENGTH_S}s, dependency: postgres, kind: {kind}{extra}}}"
            )
        scenario = work / "kinds.yaml"
        scenario.write_text(
            f"name: kinds\ncapture: {capture}\nstack: {REPO / 'examples/payments/stack.yaml'}\n"
            "timeout: 2s\nfaults:\n" + "\n".join(faults) + "\n"
        )
        out = work / "run"
        assert main(["run", str(scenario), "-o", str(out), "--quiet", "--no-judge"]) == 0
        yield out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _windows(run_dir: Path) -> dict[str, tuple[int, int, dict[str, object]]]:
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    applied = {e["fault"]["kind"]: e for e in events if e["kind"] == "fault_applied"}
    reverted = {e["fault"]["kind"]: e for e in events if e["kind"] == "fault_reverted"}
    return {
        kind: (int(applied[kind]["t_ns"]), int(reverted[kind]["t_ns"]), applied[kind]["verified"])
        for kind in applied
    }


@pytest.mark.parametrize(("kind", "params", "effect"), KINDS, ids=[k for k, _, _ in KINDS])
def test_fault_kind_seen_by_the_target(run_dir: Path, kind: str, params: str, effect: str) -> None:
    windows = _windows(run_dir)
    start, end, verified = windows[kind]
    assert verified["ok"] is True, verified
    requests = pd.read_parquet(run_dir / "requests.parquet")
    base = requests[(requests.target == "baseline") & ~requests.route.isin(["/health", "/catalog"])]
    failed = (base.status == 0) | (base.status >= 500)
    inside = base[(base.due_ns > start + 300_000_000) & (base.due_ns < end - 100_000_000)]
    before = base[base.due_ns < int(START_S * 1e9) - 300_000_000]
    assert len(inside) > 20 and len(before) > 20
    assert failed[before.index].mean() < 0.02  # healthy before the first fault
    if effect == "errors":
        assert failed[inside.index].mean() > 0.5, kind
    elif effect == "slower":
        ok_inside = inside[~failed[inside.index]]
        slow_inside = ok_inside.latency_ms.median() if len(ok_inside) else float("inf")
        slow_errors = failed[inside.index].mean()
        # slower answers, or answers that gave up (a build's own deadline) in the window
        assert slow_inside > 3 * before.latency_ms.median() or slow_errors > 0.5, kind
    else:  # slow_close only delays closing a connection: the toxic on the proxy is the evidence
        fault_id = f"f{[k for k, _, _ in KINDS].index(kind) + 1}"
        assert verified["check"] == "toxic_listed"
        assert f"harness_{fault_id}_downstream listed" in str(verified["detail"])


def test_every_fault_reverted_and_verified(run_dir: Path) -> None:
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    reverted = [e for e in events if e["kind"] == "fault_reverted"]
    assert len(reverted) == len(KINDS)
    assert all(e["verified"]["ok"] for e in reverted)
