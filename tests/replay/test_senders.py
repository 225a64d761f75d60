"""Sender greenlets reused from one request to the next (harness.replay.senders)."""

from __future__ import annotations

import gevent
import gevent.event
import pytest

from harness.replay.senders import Senders


def test_every_job_runs_and_an_idle_sender_takes_the_next_one() -> None:
    senders = Senders()
    ran: list[tuple[int, object]] = []
    for i in range(5):
        senders.spawn(lambda n: ran.append((n, gevent.getcurrent())), i)
        assert senders.join(timeout=5)
    assert [n for n, _ in ran] == [0, 1, 2, 3, 4]
    # one after the other: the first sender took them all
    assert len({id(g) for _, g in ran}) == 1
    senders.kill()


def test_a_job_never_waits_for_a_busy_sender() -> None:
    senders = Senders()
    release = gevent.event.Event()
    started: list[int] = []

    def job(n: int) -> None:
        started.append(n)
        release.wait()

    for i in range(3):
        senders.spawn(job, i)
    gevent.sleep(0)
    assert started == [0, 1, 2]  # three at once: three senders
    assert len(senders) == 3
    assert not senders.join(timeout=0.01)
    release.set()
    assert senders.join(timeout=5)
    assert len(senders) == 0
    senders.kill()


def test_kill_ends_busy_and_idle_senders() -> None:
    senders = Senders()
    ended: list[str] = []

    def stuck() -> None:
        try:
            gevent.sleep(60)
        finally:
            ended.append("stuck")

    senders.spawn(lambda: None)
    senders.join(timeout=5)
    senders.spawn(stuck)
    senders.spawn(stuck)
    gevent.sleep(0)
    senders.kill(block=True, timeout=5)
    assert ended == ["stuck", "stuck"]
    assert senders.join(timeout=0)
    assert not senders._all  # every sender, idle or busy, has ended


def test_a_failing_job_is_counted_and_the_others_still_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    senders = Senders()

    def boom() -> None:
        raise RuntimeError("job failed")

    done: list[int] = []
    senders.spawn(boom)
    senders.spawn(done.append, 1)
    assert senders.join(timeout=5)
    senders.spawn(done.append, 2)
    assert senders.join(timeout=5)
    assert done == [1, 2]
    assert "job failed" in capsys.readouterr().err  # the hub printed it, as for gevent.spawn
    senders.kill()
