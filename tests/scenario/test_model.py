"""Scenario files: the shape of faults, actions and probes, defaults, and line-numbered errors."""

from pathlib import Path

import pytest

from harness.analysis.gates import GatesConfig
from harness.errors import ScenarioError
from harness.scenario.model import (
    CommandAction,
    DownFault,
    LatencyFault,
    PartitionFault,
    PostgresProbe,
    PrometheusProbe,
    SlicerFault,
    ToxiproxyProbe,
    entry_ids,
    fault_label,
    load_scenario,
)

GOOD = """\
name: db-kill
capture: ../captures/x.capture.parquet
speed: 2
duration: 1m
stack: stack.yaml
faults:
  - {at: 20s, for: 15s, dependency: postgres, kind: down}
  - {at: 50s, for: 10s, kind: latency, latency_ms: 400, jitter_ms: 100, targets: [candidate]}
  - {at: 52s, for: 500ms, kind: slicer, average_size: 10, delay_us: 50, stream: both, stack: true}
  - {at: 30s, run: "echo hi", timeout: 5s}
  - {at: 40s, for: 5s, kind: partition, toxicity: 0.5}
probes:
  - {name: db_attempts, prometheus: {path: /metrics, metric: payments_db_attempts_total}}
  - {name: db_xacts, postgres: xact, interval: 2s}
  - {name: accepts, toxiproxy: accepted_connections}
independent_routes: [/health, /catalog]
gates:
  error_rate: {max_increase_pp: 1.0}
  recovery_time: {max: 10s}
lag_bound_ms: 20
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenarios" / "s.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_load_good(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    scenario = load_scenario(path)
    assert scenario.file == path
    assert scenario.capture == tmp_path / "captures" / "x.capture.parquet"
    assert scenario.stack == tmp_path / "scenarios" / "stack.yaml"
    assert scenario.speed == 2.0
    assert scenario.duration == 60.0
    down, latency, slicer, action, partition = scenario.faults
    assert isinstance(down, DownFault)
    assert (down.at, down.for_, down.until) == (20.0, 15.0, 35.0)
    assert isinstance(latency, LatencyFault)
    assert latency.stream == "downstream"
    assert latency.attributes() == {"latency": 400, "jitter": 100}
    assert latency.targets == ["candidate"]
    assert isinstance(slicer, SlicerFault)
    assert slicer.attributes() == {"average_size": 10, "size_variation": 0, "delay": 50}
    assert slicer.stack and slicer.stream == "both"
    assert isinstance(action, CommandAction)
    assert action.timeout == 5.0
    assert isinstance(partition, PartitionFault)
    assert partition.toxicity == 0.5
    assert entry_ids(scenario.faults) == ["f1", "f2", "f3", "a1", "f4"]
    assert fault_label(latency) == "postgres latency 400ms±100ms (candidate)"
    assert len(scenario.fault_list()) == 4
    assert scenario.actions() == [action]
    p1, p2, p3 = scenario.probes
    assert isinstance(p1, PrometheusProbe)
    assert p1.prometheus.metric == "payments_db_attempts_total"
    assert isinstance(p2, PostgresProbe)
    assert (p2.postgres, p2.interval) == ("xact", 2.0)
    assert isinstance(p3, ToxiproxyProbe)
    assert isinstance(scenario.gates, GatesConfig)
    assert scenario.gates.enabled() == ["error_rate", "recovery_time"]
    assert scenario.lag_bound_ms == 20.0


def test_defaults(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, "name: n\ncapture: c.parquet\nstack: s.yaml\n"))
    assert scenario.speed == 1.0
    assert scenario.duration is None
    assert scenario.faults == [] and scenario.probes == []
    assert scenario.probe_interval == 1.0
    assert scenario.gates.enabled() == ["error_rate", "latency_p99"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("  - {at: 1s, for: 2s, kind: latency, latency_ms: slow}", r":7: faults\.0\.latency_ms: "),
        ("  - {at: 1s, for: 2s, kind: explode}", r":7: faults\.0: unknown fault kind 'explode'"),
        ("  - {at: 1s, for: 2s, kind: down, stream: both}", r":7: faults\.0\.stream: unknown key"),
        ("  - {at: soon, for: 2s, kind: down}", r":7: faults\.0\.at: not a duration"),
        ("  - {at: 1s, for: 0s, kind: down}", r":7: faults\.0\.for: "),
        ("  - {at: 1s, kind: down}", r":7: faults\.0\.for: required key is missing"),
        (
            "  - {at: 1s, for: 2s, kind: latency, latency_ms: 1, toxicity: 2}",
            r"faults\.0\.toxicity",
        ),
        ("  - {at: 1s, run: ''}", r":7: faults\.0\.run: "),
    ],
)
def test_bad_fault_names_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    text = "name: n\ncapture: c.parquet\nstack: s.yaml\nprobes: []\n\nfaults:\n" + line + "\n"
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError, match=expected) as err:
        load_scenario(path)
    assert str(err.value).startswith(str(path))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("probes:\n  - {name: p, postgres: xacts}", r":5: probes\.0\.postgres: Input should be"),
        ("probes:\n  - {name: p}", r":5: probes\.0: each probe needs exactly one of"),
        ("probes:\n  - {name: p, toxiproxy: bytes}", r":5: probes\.0\.toxiproxy: "),
        ("probes:\n  - name: p\n    prometheus: {path: /m}", r":6: probes\.0\.prometheus\.metric"),
        ("gates:\n  error_rat: {max_increase_pp: 1}", r":5: gates\.error_rat: unknown key"),
        ("speed: 0", r":4: speed: "),
        ("colour: red", r":4: colour: unknown key 'colour'"),
    ],
)
def test_bad_scenario_names_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, "name: n\ncapture: c.parquet\nstack: s.yaml\n" + text + "\n")
    with pytest.raises(ScenarioError, match=expected):
        load_scenario(path)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match="the file is empty"):
        load_scenario(_write(tmp_path, ""))


def test_manifest_form_has_seconds(tmp_path: Path) -> None:
    import json

    data = load_scenario(_write(tmp_path, GOOD)).to_manifest()
    assert json.loads(json.dumps(data)) == data
    assert data["duration"] == 60.0
    assert data["faults"][0]["for"] == 15.0
    assert data["capture"] == str(tmp_path / "captures" / "x.capture.parquet")
    assert data["gates"]["recovery_time"]["max"] == 10.0
