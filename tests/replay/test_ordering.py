"""Session order: what a request awaits on replay, its think time, and when it may leave."""

from __future__ import annotations

from harness.replay.ordering import NO_WAIT, Order, OrderRow, ready_ns, session_order

MS = 1_000_000


def test_sequential_session_waits_for_the_previous_reply() -> None:
    rows = [
        OrderRow(0, 0, "a", 0, 100 * MS),
        OrderRow(1, 1, "a", 300 * MS, 50 * MS),
        OrderRow(2, 2, "a", 400 * MS, 10 * MS),
    ]
    orders = session_order(rows)
    assert 0 not in orders
    assert orders[1] == Order((0,), 200 * MS)
    assert orders[2] == Order((1,), 50 * MS)


def test_overlapping_requests_do_not_wait_for_each_other() -> None:
    # a browser: page (0-100 ms), then two parallel fetches, then a click after both answered
    rows = [
        OrderRow(0, 0, "b", 0, 100 * MS),
        OrderRow(1, 1, "b", 110 * MS, 300 * MS),  # ends at 410
        OrderRow(2, 2, "b", 120 * MS, 100 * MS),  # ends at 220
        OrderRow(3, 3, "b", 250 * MS, 10 * MS),  # left after 2's reply, while 1 was pending
        OrderRow(4, 4, "b", 900 * MS, 10 * MS),
    ]
    orders = session_order(rows)
    assert orders[1] == Order((0,), 10 * MS)
    assert orders[2] == Order((0,), 20 * MS)  # did not wait for 1
    assert orders[3] == Order((2,), 30 * MS)
    assert orders[4] == Order((1,), 490 * MS)  # 1 arrived last (410 ms); 3 arrived at 260


def test_sessions_are_independent_and_rows_without_session_never_wait() -> None:
    rows = [
        OrderRow(0, 0, "a", 0, 10 * MS),
        OrderRow(1, 1, "b", 50 * MS, 10 * MS),
        OrderRow(2, 2, None, 60 * MS, 10 * MS),
        OrderRow(3, 3, None, 90 * MS, 10 * MS),
    ]
    assert session_order(rows) == {}


def test_requests_without_captured_response_are_not_awaited() -> None:
    rows = [OrderRow(0, 0, "a", 0, None), OrderRow(1, 1, "a", 100 * MS, 5 * MS)]
    assert session_order(rows) == {}


def test_link_sources_are_awaited_too() -> None:
    rows = [
        OrderRow(0, 10, "a", 0, 500 * MS),  # the login: answered at 500 ms
        OrderRow(1, 11, "a", 100 * MS, 450 * MS),  # answered at 550 ms
        OrderRow(2, 12, "a", 600 * MS, 5 * MS, link_sources=(10,)),
    ]
    assert session_order(rows)[2] == Order((0, 1), 50 * MS)
    # a link source that is not in the rows (another shard's) is ignored
    alone = [OrderRow(5, 15, "a", 0, 5 * MS, link_sources=(99,))]
    assert session_order(alone) == {}


def test_ready_time() -> None:
    order = Order((0,), 200 * MS)
    timeout = 2_000 * MS
    # fast target: the schedule rules
    assert ready_ns(1_000 * MS, order, [100 * MS], 1.0, timeout) == 1_000 * MS
    # slow target: wait for the reply, then the captured think time (scaled by the speed)
    assert ready_ns(1_000 * MS, order, [950 * MS], 1.0, timeout) == 1_150 * MS
    assert ready_ns(1_000 * MS, order, [950 * MS], 2.0, timeout) == 1_050 * MS
    # a reply that never came counts at the timeout
    assert ready_ns(1_000 * MS, order, [None], 1.0, timeout) == 3_200 * MS
    assert ready_ns(1_000 * MS, NO_WAIT, [], 1.0, timeout) == 1_000 * MS
