"""Lint: a scenario and everything it names, every problem with its file and line."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.capture.record import Exchange
from harness.capture.schema import FORMAT_VERSION
from harness.capture.store import CaptureMetadata, CaptureWriter, Counts, RedactionReport
from harness.errors import ScenarioError
from harness.scenario.lint import lint

STACK = """\
name: shop
builds:
  v1: "{python} app.py --port {port} --dsn {postgres.url}"
targets:
  baseline: {build: v1}
  candidate: {build: v1}
"""

HEAD = """\
name: s
capture: c.capture.parquet
stack: stack.yaml
"""


def write_capture(path: Path, span_s: float = 60.0, capture: bool = True) -> Path:
    """Two requests ``span_s`` apart: a real capture file, or (``capture=False``) a Parquet
    file without the capture metadata."""
    if not capture:
        pq.write_table(pa.table({"idx": [0, 1], "offset_ns": [0, int(span_s * 1e9)]}), path)
        return path
    writer = CaptureWriter(path)
    for i, offset_s in enumerate((0.0, span_s)):
        writer.add(
            Exchange(
                ts_ns=1_700_000_000 * 10**9 + int(offset_s * 1e9),
                method="GET",
                scheme="http",
                host="h",
                path=f"/r/{i}",
                http_version="HTTP/1.1",
                head="Host: h",
                body=b"",
                source=f"test:{i}",
            )
        )
    counts = Counts(read=2, written=2, responses=0, skipped=0, filtered=0)
    writer.close(
        CaptureMetadata(
            format_version=FORMAT_VERSION,
            sources=[],
            counts=counts,
            redaction=RedactionReport(enabled=False),
        )
    )
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "stack.yaml").write_text(STACK)
    write_capture(tmp_path / "c.capture.parquet")
    return tmp_path


def _lint(folder: Path, body: str) -> list[str]:
    path = folder / "s.yaml"
    path.write_text(HEAD + body)
    return [str(p) for p in lint(path).problems]


def test_clean_scenario(folder: Path) -> None:
    body = """\
duration: 50s
faults:
  - {at: 10s, for: 5s, kind: down}
  - {at: 15s, for: 5s, kind: latency, latency_ms: 100, stack: true}
  - {at: 12s, for: 5s, kind: latency, latency_ms: 100, targets: [candidate], stack: true}
  - {at: 30s, for: 5s, kind: partition, targets: [baseline]}
  - {at: 31s, for: 5s, kind: down, targets: [candidate]}
  - {at: 20s, run: "{python} -c 'print(1)' {postgres.url:candidate} {run_dir} ${HOME}"}
probes:
  - {name: db_attempts, prometheus: {metric: x_total}}
gates:
  retry_amplification: {max_ratio: 1.5, probe: db_attempts}
  cascade: {max_error_rate: 0.01}
