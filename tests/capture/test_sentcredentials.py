"""The memory of sent credentials: which values count, how long, and that advancing a range of
exchanges at once gives what exchange by exchange gives."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capture.sentcredentials import (
    MIN_LENGTH,
    SentCredentials,
    credential_values,
    remembered,
)


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("abcdefgh", True),
        ("a.aa.a.a", True),
        ("abcdefg", False),  # shorter than MIN_LENGTH
        ("dark", False),
        ("1234567890", False),  # a row id, as the path-token rule keeps it
        ("12345678901", True),  # too long for a row id
        ("１２３４５６７８", True),  # not ASCII digits: no row id
    ],
)
def test_which_values_are_remembered(value: str, kept: bool) -> None:
    assert remembered(value) is kept
    assert MIN_LENGTH == 8


@pytest.mark.parametrize(
    ("rule", "value", "parts"),
    [
        ("authorization", "Bearer abcdefgh", ["abcdefgh"]),
        ("authorization", "Basic YWxpY2Uuc21pdGg6aHVudGVyMi1wdw==", ["alice.smith", "hunter2-pw"]),
        ("authorization", 'Digest username="alice.smith", realm="r", nc=1', ["alice.smith"]),
        ("cookie", "sid=abcdefgh; theme=dark; lang=en", ["abcdefgh"]),
        ("set-cookie", "sid=abcdefghij; Path=/; HttpOnly", ["abcdefghij"]),
        ("api-key", "k3y-abcdefgh", ["k3y-abcdefgh"]),
        ("secret-field", "abcdefgh", ["abcdefgh"]),
        ("cookie", "uid=1234567890", []),
    ],
)
def test_the_parts_a_credential_sends(rule: str, value: str, parts: list[str]) -> None:
    assert credential_values(rule, value) == parts


def test_a_value_is_known_from_its_exchange_until_the_window_has_passed() -> None:
    memory = SentCredentials(window=4, sweep=2)
    for i in range(10):
        n = memory.open(["abcdefgh"] if i == 2 else [])
        assert n == i
        # sent in exchange 2: known in it and the four after it, then no more
        assert memory.knows("abcdefgh", n) is (2 <= i <= 6)
        assert not memory.knows("zzzzzzzz", n)
        memory.close()
    assert len(memory) == 0  # swept


def test_sending_again_keeps_a_value_known() -> None:
    memory = SentCredentials(window=4, sweep=2)
    for i in range(20):
        n = memory.open(["session-token"] if i % 3 == 0 else [])
        assert memory.knows("session-token", n)
        memory.close()


def test_a_sweep_over_the_limit_keeps_the_newest_half_in_a_fixed_order() -> None:
    memory = SentCredentials(window=1000, sweep=4, limit=6)
    memory.open([f"value-{i:03d}" for i in range(5)])
    memory.close()
    memory.open([f"value-{i:03d}" for i in range(5, 8)])
    memory.close()
    memory.open([])
    memory.close()
    assert len(memory) == 8  # no sweep yet
    memory.open([])
    memory.close()  # the fourth exchange: a sweep finds 8 > 6 values, keeps the newest 3
    assert list(memory.last) == ["value-005", "value-006", "value-007"]
    # the same values sent in another order leave the same ones
    other = SentCredentials(window=1000, sweep=4, limit=6)
    other.open([f"value-{i:03d}" for i in reversed(range(5))])
    other.close()
    other.advance({f"value-{i:03d}": 1 for i in (7, 5, 6)}, 3)
    assert list(other.last) == ["value-005", "value-006", "value-007"]


def test_a_sweep_must_come_within_the_window() -> None:
    with pytest.raises(ValueError, match="sweep"):
        SentCredentials(window=4, sweep=8)


def _by_exchange(memory: SentCredentials, sends: list[list[str]], ask: list[str]) -> list[bool]:
    known = []
    for values in sends:
        n = memory.open(values)
        known.append(any(memory.knows(value, n) for value in ask))
        memory.close()
    return known


@given(st.data())
@settings(max_examples=60, deadline=None)
def test_advancing_in_ranges_up_to_each_sweep_is_exchange_by_exchange(data: st.DataObject) -> None:
    window = data.draw(st.integers(2, 12))
    sweep = data.draw(st.integers(1, window))
    limit = data.draw(st.integers(1, 10))
    names = [f"credential-{i}" for i in range(data.draw(st.integers(1, 16)))]
    sends = data.draw(
        st.lists(st.lists(st.sampled_from(names), max_size=4), min_size=1, max_size=60)
    )
    one = SentCredentials(window, sweep, limit)
    _by_exchange(one, sends, [])
    many = SentCredentials(window, sweep, limit)
    rng = random.Random(data.draw(st.integers(0, 2**16)))
    start = 0
    while start < len(sends):
        end = min(len(sends), many.next_sweep(many.exchanges) - many.exchanges + start)
        end = rng.randint(start + 1, end)  # a range never runs past a sweep
        last = {value: many.exchanges + i - start for i in range(start, end) for value in sends[i]}
        many.advance(last, end - start)
        start = end
    assert many.exchanges == one.exchanges == len(sends)
    assert dict(many.last) == dict(one.last)  # (values sent together: in any order)
    for memory in (one, many):  # oldest first, as the sweeps take them
        numbers = list(memory.last.values())
        assert numbers == sorted(numbers)
