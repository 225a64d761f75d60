"""Durations as users write them: ``500ms``, ``20s``, ``2m``, ``1m30s``, or a number of seconds.

>>> parse_duration("1m30s")
90.0
>>> format_duration(0.5)
'500ms'
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
#: The longest duration a file may give (a week): longer is a typo or a unit mix-up, and an
#: unbounded one overflows the nanosecond clocks of the replay.
MAX_DURATION_S = 7 * 24 * 3600.0


def parse_duration(value: str | float | int) -> float:
    """Seconds in ``value``; raises ``ValueError`` with the accepted forms when it is not one."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            pos = 0
            seconds = 0.0
            for match in _PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise ValueError(
                    f"not a duration: {value!r} (write e.g. 500ms, 20s, 2m, 1m30s)"
                ) from None
    if not math.isfinite(seconds):
        raise ValueError(f"not a finite duration: {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{value!r} is longer than a week, the longest duration allowed")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form of ``seconds`` (``500ms``, ``20s``, ``2m``, ``1m30s``)."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds < 60 or seconds % 1:
        return f"{seconds:g}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m" + (f"{rest}s" if rest else "")


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""A pydantic field type: accepts ``"20s"`` etc., holds seconds as a float."""
