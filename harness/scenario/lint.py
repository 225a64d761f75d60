"""``harness lint``: the complete, side-effect-free check of a scenario, run before any traffic.

Besides the file's own shape (:mod:`harness.scenario.model`) it checks what the scenario refers
to: the capture file exists and is a capture, the stack file loads, faults name dependencies and
targets the stack has, faults on one dependency and target do not overlap unless the later one
says ``stack: true``, nothing is scheduled after ``duration``, action placeholders are known, and
gates refer to probes that exist. Every problem names the file and line.

>>> report = lint(Path("scenarios/db-kill.yaml"))  # doctest: +SKIP
>>> report.ok, [str(p) for p in report.problems]   # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness.analysis.gates import ATTEMPTS_PROBE
from harness.errors import HarnessError, ScenarioError, printable
from harness.faults.placeholders import placeholder_problems
from harness.scenario.model import (
    CommandAction,
    DownFault,
    Fault,
    PostgresProbe,
    Scenario,
    ToxiproxyProbe,
    entry_ids,
    fault_label,
    resolve_paths,
    validation_problems,
)
from harness.scenario.stackfile import POSTGRES, Stack, load_stack
from harness.scenario.yamlfile import YamlDocument

Severity = Literal["error", "warning"]

#: Dependencies every stack has (a toxiproxy proxy per target in front of each).
DEPENDENCIES: tuple[str, ...] = (POSTGRES,)


@dataclass(frozen=True)
class Problem:
    """One finding: ``file:line`` where it is, and what is wrong."""

    severity: Severity
    where: str
    message: str

    def __str__(self) -> str:
        return printable(f"{self.where}: {self.severity}: {self.message}")

    def to_json(self) -> dict[str, str]:
        return {"severity": self.severity, "where": self.where, "message": self.message}


@dataclass
class LintReport:
    """The result of :func:`lint`: problems found and, when the file parsed, the scenario."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    scenario: Scenario | None = None
    stack: Stack | None = None
    capture_span_s: float | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def raise_for_errors(self) -> Scenario:
        """The scenario, or :class:`ScenarioError` naming the first error (and how many more)."""
        if self.errors or self.scenario is None:
            first = self.errors[0] if self.errors else Problem("error", str(self.path), "invalid")
            more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
            raise ScenarioError(f"{first.where}: {first.message}{more}")
        return self.scenario


def lint(path: Path) -> LintReport:
    """Check the scenario at ``path`` and everything it refers to; reads files, changes nothing."""
    report = LintReport(path=path)
    try:
        doc = YamlDocument.load(path, ScenarioError)
    except HarnessError as exc:
        report.problems.append(_problem_from(str(exc), str(path)))
        return report
    scenario, problems = validation_problems(doc)
    report.problems += [Problem("error", where, message) for where, message in problems]
    if scenario is None:
        return report
    scenario = resolve_paths(scenario, path)
    report.scenario = scenario
    _check_capture(report, doc, scenario)
    _check_stack(report, doc, scenario)
    _check_timeline(report, doc, scenario)
    _check_probes_and_gates(report, doc, scenario)
    return report


def _problem_from(message: str, path: str) -> Problem:
    """A problem from an error message that starts with ``path`` or ``path:line``."""
    match = re.match(re.escape(path) + r"(:\d+)?: ", message)
    if match is None:
        return Problem("error", path, message)
    return Problem("error", path + (match.group(1) or ""), message[match.end() :])


def _check_capture(report: LintReport, doc: YamlDocument, scenario: Scenario) -> None:
    """The capture exists and is one this harness reads (the same checks a run makes)."""
    from harness.capture.store import open_capture
    from harness.errors import CaptureError

    where = doc.where(("capture",))
    if not scenario.capture.is_file():
        report.problems.append(
            Problem("error", where, f"capture: no such file: {scenario.capture}")
        )
        return
    try:
        parquet, _ = open_capture(scenario.capture)
    except CaptureError as exc:
        report.problems.append(Problem("error", where, f"capture: {exc}"))
        return
    report.capture_span_s = _offset_span_s(parquet.metadata)


def _offset_span_s(meta: object) -> float | None:
    """Largest ``offset_ns`` from the row-group statistics, in seconds (no data read)."""
    try:
        names = meta.schema.names  # type: ignore[attr-defined]
        column = names.index("offset_ns")
        highest = None
        for i in range(meta.num_row_groups):  # type: ignore[attr-defined]
            stats = meta.row_group(i).column(column).statistics  # type: ignore[attr-defined]
            if stats is None or not stats.has_min_max:
                return None
            highest = stats.max if highest is None else max(highest, stats.max)
        return None if highest is None else float(highest) / 1e9
    except (ValueError, AttributeError):
        return None


def _check_stack(report: LintReport, doc: YamlDocument, scenario: Scenario) -> None:
    try:
        report.stack = load_stack(scenario.stack)
    except HarnessError as exc:
        report.problems.append(Problem("error", doc.where(("stack",)), f"stack: {exc}"))


