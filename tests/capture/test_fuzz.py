"""Fuzz tests of the capture readers: mutated real GoReplay, mitmproxy and HAR files through
``harness capture import`` exit 0 or 3 (naming the file), never a traceback or another code.

Bounded for CI (deterministic examples, a few seconds each); ``benchmarks/fuzz_inputs.py
--minutes N`` runs the same mutations for longer with fresh seeds.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzzing import FORMATS, FUZZ, check, fuzz_once, prepare


@pytest.mark.parametrize("name", ["gor", "mitm", "har"])
@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_mutated_capture_exits_0_or_3(tmp_path: Path, name: str, rng: random.Random) -> None:
    fuzz_once(name, tmp_path, rng)


@pytest.mark.parametrize("name", ["gor", "mitm", "har"])
def test_the_unmutated_seed_imports(tmp_path: Path, name: str) -> None:
    # the fuzz starts from files that import cleanly: a mutation, not the seed, is what fails
    fmt = FORMATS[name]
    prepare(fmt, tmp_path)
    assert check(fmt, tmp_path, fmt.seed()) == (0, None)
