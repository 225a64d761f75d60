"""Put two runs of one scenario into one run directory, so the analysis compares them.

The nightly suite compares tonight's run of a scenario with the last known-good run of the same
scenario, made on an earlier night. The analysis judges two targets *of one run*; this module
builds that run:

- ``requests.parquet``: the known-good run's rows of its judged target, renamed
  ``known-good`` (role ``baseline``), and tonight's rows of its judged target, renamed
  ``candidate`` (role ``candidate``). Times stay relative to each run's own t0; the same
  scenario replays the same capture on the same schedule, so ``due_ns`` and ``idx`` line up.
- ``probes.parquet``: both runs' samples of those targets, renamed the same way.
- ``events.jsonl``: tonight's events only. The phases (before, during, after each fault) are cut
  at tonight's measured fault times and applied to the known-good rows too. **Approximation:**
  the known-good run applied the same faults at the same scheduled times, but its measured
  apply/revert times differed by the few milliseconds a toxiproxy call takes; requests due in
  those few milliseconds may be counted in the neighbouring phase on the known-good side.
- ``manifest.json``: tonight's manifest (scenario, gates, versions) with both targets, a
  validity that holds only when both runs were valid, and ``merged_from`` naming both runs.

>>> merge_runs(Path("results/known-good/db-kill"), Path("results/nights/n2/db-kill"),
...            Path("results/nights/n2/db-kill/vs-known-good"))     # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.rundir import PROBES_SCHEMA, REQUESTS, REQUESTS_SCHEMA, RunDir, read_requests

KNOWN_GOOD = "known-good"
CANDIDATE = "candidate"

#: Scenario keys that must be equal for two runs to be compared request by request.
SCHEDULE_KEYS: tuple[str, ...] = ("faults", "speed", "duration", "loop", "seed")


@dataclass(frozen=True)
class RunSide:
    """One run to merge and the target of it that is judged."""

    root: Path
    target: str


def read_manifest_dict(root: Path) -> dict[str, Any]:
    """``manifest.json`` of ``root`` as a JSON object (:class:`InputError` when unreadable)."""
    path = RunDir(root).manifest
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no manifest.json: not a run directory") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read manifest: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: manifest is not a JSON object")
    return data


def judged_target(root: Path) -> str:
    """The target of a run that the night judges: its only candidate, else ``candidate``."""
    targets = read_manifest_dict(root).get("targets") or {}
    candidates = [
        str(name)
        for name, info in targets.items()
        if (info or {}).get("role") == CANDIDATE
        or (not (info or {}).get("role") and name != "baseline")
    ]
    if len(candidates) == 1:
        return candidates[0]
    if CANDIDATE in targets:
        return CANDIDATE
    raise InputError(
        f"{RunDir(root).manifest}: {len(candidates)} candidate targets "
        f"({', '.join(candidates) or 'none'}); the nightly suite judges exactly one"
    )


def schedule_differences(known_good: Path, current: Path) -> list[str]:
    """Scenario settings that differ between the two runs (empty: comparable row by row)."""
    old = read_manifest_dict(known_good).get("scenario") or {}
    new = read_manifest_dict(current).get("scenario") or {}
    return [key for key in SCHEDULE_KEYS if old.get(key) != new.get(key)]


def merge_runs(known_good: RunSide, current: RunSide, out: Path) -> Path:
    """Write the combined run directory ``out`` (see the module docs); returns ``out``."""
    old_manifest = read_manifest_dict(known_good.root)
    new_manifest = read_manifest_dict(current.root)
    if out.exists():
        shutil.rmtree(out)  # a folder this function wrote earlier: rebuilt from the runs
    out.mkdir(parents=True)
    paths = RunDir(out)
    _merge_table(
        [
            (RunDir(known_good.root).requests, known_good.target, KNOWN_GOOD),
            (RunDir(current.root).requests, current.target, CANDIDATE),
        ],
        paths.requests,
        REQUESTS_SCHEMA.names,
        required=True,
    )
    _merge_table(
        [
            (RunDir(known_good.root).probes, known_good.target, KNOWN_GOOD),
            (RunDir(current.root).probes, current.target, CANDIDATE),
        ],
        paths.probes,
        PROBES_SCHEMA.names,
        required=False,
    )
    events = RunDir(current.root).events
    if events.exists():
        shutil.copyfile(events, paths.events)
    manifest = _merged_manifest(old_manifest, new_manifest, known_good, current)
    paths.manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out


def _merge_table(
    sources: list[tuple[Path, str, str]], dest: Path, columns: list[str], *, required: bool
) -> None:
    """Rows of each source's ``target`` renamed to its new name, written to ``dest``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    parts = []
    for path, target, name in sources:
        if not path.exists():
            if required:
                raise InputError(f"{path}: missing: the run directory is incomplete")
            continue
        try:
            if dest.name == REQUESTS:
                table = read_requests(path, columns)  # an older run lacks wave-2 columns
            else:
                table = pq.read_table(path, columns=columns)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"{path}: cannot read: {exc}") from None
        table = table.filter(pc.equal(table.column("target").cast(pa.string()), target))
        if required and table.num_rows == 0:
            raise InputError(f"{path}: no rows of target {target!r}")
        renamed = pa.array([name] * table.num_rows, type=pa.string())
        parts.append(table.set_column(table.schema.get_field_index("target"), "target", renamed))
    if parts:
        pq.write_table(pa.concat_tables(parts, promote_options="permissive"), dest)


def _merged_manifest(
    old: dict[str, Any], new: dict[str, Any], known_good: RunSide, current: RunSide
) -> dict[str, Any]:
    def target(manifest: dict[str, Any], name: str, role: str) -> dict[str, Any]:
        info = dict((manifest.get("targets") or {}).get(name) or {})
        return {**info, "role": role, "run_target": name}

    def validity(manifest: dict[str, Any], label: str) -> tuple[bool, list[str]]:
        data = manifest.get("validity") or {}
        reasons = [f"{label}: {r}" for r in data.get("reasons") or []]
        if manifest.get("status") == "failed":
            reasons.append(f"{label}: the replay failed (manifest status 'failed')")
        return bool(data.get("valid", True)) and manifest.get("status") != "failed", reasons

    old_ok, old_reasons = validity(old, "known-good run")
    new_ok, new_reasons = validity(new, "tonight's run")
    lags = [
        float(v)
        for v in (
            (old.get("validity") or {}).get("lag_p99_ms"),
            (new.get("validity") or {}).get("lag_p99_ms"),
        )
        if isinstance(v, int | float)
    ]
    merged = dict(new)
    merged.update(
        run_id=f"{new.get('run_id', '')} vs known-good {old.get('run_id', '')}".strip(),
        targets={
            KNOWN_GOOD: target(old, known_good.target, "baseline"),
            CANDIDATE: target(new, current.target, "candidate"),
        },
        validity={
            "valid": old_ok and new_ok,
            "reasons": old_reasons + new_reasons,
            "lag_p99_ms": max(lags) if lags else None,
        },
        status="interrupted" if new.get("status") == "interrupted" else "complete",
        merged_from={
            KNOWN_GOOD: {
                "path": str(known_good.root),
                "run_id": old.get("run_id"),
                "target": known_good.target,
                "t0_ns": old.get("t0_ns"),
            },
            CANDIDATE: {
                "path": str(current.root),
                "run_id": new.get("run_id"),
                "target": current.target,
                "t0_ns": new.get("t0_ns"),
            },
            "events": "tonight's run (fault windows as measured tonight)",
        },
    )
    return merged
