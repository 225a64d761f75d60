"""The frames of a mitmproxy flow file, read within limits before mitmproxy parses them.

A flow file (``mitmdump -w``) is a sequence of tnetstrings, one per flow: ``<length>:<payload>
<type>``, where a dict or list payload holds more tnetstrings. mitmproxy's own reader trusts
the length prefix (``999999999999:`` asks for a terabyte) and parses nesting by recursion (a
deep list ends in ``RecursionError``). :func:`frames` reads one top-level frame at a time:

- a length larger than the record limit is read past in blocks and reported, never held;
- a frame cut off by the end of the file is reported as such;
- the nesting depth is measured by a flat scan before anything recursive sees the payload;
- only then does mitmproxy's ``tnetstring.parse`` turn the payload into Python values.

Each frame comes back as a :class:`Frame` with its number and byte offset (the place an error
names), and either the parsed value or the reason it cannot be used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from harness.capture.limits import MAX_NESTING, InputLimits, size_text

#: Digits of a length prefix mitmproxy accepts (and so do we): 12.
MAX_PREFIX_DIGITS = 12
_CONTAINERS = frozenset(b"]}")
_DISCARD_BLOCK = 1 << 20


@dataclass(frozen=True)
class Frame:
    """One top-level tnetstring: ``value`` when it parsed, else ``problem`` says why not.

    ``end`` is true for the frame that ends the file early (cut off, or not a tnetstring at all):
    nothing after it can be read, as tnetstrings have no marker to resume at.
    """

    number: int
    offset: int
    value: object = None
    problem: str | None = None
    end: bool = False
    #: the problem is the record size limit
    too_large: bool = False


def frames(stream: BinaryIO, limits: InputLimits) -> Iterator[Frame]:
    """The frames of ``stream`` in order (see the module docstring)."""
    from mitmproxy.io import tnetstring

    offset = 0
    number = 0
    while True:
        first = stream.read(1)
        if not first:
            return
        number += 1
        here = offset
        prefix = first
        while prefix[-1:].isdigit() and len(prefix) <= MAX_PREFIX_DIGITS:
            prefix += stream.read(1)
        if not prefix.endswith(b":") or len(prefix) < 2:
            yield Frame(number, here, problem="not a tnetstring (no length prefix)", end=True)
            return
        length = int(prefix[:-1])
        offset = here + len(prefix) + length + 1
        if length > limits.max_record_bytes:
            if not _discard(stream, length + 1):
                yield Frame(number, here, problem="cut off by the end of the file", end=True)
                return
            problem = f"{size_text(length)}, larger than {size_text(limits.max_record_bytes)}"
            yield Frame(number, here, problem=problem, too_large=True)
            continue
        payload = stream.read(length + 1)
        if len(payload) < length + 1:
            yield Frame(number, here, problem="cut off by the end of the file", end=True)
            return
        kind = payload[-1]
        body = memoryview(payload)[:-1]
        if kind in _CONTAINERS and not nesting_within(body, MAX_NESTING):
            yield Frame(number, here, problem=f"nested more than {MAX_NESTING} levels deep")
            continue
        try:
            value = tnetstring.parse(kind, body)
        except (ValueError, TypeError, IndexError) as exc:
            message = str(exc).split("\n", 1)[0][:120] or type(exc).__name__
            yield Frame(number, here, problem=f"invalid tnetstring: {message}")
            continue
        yield Frame(number, here, value=value)


def _discard(stream: BinaryIO, n: int) -> bool:
    """Read past ``n`` bytes of ``stream`` in blocks; ``False`` when it ends first."""
    while n > 0:
        chunk = stream.read(min(n, _DISCARD_BLOCK))
        if not chunk:
            return False
        n -= len(chunk)
    return True


def nesting_within(data: memoryview, limit: int) -> bool:
    """Whether the tnetstrings in ``data`` (a container's payload) nest at most ``limit`` deep.

    A flat scan: an element is ``<length>:<payload><type>``; a container's payload is entered,
    any other payload skipped. Malformed data answers ``True``: the parser reports it.
    """
    ends: list[int] = [len(data)]  # where each open container's payload ends (this one first)
    pos = 0
    size = len(data)
    while ends:
        if pos >= ends[-1]:
            pos = ends.pop() + 1  # past the container's type byte
            continue
        colon = pos
        while colon < size and colon - pos <= MAX_PREFIX_DIGITS and 48 <= data[colon] <= 57:
            colon += 1
        if colon >= size or data[colon] != 58 or colon == pos:  # 58 is ":"
            return True
        length = int(bytes(data[pos:colon]))
        kind_at = colon + 1 + length
        if kind_at >= size:
            return True
        if data[kind_at] in _CONTAINERS:
            if len(ends) >= limit:
                return False
            ends.append(kind_at)
            pos = colon + 1
        else:
            pos = kind_at + 1
    return True