def _check_timeline(report: LintReport, doc: YamlDocument, scenario: Scenario) -> None:
    targets = set(report.stack.file.targets) if report.stack is not None else None
    end = scenario.duration
    span = (
        report.capture_span_s / scenario.speed
        if report.capture_span_s is not None and not scenario.loop
        else None
    )

    def add(index: int, key: str | None, message: str, severity: Severity = "error") -> None:
        loc: tuple[str | int, ...] = ("faults", index) if key is None else ("faults", index, key)
        report.problems.append(Problem(severity, doc.where(loc), message))

    for i, entry in enumerate(scenario.faults):
        names = entry.targets or []
        if targets is not None:
            for name in names:
                if name not in targets:
                    add(i, "targets", f"no target named {name!r} (targets: {_list(targets)})")
        if isinstance(entry, CommandAction):
            for message in placeholder_problems(entry.run, targets):
                add(i, "run", message)
            if end is not None and entry.at >= end:
                add(i, "at", f"action at {entry.at:g}s is after the duration ({end:g}s)")
            continue
        if entry.dependency not in DEPENDENCIES:
            add(
                i,
                "dependency",
                f"unknown dependency {entry.dependency!r} "
                f"(dependencies: {', '.join(DEPENDENCIES)})",
            )
        if end is not None and entry.until > end:
            add(
                i,
                "for",
                f"{fault_label(entry)} ends at {entry.until:g}s, after the duration "
                f"({end:g}s): it would be cut short",
            )
        elif end is None and span is not None and entry.until > span:
            add(
                i,
                "for",
                f"{fault_label(entry)} ends at {entry.until:g}s, after the capture's "
                f"end at this speed ({span:g}s)",
                "warning",
            )
    _check_overlaps(report, doc, scenario, targets)


def _check_overlaps(
    report: LintReport, doc: YamlDocument, scenario: Scenario, targets: set[str] | None
) -> None:
    everyone = targets or set()
    placed: list[tuple[int, Fault]] = []
    order = sorted(
        ((i, e) for i, e in enumerate(scenario.faults) if not isinstance(e, CommandAction)),
        key=lambda item: (item[1].at, item[0]),
    )
    for i, fault in order:
        mine = set(fault.targets) if fault.targets else everyone
        for j, other in placed:
            theirs = set(other.targets) if other.targets else everyone
            shared_targets = bool(mine & theirs) or not (fault.targets and other.targets)
            if other.dependency != fault.dependency or not shared_targets:
                continue
            if fault.at >= other.until:
                continue
            what = f"overlaps {entry_ids(scenario.faults)[j]} ({fault_label(other)}, line "
            what += f"{doc.line_of(('faults', j))}, {other.at:g}s-{other.until:g}s)"
            if isinstance(fault, DownFault) and isinstance(other, DownFault):
                report.problems.append(
                    Problem(
                        "error",
                        doc.where(("faults", i, "at")),
                        f"{what}: a dependency cannot go down twice at once",
                    )
                )
            elif not fault.stack:
                report.problems.append(
                    Problem(
                        "error",
                        doc.where(("faults", i, "at")),
                        f"{what} on the same dependency and target; set `stack: true` on "
                        "this fault if that is meant",
                    )
                )
        placed.append((i, fault))


def _check_probes_and_gates(report: LintReport, doc: YamlDocument, scenario: Scenario) -> None:
    seen: dict[str, int] = {}
    for i, probe in enumerate(scenario.probes):
        if probe.name in seen:
            report.problems.append(
                Problem(
                    "error",
                    doc.where(("probes", i, "name")),
                    f"probe name {probe.name!r} is already used by probes.{seen[probe.name]}",
                )
            )
        seen.setdefault(probe.name, i)
        counts_connections = isinstance(probe, ToxiproxyProbe) or (
            isinstance(probe, PostgresProbe) and probe.postgres == "attempts"
        )
        if counts_connections and os.environ.get("TOXIPROXY_URL"):
            report.problems.append(
                Problem(
                    "warning",
                    doc.where(("probes", i)),
                    "TOXIPROXY_URL is set: an external toxiproxy's log cannot be read, so "
                    "this probe will record nothing",
                )
            )
    retry = scenario.gates.retry_amplification
    sampled = set(scenario.probe_names())
    named = retry.probes() if retry is not None else []
    if retry is not None and retry.probe is None and sampled & set(named):
        named = []  # the default: one of its probes is enough
    elif retry is not None and retry.probe is None:
        named = named[:1]
    for name in named:
        if name in sampled:
            continue
        hint = ""
        if name == ATTEMPTS_PROBE:
            hint = (
                f"; {ATTEMPTS_PROBE} is sampled when a fault hits postgres, else add "
                f"{{name: {ATTEMPTS_PROBE}, postgres: attempts}} to probes"
            )
        report.problems.append(
            Problem(
                "error",
                doc.where(("gates", "retry_amplification", "probe")),
                f"gates.retry_amplification: probe {name!r} is not in probes "
                f"(probes: {_list(sampled) or 'none'}){hint}",
            )
        )
    wanted = retry.probes() if retry is not None else []
    if wanted and wanted[0] == ATTEMPTS_PROBE and os.environ.get("TOXIPROXY_URL"):
        fallback = (
            f"the gate falls back to {wanted[1]}" if len(wanted) > 1 else "the gate is inconclusive"
        )
        report.problems.append(
            Problem(
                "warning",
                doc.where(("gates", "retry_amplification")),
                f"TOXIPROXY_URL is set: {ATTEMPTS_PROBE} cannot count connections through an "
                f"external toxiproxy (its log is not readable) and records nothing: {fallback}",
            )
        )
    for i, route in enumerate(scenario.independent_routes):
        if not route.startswith("/"):
            report.problems.append(
                Problem(
                    "error",
                    doc.where(("independent_routes", i)),
                    f"independent_routes.{i}: a route starts with '/', got {route!r}",
                )
            )
    if scenario.gates.cascade is not None and not scenario.independent_routes:
        report.problems.append(
            Problem(
                "error",
                doc.where(("gates", "cascade")),
                "gates.cascade needs independent_routes (the routes that must keep working)",
            )
        )


def _list(names: set[str]) -> str:
    return ", ".join(sorted(names))
