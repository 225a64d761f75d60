"""The public surface of harness.capture."""

from __future__ import annotations

import harness.capture


def test_all_is_sorted_and_exported() -> None:
    assert list(harness.capture.__all__) == sorted(harness.capture.__all__)
    for name in harness.capture.__all__:
        assert hasattr(harness.capture, name), name
