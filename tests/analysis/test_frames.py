"""Reading a run directory: compact frames, lenient manifests, clear errors."""

import json
from pathlib import Path

import pytest

from harness.analysis.frames import load_run
from harness.analysis.verdict import judge
from harness.errors import InputError
from tests.analysis.runs import Behaviour, Fault, SyntheticRun


def _run(tmp_path: Path) -> Path:
    run = SyntheticRun(duration_s=4, rate=10, faults=[Fault(1, 1)])
    run.target("baseline", "baseline").target("cand", "candidate", Behaviour(error=0.5))
    return run.write(tmp_path / "run")


def test_requests_are_compact(tmp_path: Path) -> None:
    run = load_run(_run(tmp_path))
    frame = run.requests
    assert len(frame) == 80
    for column in ("target", "route", "error"):
        assert frame[column].dtype.name == "category"
    assert frame["body_code"].dtype.name == "int32"
    failed = frame[frame["status"] == 503]
    assert (failed["body_code"] == -1).all()
    ok = frame[frame["status"] == 200]
    # The same body on both targets has the same code.
    both = ok.groupby("idx")["body_code"].nunique()
    assert (both == 1).all()
    (fault,) = run.faults
    assert (fault.start_ns, fault.end_ns) == (1_002_000_000, 2_003_000_000)


def test_manifest_written_in_steps_is_read(tmp_path: Path) -> None:
    # The shape a bare replay writes first: null roles for other names, null versions/validity.
    root = _run(tmp_path)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["targets"]["cand"]["role"] = None
    manifest["versions"]["toxiproxy"] = None
    manifest["validity"] = None
    manifest["scenario"] = None
    (root / "manifest.json").write_text(json.dumps(manifest))
    run = load_run(root)
    assert run.manifest.names_with_role("candidate") == ["cand"]
    assert run.manifest.validity.valid
    verdict = judge(run)
    assert [g.name for g in verdict.gates] == ["error_rate", "latency_p99"]  # the defaults
    assert "toxiproxy" not in verdict.versions


def test_empty_run_is_inconclusive(tmp_path: Path) -> None:
    run = SyntheticRun(duration_s=0, rate=10)
    root = run.target("baseline", "baseline").target("c", "candidate").write(tmp_path / "run")
    verdict = judge(load_run(root))
    assert verdict.status == "inconclusive"


def test_broken_files_name_themselves(tmp_path: Path) -> None:
    root = _run(tmp_path)
    (root / "events.jsonl").write_text('{"t_ns": 1, "kind": "run_started"}\nnot json\n')
    with pytest.raises(InputError, match=r"events\.jsonl:2: bad event"):
        load_run(root)
    (root / "events.jsonl").unlink()
    (root / "requests.parquet").write_bytes(b"nope")
    with pytest.raises(InputError, match=r"requests\.parquet: cannot read requests"):
        load_run(root)
    (root / "manifest.json").write_text("{")
    with pytest.raises(InputError, match=r"manifest\.json: cannot read manifest"):
        load_run(root)


def test_command_actions_are_windows_of_their_own() -> None:
    from harness.analysis.frames import Event, fault_windows

    def action(kind: str, t_ns: int, target: str) -> Event:
        info = {"id": "a1", "label": "migration", "target": target}
        return Event(t_ns, kind, {"kind": kind, "action": info})

    fault = {"id": "f1", "label": "postgres down", "kind": "down", "dependency": "postgres"}
    events = [
        Event(1_000, "fault_applied", {"fault": fault}),
        Event(2_000, "fault_reverted", {"fault": fault}),
        action("action_started", 3_000, "baseline"),
        action("action_started", 3_100, "candidate"),
        action("action_finished", 9_000, "candidate"),
        action("action_finished", 9_500, "baseline"),
        Event(12_000, "action_started", {"action": {"id": "a2", "label": "restart"}}),
    ]
    windows = fault_windows(events)
    assert [(w.id, w.kind, w.start_ns, w.end_ns) for w in windows] == [
        ("f1", "down", 1_000, 2_000),
        ("a1", "action", 3_000, 9_500),
        ("a2", "action", 12_000, None),  # never finished: open to the end of the run
    ]
    assert windows[1].targets == ("baseline", "candidate")
    assert windows[1].label == "migration"
