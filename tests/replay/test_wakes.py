"""How often the dispatcher wakes (harness.replay.timeline.next_wake): at most once per
``WAKE_EVERY_NS``, never before a request's due time, at most that much after it."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from harness.replay.timeline import WAKE_EVERY_NS, next_wake


@given(
    dues=st.lists(st.integers(0, 10**8), min_size=1, max_size=200),
    every=st.sampled_from([1, 7, 100_000, WAKE_EVERY_NS]),
)
def test_wakes_are_spaced_and_never_early_nor_later_than_one_step(
    dues: list[int], every: int
) -> None:
    """A dispatcher that sleeps only for requests not yet due, as the dispatch loop does
    (sending takes no time here)."""
    now, woke, wakes = 0, -(10**12), []
    for due in sorted(dues):
        if due > now:
            now = woke = next_wake(due, woke, every)
            wakes.append(now)
        assert due <= now < due + every  # sent at the latest wake: not early, < one step late
    assert all(b - a >= every for a, b in itertools.pairwise(wakes))


def test_spaced_requests_leave_on_time_and_dense_ones_together() -> None:
    step = WAKE_EVERY_NS
    assert next_wake(1_000_000, 0) == 1_000_000  # last wake long ago: on time
    assert next_wake(1_000_000, 1_000_000 - step) == 1_000_000  # exactly one step later
    assert next_wake(1_000_001, 1_000_000) == 1_000_000 + step  # too soon: one step after
