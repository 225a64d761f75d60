"""The working set of one comparison: targets, phases, and requests indexed for fast slicing.

Built once per (run, baseline, candidate); every gate reads from it. Request positions are
grouped by (target, phase, route) up front so that a check on "all routes of phase X" or "route
R in phase X" is a concatenation of index arrays, not a new scan of millions of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness.analysis.frames import ROLE_AA, ROLE_BASELINE, ROLE_CANDIDATE, Run
from harness.analysis.gates import GatesConfig
from harness.analysis.metrics import error_mask
from harness.analysis.phases import Phase, assign_phases, build_phases
from harness.errors import UsageError

_EMPTY = np.array([], dtype=np.int64)


@dataclass(frozen=True)
class Targets:
    """Which target plays which part; ``aa`` is the optional second baseline copy."""

    baseline: str
    candidate: str
    aa: str | None = None


def choose_targets(run: Run, baseline: str | None, candidate: str | None) -> Targets:
    """Resolve names from the manifest roles; raises :class:`UsageError` when ambiguous."""
    manifest = run.manifest
    present = {str(name) for name in run.requests["target"].unique()}
    known = set(manifest.targets) | present

    def pick(given: str | None, role: str) -> str:
        if given is not None:
            if given not in known:
                raise UsageError(f"{run.root}: no target {given!r} (have {sorted(known)})")
            return given
        names = manifest.names_with_role(role)
        if len(names) != 1:
            raise UsageError(
                f"{run.root}: {len(names)} targets with role {role!r}; name one with "
                f"--{role} (have {sorted(known)})"
            )
        return names[0]

    base = pick(baseline, ROLE_BASELINE)
    cand = pick(candidate, ROLE_CANDIDATE)
    if base == cand:
        raise UsageError(f"{run.root}: baseline and candidate are the same target {base!r}")
    copies = [name for name in manifest.names_with_role(ROLE_AA) if name not in (base, cand)]
    return Targets(base, cand, copies[0] if copies else None)


@dataclass
class Context:
    """Requests of the compared targets with ``phase`` and ``failed`` columns, and indexes."""

    run: Run
    gates: GatesConfig
    targets: Targets
    phases: list[Phase]
    frame: pd.DataFrame
    first_ns: int
    last_ns: int
    groups: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    errors: np.ndarray = field(default_factory=lambda: np.array([], dtype=bool))
    latency: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.float64))
    #: send to last byte: the target's own time, without the load generator's lag
    own_latency: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.float64))
    #: when a request was due (ns from t0), moved by its session wait: what phases are cut by
    when: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))

    @property
    def routes(self) -> list[str]:
        return sorted({route for (_, _, route) in self.groups})

    def positions(
        self, target: str, phase: str | None = None, routes: list[str] | None = None
    ) -> np.ndarray:
        """Row positions of ``target`` in ``phase`` (all when None) on ``routes`` (all)."""
        parts = [
            rows
            for (t, p, r), rows in self.groups.items()
            if t == target and (phase is None or p == phase) and (routes is None or r in routes)
        ]
        if not parts:
            return _EMPTY
        rows: np.ndarray = np.concatenate(parts)
        return rows

    def due(self, target: str) -> np.ndarray:
        due: np.ndarray = self.frame["due_ns"].to_numpy()[self.positions(target)]
        return due


def build_context(run: Run, gates: GatesConfig, targets: Targets) -> Context:
    """Tag requests of the compared targets with phase and failure, and index them."""
    names = [targets.baseline, targets.candidate] + ([targets.aa] if targets.aa else [])
    requests = run.requests
    frame = requests[requests["target"].isin(names)].reset_index(drop=True)
    if len(frame):
        first_ns, last_ns = int(frame["due_ns"].min()), int(frame["due_ns"].max())
    else:
        first_ns = last_ns = 0
    phases = build_phases(run.faults, gates.recovery_phase_s(), last_ns)
    # a session wait (session order) moved the request's schedule: it belongs where it could go
    moved = frame["due_ns"]
    if "wait_ms" in frame.columns:
        moved = moved + (frame["wait_ms"].fillna(0) * 1e6).astype("int64")
    frame["phase"] = assign_phases(moved, phases)
    frame["failed"] = error_mask(frame).to_numpy()
    keys = ["target", "phase", "route"]
    groups: dict[tuple[str, str, str], np.ndarray] = {}
    if len(frame):
        for key, rows in frame.groupby(keys, observed=True, sort=False).indices.items():
            parts: tuple[object, ...] = tuple(key)  # type: ignore[arg-type]
            groups[(str(parts[0]), str(parts[1]), str(parts[2]))] = np.asarray(rows, dtype=np.int64)
    return Context(
        run=run,
        gates=gates,
        targets=targets,
        phases=phases,
        frame=frame,
        first_ns=first_ns,
        last_ns=last_ns,
        groups=groups,
        errors=frame["failed"].to_numpy(dtype=bool),
        latency=frame["latency_corrected_ms"].to_numpy(dtype=np.float64),
        own_latency=frame["latency_ms"].to_numpy(dtype=np.float64),
        when=moved.to_numpy(dtype=np.int64),
    )
