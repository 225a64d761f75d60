"""Cut a run's timeline into phases around its faults, and tag each request with its phase.

Phases, in time order, using the MEASURED apply/revert times of ``events.jsonl``::

    before | during `f1` | recovery `f1` | after `f1` | during `f2` | recovery `f2` | ...

``recovery`` lasts ``recovery_s`` after a fault's end (cut short by the next fault); ``after``
runs from there to the next fault or the end. A run without faults has one phase, ``steady``.
Overlapping faults are clipped: a fault's ``during`` starts where the previous one ended.
Requests belong to the phase that holds their **due** time (when they were meant to be sent),
so a slow load generator cannot move a request out of the fault it was scheduled in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.frames import FaultWindow

BEFORE = "before"
DURING = "during"
RECOVERY = "recovery"
AFTER = "after"
STEADY = "steady"


@dataclass(frozen=True)
class Phase:
    """A stretch of the run; ``start_ns``/``end_ns`` are ns from t0 (``None`` = open end)."""

    name: str
    kind: str
    fault_id: str | None
    fault_label: str | None
    start_ns: int | None
    end_ns: int | None

    def duration_s(self, first_ns: int, last_ns: int) -> float:
        """Length in seconds, open ends closed by the first/last request."""
        start = first_ns if self.start_ns is None else max(self.start_ns, first_ns)
        end = last_ns if self.end_ns is None else min(self.end_ns, last_ns)
        return max(end - start, 0) / 1e9


def phase_name(kind: str, label: str | None) -> str:
    """``during `postgres down``` etc.; ``before``/``steady`` stand alone."""
    return kind if label is None else f"{kind} `{label}`"


def unique_labels(faults: list[FaultWindow]) -> list[str]:
    """Fault labels, numbered from the second of a repeated label (``postgres down #2``)."""
    seen: dict[str, int] = {}
    labels = []
    for fault in faults:
        seen[fault.label] = seen.get(fault.label, 0) + 1
        count = seen[fault.label]
        labels.append(fault.label if count == 1 else f"{fault.label} #{count}")
    return labels


def build_phases(faults: list[FaultWindow], recovery_s: float, last_ns: int) -> list[Phase]:
    """Phases covering the whole timeline; faults without a revert end at ``last_ns``."""
    if not faults:
        return [Phase(STEADY, STEADY, None, None, None, None)]
    labels = unique_labels(faults)
    recovery_ns = int(recovery_s * 1e9)
    phases = [Phase(BEFORE, BEFORE, None, None, None, faults[0].start_ns)]
    cursor = faults[0].start_ns
    for position, fault in enumerate(faults):
        nxt = faults[position + 1].start_ns if position + 1 < len(faults) else None
        start = max(fault.start_ns, cursor)
        end = max(fault.end_ns if fault.end_ns is not None else last_ns + 1, start)
        if nxt is not None:
            end = min(end, max(nxt, start))
        phases.append(
            Phase(
                phase_name(DURING, labels[position]), DURING, fault.id, labels[position], start, end
            )
        )
        recovery_end = end + recovery_ns if nxt is None else min(end + recovery_ns, max(nxt, end))
        phases.append(
            Phase(
                phase_name(RECOVERY, labels[position]),
                RECOVERY,
                fault.id,
                labels[position],
                end,
                recovery_end,
            )
        )
        if nxt is None or nxt > recovery_end:
            phases.append(
                Phase(
                    phase_name(AFTER, labels[position]),
                    AFTER,
                    fault.id,
                    labels[position],
                    recovery_end,
                    nxt,
                )
            )
        cursor = recovery_end if nxt is None else max(nxt, recovery_end)
    return _unique_names(phases)


def _unique_names(phases: list[Phase]) -> list[Phase]:
    # Two faults with the same label would share phase names; number the repeats.
    seen: dict[str, int] = {}
    unique = []
    for phase in phases:
        count = seen.get(phase.name, 0) + 1
        seen[phase.name] = count
        name = phase.name if count == 1 else f"{phase.name} #{count}"
        unique.append(
            Phase(name, phase.kind, phase.fault_id, phase.fault_label, phase.start_ns, phase.end_ns)
        )
    return unique


def assign_phases(due_ns: pd.Series, phases: list[Phase]) -> pd.Categorical[str]:
    """The phase of each due time, as a categorical in phase order (vectorised search)."""
    names = [phase.name for phase in phases]
    starts = np.array(
        [p.start_ns if p.start_ns is not None else np.iinfo(np.int64).min for p in phases],
        dtype=np.int64,
    )
    # Phases are contiguous and sorted by start, so the last start <= t is the phase of t.
    codes = np.searchsorted(starts, due_ns.to_numpy(dtype=np.int64), side="right") - 1
    codes = np.clip(codes, 0, len(phases) - 1).astype(np.int16)
    return pd.Categorical.from_codes(codes, categories=pd.Index(names))


def phase_by_name(phases: list[Phase], name: str) -> Phase:
    for phase in phases:
        if phase.name == name:
            return phase
    raise KeyError(name)
