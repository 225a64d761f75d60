"""The staging key that re-signs captured JWTs (``auth: jwt:`` of a stack file).

``HS256``/``HS384``/``HS512`` take a shared secret; ``RS256`` a PEM private key (RSA, without a
password), from an environment variable (``key_env``) or a file (``key_file``). Loaded when the
stack file is loaded, when the key is at hand (exit 3 naming the line when it does not parse),
and again by every replay worker.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from harness.scenario.auth import AuthSpec

#: the hash of each HMAC algorithm
HMAC_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


@dataclass(frozen=True)
class Key:
    """A loaded signing key: the HMAC secret, or an RSA private key."""

    secret: bytes | None = None
    private: rsa.RSAPrivateKey | None = None


def load_key(algorithm: str, material: bytes) -> Key:
    """The key for ``algorithm`` from its text; ``ValueError`` saying why it does not parse."""
    if algorithm in HMAC_HASHES:
        if not material.strip():
            raise ValueError("the key is empty")
        return Key(secret=material)
    if algorithm != "RS256":
        raise ValueError(f"unsupported algorithm {algorithm!r}")
    try:
        private = serialization.load_pem_private_key(material, password=None)
    except Exception:  # ValueError, TypeError, or cryptography's own for malformed ASN.1
        raise ValueError("not a PEM private key (unencrypted, PKCS#1 or PKCS#8)") from None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ValueError("RS256 needs an RSA private key")
    return Key(private=private)


def load_jwt_key(auth: AuthSpec, stack_dir: Path, environ: Mapping[str, str] | None = None) -> Key:
    """The staging signing key; ``ValueError`` saying why it is missing or does not parse."""
    spec = auth.jwt
    assert spec is not None
    env = os.environ if environ is None else environ
    if spec.key_file is not None:
        path = spec.key_file if spec.key_file.is_absolute() else stack_dir / spec.key_file
        try:
            material = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"key_file {path}: {exc.strerror or exc}") from None
        where = f"key_file {path}"
    else:
        assert spec.key_env is not None
        if spec.key_env not in env:
            raise ValueError(f"key_env: environment variable {spec.key_env} is not set")
        material = env[spec.key_env].encode()
        where = f"key_env {spec.key_env}"
    try:
        return load_key(spec.algorithm, material)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
