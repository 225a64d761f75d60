"""HeaderLines: lines cut in the heads' own buffer and split once per distinct line, exactly as
the general Arrow kernels and the per-record ``split_headers`` cut them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capture.headerlines import HeaderLines, _split_lines, _split_lines_kernel
from harness.capture.record import split_headers

# the characters that matter to the cut: separators, blanks, colons, multibyte UTF-8
TEXT = st.text(alphabet="aB:; \t\r\n\u00e9\u20ac=", max_size=40)
HEADS = st.lists(st.one_of(st.none(), TEXT), max_size=8)


def _expected(heads: list[str | None]) -> tuple[list[str], list[int]]:
    """(every line, list offsets) as the general kernel cuts them."""
    lines, offsets = _split_lines_kernel(pa.array(heads, pa.string()))
    return lines.to_pylist(), offsets.to_pylist()


@settings(max_examples=400, deadline=None)
@given(HEADS, st.integers(0, 3))
def test_lines_are_the_kernels_lines_with_their_separators(
    heads: list[str | None], skip: int
) -> None:
    array = pa.array(heads, pa.string()).slice(min(skip, len(heads)))
    heads = heads[min(skip, len(heads)) :]
    flat, offsets = _split_lines(array)
    lines, expected_offsets = _expected(heads)
    assert offsets.to_pylist() == expected_offsets
    # each line but the last of its head keeps the newline that ends it
    got = flat.to_pylist()
    last = {o - 1 for o in expected_offsets[1:]}
    assert [g if i in last else g.removesuffix("\n") for i, g in enumerate(got)] == lines
    assert all(g.endswith("\n") for i, g in enumerate(got) if i not in last)


@settings(max_examples=400, deadline=None)
@given(HEADS)
def test_names_and_values_are_those_of_split_headers(heads: list[str | None]) -> None:
    heads = [h or None for h in heads]  # as the callers give them: an empty head is null
    lines = HeaderLines(pa.array(heads, pa.string()))
    offsets = lines.offsets.to_pylist()
    pairs = list(zip(lines.names.to_pylist(), lines.values.to_pylist(), strict=True))
    for i, head in enumerate(heads):
        assert pairs[offsets[i] : offsets[i + 1]] == split_headers(head or "")
    flat, _ = _expected(heads)
    assert lines.raw_values.to_pylist() == [line.partition(":")[2] for line in flat]
    colons = [":" in line for line in flat]
    assert (lines.has_colon is None) == all(colons)
    if lines.has_colon is not None:
        assert lines.has_colon.to_pylist() == colons
    # the distinct lines are what the per-line columns are taken from
    assert len(lines.distinct.names) == len(set(lines.indices.to_pylist()))


def test_empty_strings_and_trailing_newlines_give_empty_lines() -> None:
    lines = HeaderLines(pa.array(["", "A: b\n", None, "\n\n", "C:d"], pa.string()))
    assert lines.offsets.to_pylist() == [0, 1, 3, 3, 6, 7]
    assert lines.names.to_pylist() == ["", "A", "", "", "", "", "C"]
    assert lines.values.to_pylist() == ["", "b", "", "", "", "", "d"]
    assert lines.has_colon is not None
    assert lines.has_colon.to_pylist() == [False, True, False, False, False, False, True]


def test_a_null_head_with_data_under_it_takes_the_general_kernel() -> None:
    # Arrow lets a null slot span data; the buffer cut would read it as lines
    data = b"A: 1\nB: 2" + b"X: hidden" + b"C: 3"
    offsets = np.array([0, 9, 18, 22], dtype=np.int32)
    validity = np.packbits(np.array([True, False, True]), bitorder="little")
    heads = pa.Array.from_buffers(
        pa.string(), 3, [pa.py_buffer(validity), pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    lines = HeaderLines(heads)
    assert lines.offsets.to_pylist() == [0, 2, 2, 3]
    assert lines.names.to_pylist() == ["A", "B", "C"]
    assert lines.values.to_pylist() == ["1", "2", "3"]
    assert "hidden" not in str(lines.column(lines.names, lines.values).to_pylist())


def test_many_lines_repeat_few_distinct_ones() -> None:
    heads = [f"Host: a\r\nCookie: s=1\r\nX-Id: {i % 3}" for i in range(1000)]
    lines = HeaderLines(pa.array(heads, pa.string()))
    assert len(lines) == 3000
    # "Host: a\r\n" and "Cookie: s=1\r\n" once each, three X-Id lines
    assert len(lines.distinct.names) == 5
    assert pc.count_distinct(lines.values).as_py() == 5
    assert lines.values.to_pylist()[:3] == ["a", "s=1", "0"]
