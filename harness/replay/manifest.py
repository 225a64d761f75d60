"""Write and update a run directory's ``manifest.json`` (shape: :mod:`harness.rundir`).

:func:`replay` writes the replay's part; the caller (``harness run``) adds its scenario fields
later with :func:`update_manifest`, which merges top-level keys and writes atomically.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

from harness import __version__
from harness.replay.model import ReplayTarget
from harness.rundir import RunDir

FORMAT_VERSION = 1

JSONValue = object


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _command_line() -> list[str]:
    """This process's command line, with ``python -m harness`` written as ``harness``."""
    first = sys.argv[0] if sys.argv else ""
    if first.endswith(("/harness", "harness/__main__.py")) or first == "harness":
        first = "harness"
    return [first, *sys.argv[1:]]


def read_manifest(run_dir: Path) -> dict[str, JSONValue]:
    """The manifest of ``run_dir`` (an empty dict when there is none yet)."""
    path = RunDir(run_dir).manifest
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else {}


def update_manifest(run_dir: Path, changes: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
    """Merge ``changes`` into the top level of ``run_dir``'s manifest; returns the result."""
    manifest = read_manifest(run_dir)
    manifest.update(changes)
    path = RunDir(run_dir).manifest
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return manifest


def replay_manifest(
    run_dir: Path,
    capture: Path,
    *,
    requests: int,
    targets: Sequence[ReplayTarget],
    t0_ns: int,
    speed: float,
    command: Sequence[str] | None = None,
) -> dict[str, JSONValue]:
    """The manifest fields a bare replay knows (scenario ``None``; status ``running``)."""
    return {
        "format_version": FORMAT_VERSION,
        "run_id": run_dir.resolve().name,
        "t0_ns": t0_ns,
        "speed": speed,
        "seed": 0,
        "host": socket.gethostname(),
        "command": list(command if command is not None else _command_line()),
        "status": "running",
        "capture": {"path": str(capture), "requests": requests},
        "targets": {
            # roles: the names the comparison knows; other names are plain targets
            t.name: {"url": t.url, "role": t.name if t.name in ("baseline", "candidate") else None}
            for t in targets
        },
        "scenario": None,
        "versions": {
            "harness": __version__,
            "toxiproxy": None,
            "postgres": None,
            "locust": _version("locust"),
        },
        "validity": None,
    }
