"""A keyed permutation of the integers ``0 .. n-1``: the engine under every pseudonym.

:class:`KeyedPermutation` maps a number to another number of the same range, one to one, under
a secret key: equal inputs give equal outputs, distinct inputs distinct outputs, and without
the key the output says nothing about the input. Pseudonyms (:mod:`harness.capture.pseudonym`)
write a value as a number in a mixed radix (26 per letter, 10 per digit, ...), permute it and
write it back, so the pseudonym keeps the value's shape.

How: a balanced Feistel network over ``[0, a*a)`` with ``a*a >= n`` whose round function is
HMAC-SHA256 of the key, a tweak (what kind of value, so that two kinds never share a
permutation), the round and the right half; outputs ``>= n`` are fed through again (cycle
walking), which keeps the map a permutation of ``[0, n)``. Eight rounds (Luby-Rackoff needs
four for a pseudorandom permutation). Above :data:`FEISTEL_LIMIT` the range is so large that a
keyed hash reduced modulo ``n`` collides with negligible probability, and is used instead.
"""

from __future__ import annotations

import hmac
from math import isqrt

ROUNDS = 8
#: Ranges up to this size are permuted exactly; larger ones use a keyed hash (no collision in
#: practice: two values collide with probability below 2**-128).
FEISTEL_LIMIT = 1 << 128


class KeyedPermutation:
    """Keyed one-to-one maps of ``[0, n)`` for any ``n`` (see the module docstring).

    Example::

        perm = KeyedPermutation(b"a secret key of 32 random bytes.")
        perm.permute(1234, 10_000, b"digits")   # another number below 10,000, always the same
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a pseudonym key has at least 16 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "KeyedPermutation(<key hidden>)"

    def permute(self, x: int, n: int, tweak: bytes) -> int:
        """The image of ``x`` (``0 <= x < n``) under the permutation of ``[0, n)`` for ``tweak``."""
        if n <= 1:
            return x
        if n > FEISTEL_LIMIT:
            return self.number(tweak + b"\0" + x.to_bytes((x.bit_length() + 7) // 8 + 1), n)
        half = isqrt(n - 1) + 1  # half * half >= n
        width = (half.bit_length() + 7) // 8
        prefix = tweak + b"\0" + n.to_bytes((n.bit_length() + 7) // 8)
        key = self._key
        y = x
        while True:
            left, right = divmod(y, half)
            for r in range(ROUNDS):
                mac = hmac.digest(key, prefix + bytes((r,)) + right.to_bytes(width), "sha256")
                left, right = right, (left + int.from_bytes(mac[:24])) % half
            y = left * half + right
            if y < n:
                return y

    def number(self, data: bytes, n: int) -> int:
        """A keyed hash of ``data`` as a number in ``[0, n)`` (not one to one)."""
        return int.from_bytes(self.stream(data, (n.bit_length() + 7) // 8 + 16)) % n

    def stream(self, data: bytes, size: int) -> bytes:
        """``size`` pseudo-random bytes derived from the key and ``data`` (HMAC in counter mode
        over the HMAC of ``data``: the data is hashed once, however many bytes are drawn)."""
        seed = hmac.digest(self._key, data, "sha256")
        out = bytearray()
        counter = 0
        while len(out) < size:
            out += hmac.digest(self._key, counter.to_bytes(4) + seed, "sha256")
            counter += 1
        return bytes(out[:size])
