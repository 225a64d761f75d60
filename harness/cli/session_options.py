"""The session-state option shared by ``replay``, ``run``, ``validate`` and ``ci``."""

from __future__ import annotations

import argparse

from harness.replay.ordering import ORDERINGS


def add_ordering_option(parser: argparse.ArgumentParser, *, scenario: bool = True) -> None:
    """``--ordering session|schedule`` (see docs/metrics-and-gates.md, session order); with
    ``scenario`` its default is the scenario's ``ordering`` key (else ``session``)."""
    default = "the scenario's ordering, else session" if scenario else "session"
    parser.add_argument(
        "--ordering",
        choices=ORDERINGS,
        default=None if scenario else "session",
        help="session: a request that followed an answer of its session in the capture waits"
        " for that answer from the same target, then the captured think time; schedule: every"
        f" request at its captured offset, whatever happened before it (default: {default})",
    )
