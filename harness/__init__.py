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

__all__ = [
    "CaptureError",
    "DatabaseError",
    "FaultError",
    "GateFailed",
    "HarnessError",
    "InfrastructureError",
    "InputError",
    "Interrupted",
    "ReplayError",
    "RunInvalid",
    "ScenarioError",
    "StackFileError",
    "TargetError",
    "ToxiproxyError",
    "UsageError",
    "__version__",
]
