"""The session-state option shared by ``replay``, ``run``, ``validate`` and ``ci``."""

from __future__ import annotations

import argparse

from harness.replay.ordering import ORDERINGS


def add_ordering_option(parser: argparse.ArgumentParser) -> None:
    """``--ordering session|schedule`` (see docs/metrics-and-gates.md, session order)."""
    parser.add_argument(
        "--ordering",
        choices=ORDERINGS,
        default="session",
        help="session (default): a request that followed an answer of its session in the capture"
        " waits for that answer from the same target, then the captured think time; schedule:"
        " every request at its captured offset, whatever happened before it",
    )
