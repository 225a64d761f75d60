"""What each redaction rule replaces in real captures: the data behind the false-positive list.

Imports each capture (default: every ``.gor``, ``.mitm`` and ``.har`` file of the repository)
with pseudonymisation on, and prints, per file and rule, how many values the rule replaced and
the distinct raw values (shortened), so that a person can tell true from false positives. The
values are those of the repository's public fixtures and demo recordings; do not run this on
production traffic where others can read the output.

Usage::

    .venv/bin/python benchmarks/redaction_hits.py                 # every capture in the repo
    .venv/bin/python benchmarks/redaction_hits.py traffic.mitm    # some files
    .venv/bin/python benchmarks/redaction_hits.py --rule card     # one rule only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from harness.capture import ingest
from harness.capture.redact import Redactor
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parent.parent
# rules that replace a whole header value (the header line is shown)
_LINE_RULES = {"authorization", "cookie", "set-cookie", "api-key", "header-entropy", "userinfo"}


def captures() -> list[Path]:
    """Every capture source of the repository (the shared fixtures are copies of tests' data)."""
    found = []
    for folder in ("captures", "tests/capture/data"):
        for pattern in ("*.gor", "*.gor.gz", "*.mitm", "*.har"):
            found += sorted((ROOT / folder).glob(pattern))
    return found


def recording_redactor(seen: dict[str, Counter[str]]) -> type[Redactor]:
    """A :class:`Redactor` that notes each raw value it replaces, by rule."""

    class Recording(Redactor):
        def _replace(self, rule: str, raw: str) -> str:
            seen[rule][raw] += 1
            return super()._replace(rule, raw)

        def line(
            self, name: str, value: str, colon: bool = True
        ) -> tuple[str, str, tuple[str, ...]]:
            result = super().line(name, value, colon)
            for rule in set(result[2]) & _LINE_RULES:
                seen[rule][f"{name.strip()}: {value}"] += 1
            return result

    return Recording


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--rule", action="append", help="show only this rule (repeatable)")
    parser.add_argument("--width", type=int, default=90, help="shorten values to this")
    args = parser.parse_args()
    files = args.files or captures()
    with tempfile.TemporaryDirectory() as tmp:
        for source in files:
            seen: dict[str, Counter[str]] = defaultdict(Counter)
            ingest.Redactor = recording_redactor(seen)  # type: ignore[misc]
            try:
                meta = ingest.import_capture([source], Path(tmp) / "out.capture.parquet")
            except HarnessError as exc:
                print(f"\n## {source.relative_to(ROOT) if source.is_absolute() else source}: {exc}")
                continue
            name = source.relative_to(ROOT) if source.is_relative_to(ROOT) else source
            print(f"\n## {name}: {meta.counts.written} requests, rules {meta.redaction.rules}")
            for rule in sorted(seen):
                if args.rule and rule not in args.rule:
                    continue
                values = seen[rule]
                print(f"- {rule}: {sum(values.values())} hits, {len(values)} distinct")
                for raw, n in values.most_common():
                    text = raw if len(raw) <= args.width else raw[: args.width - 3] + "..."
                    print(f"    {n:>5}  {text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
