"""Session order on one timeline: a waiting request is released when its replies and think
time are over, or at the timeout; its wait counts from its schedule, from replies' last bytes."""

from __future__ import annotations

from harness.replay.timeline import SessionTimeline, Slot

MS = 1_000_000
TIMEOUT = 1_000 * MS


class Recorder:
    """The dispatcher's side: what was released (payload, go, wait) and how often it was woken."""

    def __init__(self) -> None:
        self.released: list[tuple[object, int, int]] = []
        self.wakes = 0
        self.timeline = SessionTimeline(self.release, self.wake)

    def release(self, payload: object, go_ns: int, wait_ns: int) -> None:
        self.released.append((payload, go_ns, wait_ns))

    def wake(self) -> None:
        self.wakes += 1


def _done(end_ns: int) -> Slot:
    slot = Slot()
    slot.end_ns = end_ns
    return slot


def test_reply_already_in_and_think_over_leaves_on_schedule() -> None:
    r = Recorder()
    r.timeline.arrive(100 * MS, 20 * MS, [_done(50 * MS)], timeout_ns=TIMEOUT, now_ns=100 * MS,
                      payload="a")  # fmt: skip
    assert r.released == [("a", 100 * MS, 0)]
    assert r.timeline.waiting == 0
    assert r.timeline.next_at() is None


def test_reply_in_but_think_not_over_is_released_at_reply_plus_think() -> None:
    r = Recorder()
    t = r.timeline
    t.arrive(100 * MS, 20 * MS, [_done(95 * MS)], timeout_ns=TIMEOUT, now_ns=100 * MS, payload="a")
    assert r.released == []
    assert t.next_at() == 115 * MS
    t.release_due(114 * MS)
    assert r.released == []
    t.release_due(116 * MS)  # the dispatcher woke late: the request may have left at 115 ms
    assert r.released == [("a", 115 * MS, 15 * MS)]
    assert t.waiting == 0


def test_reply_in_flight_releases_from_its_last_byte_not_from_when_it_was_handled() -> None:
    r = Recorder()
    t = r.timeline
    slot = Slot()
    t.arrive(100 * MS, 10 * MS, [slot], timeout_ns=TIMEOUT, now_ns=100 * MS, payload="a")
    assert t.next_at() == 1_100 * MS  # only the give-up deadline is known
    # the last byte came at 130 ms, the sender was done with it at 145 ms (past 130 + 10)
    t.replied(slot, 130 * MS, 145 * MS)
    assert r.released == [("a", 140 * MS, 40 * MS)]  # its lag counts from 140 ms, not 155
    assert t.next_at() is None


def test_a_reply_that_makes_an_earlier_release_wakes_the_dispatcher() -> None:
    r = Recorder()
    t = r.timeline
    slot = Slot()
    t.arrive(100 * MS, 50 * MS, [slot], timeout_ns=TIMEOUT, now_ns=100 * MS, payload="a")
    wakes = r.wakes
    t.replied(slot, 120 * MS, 121 * MS)
    assert r.wakes == wakes + 1
    assert t.next_at() == 170 * MS
    t.release_due(170 * MS)
    assert r.released == [("a", 170 * MS, 70 * MS)]


def test_waits_for_every_awaited_reply_the_latest_one_counts() -> None:
    r = Recorder()
    t = r.timeline
    first, second = Slot(), Slot()
    t.arrive(0, 5 * MS, [first, second, _done(1 * MS)], timeout_ns=TIMEOUT, now_ns=0, payload="a")
    t.replied(second, 40 * MS, 40 * MS)
    t.release_due(60 * MS)
    assert r.released == []
    t.replied(first, 30 * MS, 61 * MS)  # came before the other one, handled later
    assert r.released == [("a", 45 * MS, 45 * MS)]


def test_a_reply_that_never_comes_is_given_up_at_the_timeout() -> None:
    r = Recorder()
    t = r.timeline
    slot = Slot()
    t.arrive(100 * MS, 10 * MS, [slot], timeout_ns=TIMEOUT, now_ns=102 * MS, payload="a")
    t.release_due(1_101 * MS)
    assert r.released == []
    t.release_due(1_103 * MS)
    assert r.released == [("a", 1_102 * MS, 1_002 * MS)]
    t.replied(slot, 1_200 * MS, 1_200 * MS)  # too late: nothing more happens
    assert len(r.released) == 1
    assert t.waiting == 0


def test_given_up_on_one_reply_the_think_time_after_another_still_holds() -> None:
    r = Recorder()
    t = r.timeline
    late, came = Slot(), Slot()
    t.arrive(0, 500 * MS, [late, came], timeout_ns=TIMEOUT, now_ns=0, payload="a")
    t.replied(came, 900 * MS, 900 * MS)
    t.release_due(1_000 * MS)  # gave up on ``late``; ``came`` + think is 1,400 ms
    assert r.released == []
    assert t.next_at() == 1_400 * MS
    t.release_due(1_400 * MS)
    assert r.released == [("a", 1_400 * MS, 1_400 * MS)]


def test_releases_come_in_time_order_and_several_waiters_share_a_slot() -> None:
    r = Recorder()
    t = r.timeline
    slot = Slot()
    t.arrive(10 * MS, 30 * MS, [slot], timeout_ns=TIMEOUT, now_ns=10 * MS, payload="slow")
    t.arrive(20 * MS, 5 * MS, [slot], timeout_ns=TIMEOUT, now_ns=20 * MS, payload="fast")
    t.replied(slot, 50 * MS, 50 * MS)
    assert t.waiting == 2
    t.release_due(200 * MS)
    assert [(p, go) for p, go, _ in r.released] == [("fast", 55 * MS), ("slow", 80 * MS)]
    assert t.waiting == 0
