"""False positives of the card rule on values that are not cards: before and after its guards.

Draws N values of each kind that real traffic is full of (random UUIDs, epoch timestamps in
seconds, milliseconds, microseconds and nanoseconds between 2001 and 2033, 24- and 32-digit hex
ids, 16-digit order numbers) with a fixed seed, puts each in a query
string, and counts how many the card rule of wave 1 (any 13-19 digits, blanks or dashes allowed,
that pass the Luhn check) and the current rule (:mod:`harness.capture.cards`) would replace.

Usage::

    .venv/bin/python benchmarks/card_false_positives.py            # 100,000 values per kind
    .venv/bin/python benchmarks/card_false_positives.py --n 10000
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import uuid
from collections.abc import Callable

from harness.capture.cards import CARD_CANDIDATE, is_card, luhn_valid

# the card rule of wave 1 (harness/capture/redact.py before pseudonyms)
_OLD = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
_START, _END = 978_307_200, 2_000_000_000  # 2001-01-01 .. 2033-05-18


def old_hits(text: str) -> int:
    return sum(
        luhn_valid(m.group(0).replace(" ", "").replace("-", "")) for m in _OLD.finditer(text)
    )


def new_hits(text: str) -> int:
    return sum(is_card(m.group(0)) for m in CARD_CANDIDATE.finditer(text))


def kinds(rng: random.Random) -> dict[str, Callable[[], str]]:
    return {
        "UUID v4": lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "epoch s": lambda: str(rng.randrange(_START, _END)),
        "epoch ms (13 digits)": lambda: str(rng.randrange(_START * 1000, _END * 1000)),
        "epoch us (16 digits)": lambda: str(rng.randrange(_START * 10**6, _END * 10**6)),
        "epoch ns (19 digits)": lambda: str(rng.randrange(_START * 10**9, _END * 10**9)),
        "hex id (24)": lambda: f"{rng.getrandbits(96):024x}",
        "hex id (32)": lambda: f"{rng.getrandbits(128):032x}",
        "order no. 16 digits, 1/7/8/9...": lambda: (
            rng.choice("1789") + str(rng.randrange(10**14, 10**15))
        ),
        # what the rule cannot tell from a card: the limit of any card rule
        "order no. 16 digits, 4/5/6...": lambda: (
            rng.choice("456") + str(rng.randrange(10**14, 10**15))
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="values per kind")
    args = parser.parse_args()
    rng = random.Random(10)
    print(f"| values ({args.n:,} each) | wave-1 card rule | current card rule |")
    print("| --- | ---: | ---: |")
    for name, draw in kinds(rng).items():
        old = new = 0
        for _ in range(args.n):
            text = f"/x?id={draw()}&since={draw()}"
            old += old_hits(text)
            new += new_hits(text)
        print(f"| {name} | {old:,} ({old / (2 * args.n):.2%}) | {new:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
