"""Replay engine: timing-faithful, open-model replay of a capture to several targets at once.

The replay runs inside Locust's runner: one Locust user per worker process replays its shard
(``user``, ``dispatch``, ``connections``), under a Locust ``LocalRunner`` (``worker``) or a
master (``master``) with workers (``remote``). The only package that imports locust/gevent, and
only in those processes; what is exported here runs in the orchestrating process.

>>> from harness.replay import ReplayOptions, ReplayTarget, replay  # doctest: +SKIP
>>> result = replay(Path("peak.capture.parquet"), [ReplayTarget("baseline", "http://127.0.0.1:8001")],
...                 Path("runs/r1"), ReplayOptions(speed=2.0))  # doctest: +SKIP
"""

from harness.replay.engine import check_targets, replay
from harness.replay.manifest import read_manifest, update_manifest
from harness.replay.model import (
    LocustOptions,
    MasterOptions,
    ReplayOptions,
    ReplayProgress,
    ReplayResult,
    ReplayTarget,
    TargetCounts,
    TargetProgress,
)

__all__ = [
    "LocustOptions",
    "MasterOptions",
    "ReplayOptions",
    "ReplayProgress",
    "ReplayResult",
    "ReplayTarget",
    "TargetCounts",
    "TargetProgress",
    "check_targets",
    "read_manifest",
    "replay",
    "update_manifest",
]
