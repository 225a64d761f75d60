"""Metrics with known answers: counters with resets, amplification, pairing."""

import numpy as np
import pandas as pd
import pytest

from harness.analysis.metrics import (
    amplification,
    counter_increases,
    error_mask,
    pair_responses,
    response_diff,
)

S = 1_000_000_000


def test_error_is_no_response_or_5xx() -> None:
    frame = pd.DataFrame({"status": [0, 200, 404, 499, 500, 503]})
    assert list(error_mask(frame)) == [True, False, False, False, True, True]


def test_counter_reset_counts_the_new_value() -> None:
    probes = pd.DataFrame(
        {
            "t_ns": [0, S, 2 * S, 3 * S, 4 * S],
            "target": ["c"] * 5,
            "probe": ["db_attempts"] * 5,
            "value": [100.0, 110.0, 130.0, 5.0, 15.0],  # restart between 2 s and 3 s
        }
    )
    increases = counter_increases(probes, "c", "db_attempts")
    assert list(increases["increase"]) == [10.0, 20.0, 5.0, 10.0]
    assert counter_increases(probes, "other", "db_attempts").empty


def test_amplification_in_a_window() -> None:
    increases = pd.DataFrame({"t_ns": [S, 2 * S, 3 * S], "increase": [10.0, 60.0, 10.0]})
    due = np.arange(0, 3 * S, S // 10)  # 10 requests a second
    amp = amplification(increases, due, S + 1, 2 * S + 1)
    assert (amp.attempts, amp.requests) == (60.0, 10)
    assert amp.ratio == 6.0


def test_pairs_differ_on_status_or_body() -> None:
    frame = pd.DataFrame(
        {
            "target": ["b", "b", "b", "c", "c", "c"],
            "idx": [1, 2, 3, 1, 2, 3],
            "due_ns": [10, 20, 30, 10, 20, 30],
            "route": ["/a"] * 6,
            "phase": ["before"] * 6,
            "status": [200, 200, 200, 200, 503, 200],
            "body_code": [7, 8, -1, 7, 8, 9],
        }
    )
    diff = response_diff(pair_responses(frame, "b", "c"))
    assert (diff.paired, diff.differing, diff.status_differs) == (3, 2, 1)
    assert diff.share == pytest.approx(2 / 3)


def test_a_looped_capture_pairs_each_send_once() -> None:
    # idx 1 replayed twice (a looped capture): two pairs, not a cross product of four
    frame = pd.DataFrame(
        {
            "target": ["b", "b", "c", "c"],
            "idx": [1, 1, 1, 1],
            "due_ns": [10, 90, 10, 90],
            "route": ["/a"] * 4,
            "phase": ["before"] * 4,
            "status": [200, 503, 200, 503],
            "body_code": [7, 8, 7, 8],
        }
    )
    diff = response_diff(pair_responses(frame, "b", "c"))
    assert (diff.paired, diff.differing) == (2, 0)
