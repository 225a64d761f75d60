"""Limits on capture input, and the ranges a captured value must lie in to be used.

A capture comes from production, sometimes from a tool nobody here controls, sometimes cut off
or corrupted: the readers must neither exhaust the machine on it nor write values that break
the capture file or the replay. :class:`InputLimits` holds the limits (set with ``harness
capture import --max-record-size / --max-inflated-size / --max-ratio`` or the capture config's
``limits:``), documented in docs/capture.md:

- a **record** (a GoReplay request or response, a mitmproxy flow, a HAR entry's body) larger
  than ``max_record_bytes`` is skipped and counted, read past without being held in memory;
- **compressed input** (``.gor.gz``, and gzip around any format) may inflate to at most
  ``max_inflated_bytes``, and, once past ``ratio_floor_bytes``, to at most ``max_ratio`` times
  the compressed bytes read: past either the import stops with exit 3 (a gzip bomb), naming the
  compressed byte offset;
- a **HAR** file is one JSON document, read whole: at most ``max_har_bytes``.

The value checks (:func:`ts_problem`, :func:`status_ok`, ...) keep what Arrow's int64 / int32
columns and the replay can hold: a timestamp between 1970 and 2262 (int64 nanoseconds), a
status of three digits, a latency that fits in int64 nanoseconds.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MiB = 1 << 20
GiB = 1 << 30
#: Largest value of an int64 column (timestamps and latencies in nanoseconds).
INT64_MAX = 2**63 - 1
#: Deepest nesting of a mitmproxy flow (tnetstring) or HAR (JSON) document that is read.
MAX_NESTING = 100

SKIP_TOO_LARGE = "record larger than the size limit"
SKIP_BAD_TIMESTAMP = "timestamp out of range"
SKIP_CORRUPT_GZIP = "corrupt gzip data"


def _size(value: object) -> object:
    return parse_size(value) if isinstance(value, str) else value


#: A number of bytes, or text such as ``16M``, ``2G`` (binary units).
Size = Annotated[int, BeforeValidator(_size)]


class InputLimits(BaseModel):
    """Resource limits of one import (see the module docstring and docs/capture.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_record_bytes: Size = Field(
        16 * MiB, ge=1024, description="largest record read; larger ones are skipped, counted"
    )
    max_inflated_bytes: Size = Field(
        64 * GiB, ge=MiB, description="most bytes compressed input may inflate to"
    )
    max_ratio: float = Field(
        200.0, ge=2, description="most inflated bytes per compressed byte (gzip bombs: ~1000)"
    )
    ratio_floor_bytes: Size = Field(
        32 * MiB, ge=0, description="inflated bytes before the ratio is checked"
    )
    max_har_bytes: Size = Field(2 * GiB, ge=MiB, description="largest HAR file (read whole)")


DEFAULT_LIMITS = InputLimits()


def size_text(n: float) -> str:
    """``16 MiB``, ``1.5 GiB``, ``512 KiB``, ``900 B``: sizes in messages."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def parse_size(text: str) -> int:
    """Bytes in ``16M``, ``16MiB``, ``2G``, ``512k`` or ``1048576`` (binary units).

    >>> parse_size("16M"), parse_size("1.5GiB"), parse_size("4096")
    (16777216, 1610612736, 4096)
    """
    units = {"": 1, "k": 1024, "m": MiB, "g": GiB, "t": 1024 * GiB}
    low = text.strip().lower().removesuffix("ib").removesuffix("b")
    number, unit = (low[:-1], low[-1]) if low[-1:] in units and low[-1:] != "" else (low, "")
    try:
        value = float(number) * units[unit]
    except (ValueError, KeyError):
        raise ValueError(f"not a size: {text!r} (write e.g. 16M, 2G, 512k)") from None
    if not math.isfinite(value) or value < 0 or value > INT64_MAX:
        raise ValueError(f"not a size: {text!r}")
    return int(value)


def ts_ok(ts_ns: int) -> bool:
    """Whether ``ts_ns`` is an epoch-nanosecond timestamp int64 can hold (1970 to 2262)."""
    return 0 <= ts_ns <= INT64_MAX


def latency_ok(latency_ns: int) -> bool:
    """Whether ``latency_ns`` is a non-negative duration int64 can hold."""
    return 0 <= latency_ns <= INT64_MAX


def status_ok(status: int) -> bool:
    """Whether ``status`` is an HTTP status code: three digits, 100 to 999."""
    return 100 <= status <= 999


def seconds_to_ns(seconds: object) -> int | None:
    """Nanoseconds in a number of seconds (a float from JSON or mitmproxy), or ``None`` when it
    is not a finite, non-negative number that int64 nanoseconds can hold."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    if not math.isfinite(seconds) or seconds < 0 or seconds * 1e9 > INT64_MAX:
        return None
    return round(seconds * 1e9)


def utf8_ok(text: str) -> bool:
    """Whether ``text`` can be stored as UTF-8 (a lone surrogate, as JSON escapes or
    surrogate-escaped bytes give, cannot: Arrow refuses the whole column)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
