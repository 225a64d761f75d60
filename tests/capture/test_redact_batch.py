"""Batch masking of header lines agrees with the per-record masking code."""

from __future__ import annotations

import random

import pyarrow as pa

from harness.capture.redact import mask_named_header
from harness.capture.redact_batch import _mask_cookie_pairs


def test_cookie_pairs_are_masked_as_the_per_record_code_masks_them() -> None:
    rng = random.Random(2)
    pieces = ["a", "=", ";", " ", "é", "€", "", "x=y", "\r", "sid=abc"]
    for _ in range(2000):
        values = [
            "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
            for _ in range(rng.randint(1, 6))
        ]
        array = pa.array(values, pa.string())
        if len(values) > 1 and rng.random() < 0.3:
            array, values = array.slice(1), values[1:]
        masked, exact = _mask_cookie_pairs(array)
        assert exact.tolist() == [all("=" in part for part in v.split(";")) for v in values]
        for value, mask, is_exact in zip(values, masked.to_pylist(), exact.tolist(), strict=True):
            if is_exact:
                assert mask == mask_named_header("Cookie", value)[1], value
