"""The ``response_diff`` gate end to end: real builds of the payments service on the embedded
stack, responses kept by the replay (``responses.parquet``), noise learned from an A/A copy.

One run of the bundled demo capture without faults: ``v2.3.1`` as baseline, a second copy of it
as the A/A copy, a third copy as a candidate (it must pass: its differences are the noise the
two copies show, such as ``created_at`` of new payments) and ``hotfix-format`` (the balance as a
string: it must fail, naming the field).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from harness.analysis.frames import Run, load_run
from harness.analysis.gates import parse_gates
from harness.analysis.model import Verdict
from harness.analysis.verdict import judge
from harness.scenario.stackfile import TargetSpec
from harness.workflows.run import RunRequest, run_scenario

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

SCENARIO = f"""\
name: response-diff
capture: {REPO}/captures/payments-demo-mitm.capture.parquet
speed: 5.0
loop: true
allow_original_host: true
duration: 16s
timeout: 2s
stack: {REPO}/examples/payments/stack.yaml
lag_bound_ms: 1000   # a machine shared by many test runs: the gate is what is checked here
gates:
  response_diff: {{max_share: 0.01}}
"""


@pytest.fixture(scope="module")
def run_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="harness-test-response-diff-"))
    try:
        scenario = folder / "response-diff.yaml"
        scenario.write_text(SCENARIO)
        targets = {
            "v2.3.1": TargetSpec(build="v2.3.1", role="baseline"),
            "v2.3.1-aa": TargetSpec(build="v2.3.1", role="aa"),
            "v2.3.1-copy": TargetSpec(build="v2.3.1", role="candidate"),
            "hotfix-format": TargetSpec(build="hotfix-format", role="candidate"),
        }
        request = RunRequest(
            scenario=scenario, run_dir=folder / "run", targets=targets, baseline="v2.3.1"
        )
        run_scenario(request)
        yield folder / "run"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def run(run_dir: Path) -> Run:
    return load_run(run_dir)


def _judge(run: Run, candidate: str) -> Verdict:
    return judge(run, baseline="v2.3.1", candidate=candidate)


def test_the_replay_kept_the_responses(run: Run) -> None:
    assert run.responses is not None
    kept = set(run.responses["target"])
    assert kept == {"v2.3.1", "v2.3.1-aa", "v2.3.1-copy", "hotfix-format"}
    assert run.manifest.validity.valid, run.manifest.validity.reasons


def test_a_copy_of_the_baseline_passes_beyond_the_learned_noise(run: Run) -> None:
    verdict = _judge(run, "v2.3.1-copy")
    assert verdict.aa == "v2.3.1-aa"
    assert (verdict.responses.compared, verdict.responses.learned) == ("fields", True)
    gate = verdict.gate("response_diff")
    assert gate.status == "pass", gate.reason
    # the copies do differ, in fields the A/A pair shows to be noise
    assert verdict.responses.noise_share is not None and verdict.responses.noise_share > 0
    assert all(f.noise for f in verdict.responses.fields), verdict.responses.fields


def test_a_changed_field_fails_and_is_named(run: Run) -> None:
    verdict = _judge(run, "hotfix-format")
    gate = verdict.gate("response_diff")
    assert gate.status == "fail"
    assert "`$.balance_cents` on `/accounts/{id}/balance`" in gate.reason
    held = [f for f in verdict.responses.fields if not f.noise]
    assert [(f.route, f.field) for f in held] == [("/accounts/{id}/balance", "$.balance_cents")]
    example = next(e for e in verdict.responses.examples if e.route == "/accounts/{id}/balance")
    change = example.fields[0]
    assert change.field == "$.balance_cents"
    assert change.candidate == f'"{change.baseline}"'  # the same number, as a string


def test_without_the_aa_copy_ignore_rules_take_out_what_normalisers_cannot_know(
    run: Run,
) -> None:
    # Two databases order concurrent payments differently: the new payment's id (and its
    # Location) can differ between identical builds. An A/A copy learns that; without one, the
    # normalisers know times, UUIDs and tokens but not ids: ignore rules take them out.
    assert run.responses is not None
    run = replace(run, responses=run.responses[run.responses["target"] != "v2.3.1-aa"])
    ignore = {"/payments": ["$.id", "header:Location"]}
    gates = parse_gates({"response_diff": {"max_share": 0.01, "ignore": ignore}})
    copy = judge(run, gates, baseline="v2.3.1", candidate="v2.3.1-copy")
    assert (copy.responses.compared, copy.responses.learned) == ("fields", False)
    assert copy.gate("response_diff").status == "pass", copy.gate("response_diff").reason
    assert not any(f.field in ("$.id", "header:location") for f in copy.responses.fields)
    changed = judge(run, gates, baseline="v2.3.1", candidate="hotfix-format")
    assert changed.gate("response_diff").status == "fail"
    assert "`$.balance_cents` on `/accounts/{id}/balance`" in changed.gate("response_diff").reason
