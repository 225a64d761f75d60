"""junit.xml parses and counts the right failures."""

import xml.etree.ElementTree as ET

from harness.analysis.model import Verdict
from harness.report.junit import render_junit


def _parse(verdict: Verdict) -> ET.Element:
    return ET.fromstring(render_junit(verdict).split("?>", 1)[1])


def test_failing_gates_are_failures_with_numbers(naive_verdict: Verdict) -> None:
    root = _parse(naive_verdict)
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [g.name for g in naive_verdict.gates]
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == 5
    assert suite.get("failures") == "5" and suite.get("tests") == "5"
    cascade = next(c for c in cases if c.get("name") == "cascade").find("failure")
    assert cascade is not None
    assert "40.0%" in (cascade.get("message") or "")
    assert "limit 1.0%" in (cascade.text or "")


def test_passing_run_has_no_failures(safe_verdict: Verdict) -> None:
    suite = _parse(safe_verdict).find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    assert not suite.findall(".//failure")


def test_inconclusive_is_skipped_and_invalid_is_an_error(safe_verdict: Verdict) -> None:
    gates = [
        g.model_copy(update={"status": "inconclusive"}) if g.name == "cascade" else g
        for g in safe_verdict.gates
    ]
    invalid = safe_verdict.model_copy(
        update={"status": "invalid", "reason": "run invalid: send lag", "gates": gates}
    )
    suite = _parse(invalid).find("testsuite")
    assert suite is not None
    assert suite.get("skipped") == "1" and suite.get("errors") == "1"
    error = suite.find("testcase[@name='run']/error")
    assert error is not None and error.get("type") == "invalid"
