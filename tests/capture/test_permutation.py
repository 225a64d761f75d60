"""The keyed permutation: one to one on every range size, keyed, and tweak-separated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.capture.permutation import FEISTEL_LIMIT, KeyedPermutation

PERM = KeyedPermutation(b"p" * 32)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 26, 100, 257, 1000])
def test_small_ranges_are_permuted_exactly(n: int) -> None:
    images = [PERM.permute(x, n, b"t") for x in range(n)]
    assert sorted(images) == list(range(n))
    if n >= 26:
        assert images != list(range(n))  # not the identity


@given(st.integers(min_value=2, max_value=FEISTEL_LIMIT), st.data())
def test_images_stay_in_range(n: int, data: st.DataObject) -> None:
    x = data.draw(st.integers(min_value=0, max_value=n - 1))
    assert 0 <= PERM.permute(x, n, b"t") < n


def test_keys_and_tweaks_give_different_permutations() -> None:
    other = KeyedPermutation(b"q" * 32)
    n = 10**6
    assert [PERM.permute(x, n, b"a") for x in range(20)] != [
        other.permute(x, n, b"a") for x in range(20)
    ]
    assert [PERM.permute(x, n, b"a") for x in range(20)] != [
        PERM.permute(x, n, b"b") for x in range(20)
    ]


def test_short_key_refused_and_hidden() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        KeyedPermutation(b"short")
    assert "pppp" not in repr(PERM)


def test_stream_length_and_determinism() -> None:
    assert len(PERM.stream(b"x", 100)) == 100
    assert PERM.stream(b"x", 40) == PERM.stream(b"x", 40)
    assert PERM.stream(b"x", 40) != PERM.stream(b"y", 40)
