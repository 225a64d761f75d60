"""Build specs of ``harness validate``: which build runs as baseline, candidate (and A/A copy).

A SPEC is one of:

- a build named in the stack file's ``builds:`` (``v2.3.1``, ``hotfix-safe``);
- ``cmd:COMMAND``: a command line with the stack placeholders (``cmd:{python} app.py --port
  {port} --dsn {postgres.url}``);
- the URL of a running build, with the toxiproxy proxy in front of its database:
  ``http://10.0.0.5:8080,proxy=payments-candidate-pg`` (without ``,proxy=`` no fault can
  reach it, and a scenario with faults is refused by lint).
"""

from __future__ import annotations

from harness.errors import UsageError
from harness.scenario.stackcommands import TARGET_PLACEHOLDERS, command_problems
from harness.scenario.stackfile import Stack, TargetSpec

AA_TARGET = "baseline-aa"


def parse_spec(spec: str, stack: Stack, *, role: str) -> TargetSpec:
    """The target that ``spec`` describes, with ``role`` (baseline, candidate or aa)."""
    text = spec.strip()
    if text.startswith(("http://", "https://")):
        url, _, rest = text.partition(",")
        proxy = None
        if rest:
            key, sep, value = rest.partition("=")
            if key.strip() != "proxy" or not sep or not value.strip():
                raise UsageError(f"write URL,proxy=NAME, got {spec!r}")
            proxy = value.strip()
        return TargetSpec(url=url, postgres_proxy=proxy, role=role)
    if text.startswith("cmd:"):
        command = text.removeprefix("cmd:").strip()
        if not command:
            raise UsageError(f"cmd: needs a command line, got {spec!r}")
        problems = command_problems(command, TARGET_PLACEHOLDERS)
        if problems:
            raise UsageError(f"{spec!r}: {problems[0]}")
        return TargetSpec(command=command, role=role)
    if text in stack.file.builds:
        return TargetSpec(build=text, role=role)
    known = ", ".join(sorted(stack.file.builds)) or "none"
    raise UsageError(
        f"{spec!r} is not a build of {stack.path} (builds: {known}), a cmd:COMMAND, or a URL"
    )


def validation_targets(
    stack: Stack, baseline: str, candidate: str, *, aa: bool = False
) -> dict[str, TargetSpec]:
    """Targets ``baseline`` and ``candidate`` (and ``baseline-aa``, a second baseline copy)."""
    targets = {
        "baseline": parse_spec(baseline, stack, role="baseline"),
        "candidate": parse_spec(candidate, stack, role="candidate"),
    }
    if aa:
        if targets["baseline"].url is not None:
            raise UsageError(
                "--aa needs a baseline the harness starts (a build or cmd:), not a URL"
            )
        targets[AA_TARGET] = parse_spec(baseline, stack, role="aa")
    return targets
