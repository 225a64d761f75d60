"""Stable session keys: which client a request belongs to, without keeping who that client is.

The key comes from a configured header or cookie, else the client address (mitmproxy), else the
record's own id (the GoReplay id, shared by a connection in GoReplay 1.2; else ``file:record``).
It is hashed with a salt *before* redaction runs, so the raw cookie or address never reaches the
capture file while the same client keeps the same key. The default salt is random per import;
set ``session.salt`` for keys (and sampling) that stay the same across imports.
"""

from __future__ import annotations

import hashlib
import secrets

from harness.capture.config import SessionConfig
from harness.capture.record import Exchange, header_value


def cookie_value(header: str, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header, or ``None``."""
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value
    return None


class SessionKeyer:
    """Gives each :class:`Exchange` its hashed session key (16 hex digits)."""

    def __init__(self, config: SessionConfig | None = None) -> None:
        self._config = config or SessionConfig()
        self._header = (self._config.header or "").lower() or None
        self._cookie = self._config.cookie
        salt = self._config.salt if self._config.salt is not None else secrets.token_hex(16)
        self._salt = salt.encode()
        self._keyed = hashlib.blake2b(digest_size=8, key=self._salt[:64])

    @property
    def reads_headers(self) -> bool:
        """Whether keys come from a configured header or cookie (else from the record itself)."""
        return self._header is not None or self._cookie is not None

    @property
    def config(self) -> SessionConfig:
        """The session part of the capture config."""
        return self._config

    def key(self, exchange: Exchange) -> str:
        """The session key of ``exchange``; a pure function of its client identity and the salt."""
        return self.hash_identity(self._identity(exchange))

    def hash_identity(self, raw: str) -> str:
        """The session key of a client identity text (salted: the text is never stored)."""
        digest = self._keyed.copy()
        digest.update(raw.encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

    @property
    def keyed_hash(self) -> hashlib.blake2b:
        """The salted hash before any data (do not update it: copy it).

        :meth:`record_key` of a non-empty ASCII id ``rid`` is a copy of it updated with
        ``b"r\\0" + rid``; the batch path does that in its own loop.
        """
        return self._keyed

    def record_key(self, rid: bytes, source: str) -> str:
        """The key :meth:`key` gives a GoReplay record (id ``rid``) when no header is read.

        For the batch path of GoReplay input (:mod:`harness.capture.batch`), which has no
        :class:`Exchange` object; only valid while :attr:`reads_headers` is false.
        """
        if rid and rid.isascii():
            data = b"r\0" + rid  # what the text below encodes to, without decoding
        else:
            raw = "r\0" + (rid.decode("latin-1") or source)
            data = raw.encode("utf-8", "surrogateescape")
        # a copy of the keyed hash skips hashing the key block again
        digest = self._keyed.copy()
        digest.update(data)
        return digest.hexdigest()

    def _identity(self, exchange: Exchange) -> str:
        if self._header is not None:
            value = header_value(exchange.head, self._header)
            if value:
                return "h\0" + value
        if self._cookie is not None:
            cookies = header_value(exchange.head, "cookie")
            found = cookie_value(cookies, self._cookie) if cookies else None
            if found:
                return "c\0" + found
        if exchange.client:
            return "a\0" + exchange.client
        if exchange.conn:
            return "r\0" + exchange.conn
        return "r\0" + exchange.source
