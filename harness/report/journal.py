"""``verdict.json``: the journal whose ``status`` decides the exit code."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from harness.analysis.model import Verdict
from harness.errors import InputError


def render_journal(verdict: Verdict) -> str:
    return verdict.model_dump_json(indent=2) + "\n"


def read_journal(path: Path) -> Verdict:
    """Load a ``verdict.json``; raises :class:`InputError` naming the file."""
    try:
        return Verdict.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no verdict.json here: run `harness compare` first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{path}: not a verdict journal: {where}: {first['msg']}") from None
