"""replay-harness: replay production traffic on staging, inject database faults, judge a hotfix.

The supported public API is re-exported here; everything else is internal and may change.
Importing :mod:`harness` is cheap and never imports locust or gevent.
"""

from harness.errors import (
    CaptureError,
    DatabaseError,
    FaultError,
    GateFailed,
    HarnessError,
    InfrastructureError,
    InputError,
    Interrupted,
    ReplayError,
    RunInvalid,
    ScenarioError,
    StackFileError,
    TargetError,
    ToxiproxyError,
    UsageError,
)

__version__ = "0.1.0"

#: The supported API beyond the errors, imported on first use (``import harness`` stays cheap:
#: no pandas, pyarrow, psycopg, locust or gevent until something is asked for).
_LAZY: dict[str, str] = {
    "CaptureMetadata": "harness.capture",
    "GatesConfig": "harness.analysis.gates",
    "ReplayOptions": "harness.replay",
    "ReplayResult": "harness.replay",
    "ReplayTarget": "harness.replay",
    "RunOutcome": "harness.workflows.run",
    "RunRequest": "harness.workflows.run",
    "Scenario": "harness.scenario.model",
    "Stack": "harness.scenario.stackfile",
    "StackRuntime": "harness.stack.runtime",
    "ToxiproxyClient": "harness.stack.toxiproxy",
    "ToxiproxyServer": "harness.stack.toxiproxy_server",
    "Verdict": "harness.analysis.model",
    "compare_run": "harness.report.render",
    "import_capture": "harness.capture",
    "judge": "harness.analysis.verdict",
    "lint": "harness.scenario.lint",
    "load_run": "harness.analysis.frames",
    "load_scenario": "harness.scenario.model",
    "load_stack": "harness.scenario.stackfile",
    "read_capture": "harness.capture",
    "replay": "harness.replay",
    "run_scenario": "harness.workflows.run",
    "validate": "harness.workflows.validate",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "CaptureError",
    "CaptureMetadata",
    "DatabaseError",
    "FaultError",
    "GateFailed",
    "GatesConfig",
    "HarnessError",
    "InfrastructureError",
    "InputError",
    "Interrupted",
    "ReplayError",
    "ReplayOptions",
    "ReplayResult",
    "ReplayTarget",
    "RunInvalid",
    "RunOutcome",
    "RunRequest",
    "Scenario",
    "ScenarioError",
    "Stack",
    "StackFileError",
    "StackRuntime",
    "TargetError",
    "ToxiproxyClient",
    "ToxiproxyError",
    "ToxiproxyServer",
    "UsageError",
    "Verdict",
    "__version__",
    "compare_run",
    "import_capture",
    "judge",
    "lint",
    "load_run",
    "load_scenario",
    "load_stack",
    "read_capture",
    "replay",
    "run_scenario",
    "validate",
]