independent_routes: [/health]
"""
    path = folder / "s.yaml"
    path.write_text(HEAD + body)
    report = lint(path)
    assert report.problems == []
    assert report.ok
    assert report.capture_span_s == 60.0
    assert report.stack is not None
    assert report.raise_for_errors().name == "s"


def test_missing_capture_and_stack(tmp_path: Path) -> None:
    problems = _lint(tmp_path, "")
    assert problems[0].startswith(f"{tmp_path / 's.yaml'}:2: error: capture: no such file")
    assert problems[1].startswith(f"{tmp_path / 's.yaml'}:3: error: stack: ")
    assert "no such file" in problems[1]


def test_not_a_capture(folder: Path) -> None:
    write_capture(folder / "c.capture.parquet", capture=False)
    assert "metadata key harness.capture: missing, not a capture file" in _lint(folder, "")[0]
    (folder / "c.capture.parquet").write_text("hello")
    assert "byte 0: not a capture file (unreadable Parquet footer" in _lint(folder, "")[0]


def test_broken_stack_reports_its_line(folder: Path) -> None:
    (folder / "stack.yaml").write_text(STACK + "colour: red\n")
    (problem,) = _lint(folder, "")
    assert problem.startswith(f"{folder / 's.yaml'}:3: error: stack: ")
    assert f"{folder / 'stack.yaml'}:7: colour: unknown key" in problem


def test_unknown_dependency_and_target(folder: Path) -> None:
    problems = _lint(
        folder,
        "faults:\n  - {at: 1s, for: 1s, kind: down, dependency: redis}\n"
        "  - {at: 5s, for: 1s, kind: down, targets: [canary]}\n"
        "  - {at: 9s, run: 'echo {postgres.url:canary} {nope}'}\n",
    )
    assert problems[0].endswith(":5: error: unknown dependency 'redis' (dependencies: postgres)")
    assert problems[1].endswith(
        ":6: error: no target named 'canary' (targets: baseline, candidate)"
    )
    assert problems[2].endswith(":7: error: {postgres.url:canary}: no target named 'canary'")
    assert ":7: error: unknown placeholder {nope}" in problems[3]


def test_overlaps(folder: Path) -> None:
    problems = _lint(
        folder,
        "faults:\n"
        "  - {at: 10s, for: 10s, kind: latency, latency_ms: 5}\n"
        "  - {at: 15s, for: 10s, kind: latency, latency_ms: 9, targets: [candidate]}\n"
        "  - {at: 20s, for: 1s, kind: down, targets: [baseline]}\n"
        "  - {at: 40s, for: 5s, kind: down}\n"
        "  - {at: 42s, for: 5s, kind: down, stack: true}\n",
    )
    assert len(problems) == 2
    assert ":6: error: overlaps f1 (postgres latency 5ms, line 5, 10s-20s)" in problems[0]
    assert "set `stack: true`" in problems[0]
    assert ":9: error: overlaps f4" in problems[1]
    assert "cannot go down twice" in problems[1]


def test_after_duration_and_capture_end(folder: Path) -> None:
    problems = _lint(
        folder,
        "duration: 30s\nfaults:\n  - {at: 25s, for: 10s, kind: down}\n  - {at: 31s, run: 'true'}\n",
    )
    assert ":6: error: postgres down ends at 35s, after the duration (30s)" in problems[0]
    assert ":7: error: action at 31s is after the duration (30s)" in problems[1]
    path = folder / "s.yaml"
    path.write_text(HEAD + "speed: 2\nfaults:\n  - {at: 25s, for: 10s, kind: down}\n")
    report = lint(path)
    assert report.ok  # a warning only
    assert "warning: postgres down ends at 35s, after the capture's end" in str(report.problems[0])


def test_probes_and_gates(folder: Path) -> None:
    problems = _lint(
        folder,
        "probes:\n  - {name: a, postgres: xact}\n  - {name: a, postgres: sessions}\n"
        "gates:\n  retry_amplification: {max_ratio: 2}\n  cascade: {max_error_rate: 0.1}\n"
        "independent_routes: [health]\n",
    )
    assert problems[0].endswith(":6: error: probe name 'a' is already used by probes.0")
    assert problems[1].endswith(
        ":8: error: gates.retry_amplification: probe 'postgres_attempts' is not in probes "
        "(probes: a); postgres_attempts is sampled when a fault hits postgres, else add "
        "{name: postgres_attempts, postgres: attempts} to probes"
    )
    assert problems[2].endswith(
        ":10: error: independent_routes.0: a route starts with '/', got 'health'"
    )
    assert len(problems) == 3  # cascade has its routes


def test_a_postgres_fault_brings_the_attempts_probe(folder: Path) -> None:
    body = (
        "faults:\n  - {at: 1s, for: 1s, kind: down}\n"
        "gates:\n  retry_amplification: {max_ratio: 2}\n"
    )
    report = lint(_write(folder, body))
    assert report.ok, report.problems
    assert report.scenario is not None
    assert report.scenario.probe_names() == ["postgres_attempts"]
    probes = report.scenario.run_probes()
    assert probes[0].model_dump() == {
        "name": "postgres_attempts",
        "interval": None,
        "postgres": "attempts",
    }
    problems = _lint(folder, body.replace("max_ratio: 2", "max_ratio: 2, probe: db_attempts"))
    assert problems[0].endswith(
        ":7: error: gates.retry_amplification: probe 'db_attempts' is not in probes "
        "(probes: postgres_attempts)"
    )


def _write(folder: Path, body: str) -> Path:
    path = folder / "s.yaml"
    path.write_text(HEAD + body)
    return path


def test_all_shape_errors_reported(folder: Path) -> None:
    problems = _lint(
        folder, "speed: -1\nfaults:\n  - {at: 1s, for: 1s, kind: warp}\nprobes:\n  - {name: p}\n"
    )
    assert [p.split(": error:")[0][-2:] for p in problems] == [":4", ":6", ":8"]


def test_raise_for_errors(folder: Path) -> None:
    path = folder / "s.yaml"
    path.write_text(HEAD + "faults:\n  - {at: 1s, for: 1s, kind: down, dependency: redis}\n")
    with pytest.raises(ScenarioError, match=r"s\.yaml:5: unknown dependency 'redis'"):
        lint(path).raise_for_errors()


def test_bundled_scenarios_are_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOXIPROXY_URL", raising=False)
    monkeypatch.delenv("PAYMENTS_CANDIDATE", raising=False)
    root = Path(__file__).parents[2] / "scenarios"
    paths = sorted([*root.glob("*.yaml"), *root.glob("nightly/*.yaml")])
    assert len(paths) >= 8
    for path in paths:
        assert [str(p) for p in lint(path).problems] == [], path


def test_toxiproxy_probe_with_external_server_warns(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOXIPROXY_URL", "http://127.0.0.1:8474")
    path = folder / "s.yaml"
    path.write_text(HEAD + "probes:\n  - {name: accepts, toxiproxy: accepted_connections}\n")
    report = lint(path)
    assert report.ok
    assert ":5: warning: TOXIPROXY_URL is set" in str(report.problems[0])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "faults:\n  - {at: .nan, for: 5s, kind: down}\n",
            "s.yaml:5: error: faults.0.at: .nan is not a finite number",
        ),
        (
            "faults:\n  - {at: 1s, for: .inf, kind: down}\n",
            "s.yaml:5: error: faults.0.for: .inf is not a finite number",
        ),
        ("duration: 1e400\n", "s.yaml:4: error: duration: not a finite duration: '1e400'"),
        ("duration: 9000h\n", "s.yaml:4: error: duration: '9000h' is longer than a week"),
        ("speed: 1e9\n", "s.yaml:4: error: speed: Input should be less than or equal to 1000"),
        ("speed: nan\n", "s.yaml:4: error: speed: Input should be a finite number"),
        (
            "faults:\n  - {at: 1s, for: 5s, kind: latency, latency_ms: " + "1" + "0" * 29 + "}\n",
            "s.yaml:5: error: faults.0.latency_ms: 100000000000000000000000000000 is out of range",
        ),
        (
            "faults:\n  - {at: 1s, for: 5s, kind: latency, latency_ms: 3600001}\n",
            "s.yaml:5: error: faults.0.latency_ms: Input should be less than or equal to 3600000",
        ),
        (
            "faults:\n  - {at: 1s, for: 5s, kind: limit_data, bytes: 1.0e+29}\n",
            "s.yaml:5: error: faults.0.bytes:",
        ),
        ("speed: 1\nspeed: 2\n", "s.yaml:5: error: speed: duplicate key 'speed' (first at line 4)"),
        (
            "faults:\n  - {at: 1s, for: 5s, kind: down, at: 2s}\n",
            "s.yaml:5: error: faults.0.at: duplicate key 'at' (first at line 5)",
        ),
    ],
)
def test_refuses_absurd_numbers_and_duplicates(folder: Path, body: str, expected: str) -> None:
    problems = _lint(folder, body)
    assert any(p.startswith(f"{folder}/{expected}") for p in problems), problems


def test_duplicate_target_in_the_stack_is_an_error(folder: Path) -> None:
    (folder / "stack.yaml").write_text(STACK + "  candidate: {command: 'sh -c \"rm -rf /srv\"'}\n")
    problems = _lint(folder, "")
    assert len(problems) == 1
    assert problems[0].startswith(
        f"{folder / 's.yaml'}:3: error: stack: {folder / 'stack.yaml'}:7: "
    )
    assert "targets.candidate: duplicate key 'candidate' (first at line 6)" in problems[0]


def test_a_bad_ignore_rule_names_its_line(folder: Path) -> None:
    body = (
        "gates:\n"
        "  response_diff:\n"
        "    max_share: 0.05\n"
        "    ignore:\n"
        "      /payments/{id}:\n"
        "        - $.created_at\n"
        '        - "$.items[x"\n'
    )
    problems = _lint(folder, body)
    assert problems[0].endswith(
        ":10: error: gates.response_diff.ignore./payments/{id}.1: ignore rule '$.items[x': "
        "JSON path '$.items[x': expected [N] or [\"key\"] at 7"
    )
    problems = _lint(
        folder, body.replace('"$.items[x"', "header:Date") + "      payments: [body]\n"
    )
    assert problems[0].endswith(
        ":7: error: gates.response_diff.ignore: 'payments' is not a route template (/...) or *"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"c\\0.capture.parquet"', "capture: a path cannot contain a NUL character"),
        ("c" + "{bogus}" * 60 + ".parquet", "capture: a file name of more than 255 bytes"),
        ("/".join(["d" * 200] * 25), "capture: a path of 5024 bytes is longer than 4096"),
    ],
)
def test_paths_a_file_system_cannot_look_up(folder: Path, value: str, expected: str) -> None:
    # found by the long fuzz run: Path.is_file() raised (ENAMETOOLONG) instead of answering
    path = folder / "s.yaml"
    path.write_text(HEAD.replace("capture: c.capture.parquet", f"capture: {value}"))
    problems = [str(p) for p in lint(path).problems]
    assert problems[0].startswith(f"{path}:2: error: {expected}")


def test_an_external_toxiproxy_cannot_count_attempts(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOXIPROXY_URL", "http://127.0.0.1:8474")
    body = (
        "faults:\n  - {at: 1s, for: 1s, kind: down}\n"
        "probes:\n  - {name: db_attempts, prometheus: {metric: x_total}}\n"
        "gates:\n  retry_amplification: {max_ratio: 2, probe: [postgres_attempts, db_attempts]}\n"
    )
    report = lint(_write(folder, body))
    assert report.ok
    assert str(report.problems[0]).endswith(
        ":9: warning: TOXIPROXY_URL is set: postgres_attempts cannot count connections through "
        "an external toxiproxy (its log is not readable) and records nothing: the gate falls "
        "back to db_attempts"
    )
