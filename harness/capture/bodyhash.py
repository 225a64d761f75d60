"""The captured response's body hash (``orig_body_sha256``): keyed whenever the import redacts.

A plain SHA-256 of a response body is a secret's fingerprint: a short body (a one-time code, a
PIN, a short token, ``{"otp": "482913"}``) is found again by hashing every candidate. So an
import that pseudonymises or masks stores a keyed hash instead::

    orig_body_sha256 = HMAC-SHA256(body key, SHA-256(body))      # 64 hex digits

The body key is derived from the import's key (``HMAC-SHA256(key, "harness orig_body_sha256")``):
the pseudonym key in ``pseudonym`` mode (so two imports under one ``--pseudonym-key-env`` key give
equal bodies equal hashes), a key drawn for this import in ``mask`` mode. Within one capture equal
bodies still have equal hashes; without the key nothing can be tried against them. An import with
``--no-redact`` keeps the plain SHA-256 of the body. The capture's metadata says which
(``redaction.response_hash``: ``hmac-sha256`` or ``sha256``).

The readers hash the body once as they read it (:mod:`~harness.capture.gor`,
:mod:`~harness.capture.mitm`, :mod:`~harness.capture.har`); the redactor keys that digest on the
per-record path (:meth:`~harness.capture.redact.Redactor.redact`) and on the GoReplay batch path
(:mod:`~harness.capture.batch`), so no reader needs the key and the plain digest is never written.
"""

from __future__ import annotations

import hmac
from typing import Literal

from harness.capture.pseudonym import PseudonymKey

__all__ = ["KEYED", "PLAIN", "ResponseHash", "ResponseHasher"]

ResponseHash = Literal["sha256", "hmac-sha256"]
#: ``redaction.response_hash`` of a capture: keyed (redacted imports) or plain (``--no-redact``
#: and every file written before keyed hashes)
KEYED: ResponseHash = "hmac-sha256"
PLAIN: ResponseHash = "sha256"
_PURPOSE = b"harness orig_body_sha256"


class ResponseHasher:
    """Keys the SHA-256 digests of captured response bodies with one import's key.

    Example::

        keyed = ResponseHasher(PseudonymKey.generate())
        keyed(hashlib.sha256(b'{"otp": "482913"}').hexdigest())  # 64 hex digits, this key only
    """

    def __init__(self, key: PseudonymKey) -> None:
        # a key of its own: a body hash never equals a pseudonym or a permutation round's MAC
        self._key = hmac.digest(key.secret, _PURPOSE, "sha256")

    def __repr__(self) -> str:
        return "ResponseHasher(<hidden key>)"

    def __call__(self, sha256_hex: str | None) -> str | None:
        """The keyed hash of a body whose SHA-256 is ``sha256_hex`` (``None``: no response)."""
        if sha256_hex is None:
            return None
        return hmac.digest(self._key, bytes.fromhex(sha256_hex), "sha256").hex()

    def column(self, sha256_hex: list[str | None]) -> list[str | None]:
        """:meth:`__call__` of every digest of a column (the batch path)."""
        key = self._key
        digest = hmac.digest
        return [
            None if sha is None else digest(key, bytes.fromhex(sha), "sha256").hex()
            for sha in sha256_hex
        ]
