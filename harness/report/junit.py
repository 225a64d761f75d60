"""``junit.xml``: one test case per gate, failure text with the numbers.

``fail`` is a ``<failure>``; ``inconclusive`` is ``<skipped>`` (not judged, and the exit code
says whether that is acceptable); an invalid or interrupted run adds a ``run`` case with an
``<error>``, so CI never shows it green.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.analysis.model import Verdict
from harness.report import text


def render_junit(verdict: Verdict) -> str:
    """The JUnit XML document as a string."""
    suite_name = f"harness {verdict.scenario or 'run'}: {verdict.candidate} vs {verdict.baseline}"
    root = ET.Element("testsuites", name="harness")
    suite = ET.SubElement(root, "testsuite", name=suite_name)
    failures = skipped = errors = 0
    for gate in verdict.gates:
        case = ET.SubElement(
            suite, "testcase", classname=f"harness.{verdict.candidate}", name=gate.name
        )
        details = "\n".join(
            f"[{c.status}] {c.reason}" for c in gate.checks if c.status in ("fail", "inconclusive")
        )
        if gate.status == "fail":
            failures += 1
            node = ET.SubElement(case, "failure", message=gate.reason, type="gate")
            node.text = details
        elif gate.status == "inconclusive":
            skipped += 1
            ET.SubElement(case, "skipped", message=f"inconclusive: {gate.reason}")
        ET.SubElement(case, "system-out").text = f"{text.gate_title(gate.name)}: {gate.reason}"
    if verdict.status in ("invalid", "interrupted"):
        errors += 1
        case = ET.SubElement(
            suite, "testcase", classname=f"harness.{verdict.candidate}", name="run"
        )
        ET.SubElement(case, "error", message=verdict.reason, type=verdict.status)
    tests = len(verdict.gates) + errors
    for node in (root, suite):
        node.set("tests", str(tests))
        node.set("failures", str(failures))
        node.set("errors", str(errors))
        node.set("skipped", str(skipped))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
