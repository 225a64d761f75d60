"""Phases from measured fault times, and requests tagged by due time."""

import numpy as np
import pandas as pd

from harness.analysis.frames import Event, FaultWindow, fault_windows
from harness.analysis.phases import assign_phases, build_phases

S = 1_000_000_000


def _fault(fid: str, label: str, start_s: float, end_s: float | None) -> FaultWindow:
    end = None if end_s is None else int(end_s * S)
    return FaultWindow(fid, label, "down", "postgres", ("b", "c"), int(start_s * S), end)


def test_one_fault_gives_four_phases() -> None:
    phases = build_phases([_fault("f1", "db down", 20, 35)], recovery_s=10, last_ns=60 * S)
    assert [p.name for p in phases] == [
        "before",
        "during `db down`",
        "recovery `db down`",
        "after `db down`",
    ]
    assert (phases[1].start_ns, phases[1].end_ns) == (20 * S, 35 * S)
    assert (phases[2].start_ns, phases[2].end_ns) == (35 * S, 45 * S)
    assert phases[3].end_ns is None


def test_no_fault_is_one_steady_phase() -> None:
    assert [p.name for p in build_phases([], 10, 5 * S)] == ["steady"]


def test_next_fault_cuts_recovery_short_and_repeats_are_numbered() -> None:
    faults = [_fault("f1", "db down", 10, 20), _fault("f2", "db down", 25, 30)]
    phases = build_phases(faults, recovery_s=10, last_ns=60 * S)
    names = [p.name for p in phases]
    assert names[:4] == ["before", "during `db down`", "recovery `db down`", "during `db down #2`"]
    assert phases[2].end_ns == 25 * S


def test_unreverted_fault_lasts_to_the_end() -> None:
    phases = build_phases([_fault("f1", "db down", 10, None)], 10, last_ns=30 * S)
    assert phases[1].end_ns == 30 * S + 1


def test_requests_go_by_due_time() -> None:
    phases = build_phases([_fault("f1", "db down", 20, 35)], recovery_s=10, last_ns=60 * S)
    due = pd.Series(np.array([0, 19.999, 20, 34.9, 35, 44.9, 45, 59], dtype=float) * S)
    tagged = assign_phases(due.astype("int64"), phases)
    assert list(tagged.codes) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_fault_windows_use_measured_times() -> None:
    info = {
        "id": "f1",
        "label": "postgres down",
        "kind": "down",
        "dependency": "postgres",
        "targets": ["b"],
        "at_s": 20.0,
        "for_s": 15.0,
    }
    events = [
        Event(20_004_000_000, "fault_applied", {"fault": info}),
        Event(35_010_000_000, "fault_reverted", {"fault": info}),
        Event(36_000_000_000, "target_healthy", {}),
    ]
    (window,) = fault_windows(events)
    assert (window.start_ns, window.end_ns, window.label) == (
        20_004_000_000,
        35_010_000_000,
        "postgres down",
    )


def test_failed_apply_is_not_a_fault_window() -> None:
    info = {"id": "f1", "label": "postgres down", "kind": "down"}
    events = [Event(5, "fault_applied", {"fault": info, "error": "proxy refused"})]
    assert fault_windows(events) == []
