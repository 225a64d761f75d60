"""Fuzz tests of the YAML inputs: mutated scenario, stack and capture-config files through
``harness lint`` / ``harness capture import --config`` exit 0 or 3 (naming the file), never a
traceback or another code. Bounded for CI; ``benchmarks/fuzz_inputs.py`` runs longer.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzzing import FORMATS, FUZZ, check, fuzz_once, prepare


@pytest.mark.parametrize("name", ["scenario", "stack", "config"])
@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_mutated_yaml_exits_0_or_3(tmp_path: Path, name: str, rng: random.Random) -> None:
    fuzz_once(name, tmp_path, rng)


@pytest.mark.parametrize("name", ["scenario", "stack", "config"])
def test_the_unmutated_seed_is_clean(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOP_BUILD", raising=False)
    fmt = FORMATS[name]
    prepare(fmt, tmp_path)
    assert check(fmt, tmp_path, fmt.seed()) == (0, None)
