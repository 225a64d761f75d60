"""Secrets in URLs: path segments after keywords, random segments, e-mails, JWTs, parameters."""

from __future__ import annotations

import pytest

from harness.capture.pseudonym import Pseudonymiser, PseudonymKey
from harness.capture.redact import Redactor
from harness.capture.urlsecrets import secret_segments_as

KEY = PseudonymKey(b"u" * 32, "test")
P = Pseudonymiser(KEY)


@pytest.mark.parametrize(
    "path",
    [
        "/orders/12345",
        "/api/keys/42",  # a row id after a keyword stays
        "/articles/how-to-replay-traffic-2024",
        "/tokens/new",
        "/static/app.3f2a9b1c.js",
        "/users/8f14e45f-ceea-4671-a5cb-0b0a3e4c5d6a/orders",
        "/search?q=shoes&page=2",
        "/",
        "",
    ],
)
def test_innocent_paths_stay(path: str) -> None:
    r = Redactor(key=KEY)
    assert r.redact_path(path) is path
    assert not r.counts


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        ("/users/ann@acme.io/profile", "ann@acme.io"),
        ("/users/ann%40acme.io/profile", "ann@acme.io"),
        ("/password-reset/SEEDtoken12345/confirm", "SEEDtoken12345"),
        ("/reset/Mg/5k2-a1b2c3d4e5", "5k2-a1b2c3d4e5"),
        (
            "/verify-email/8f14e45f-ceea-4671-a5cb-0b0a3e4c5d6a",
            "8f14e45f-ceea-4671-a5cb-0b0a3e4c5d6a",
        ),
        ("/files/Xq7Rt9Lm2Np4Vb6Zc8Kd0Fh3Jw", "Xq7Rt9Lm2Np4Vb6Zc8Kd0Fh3Jw"),
        ("/shop;jsessionid=ABC123def", "ABC123def"),
        ("/x?access_token=tok123&page=1", "tok123"),
        ("/x?next=%2Freset&email=ann%40acme.io", "ann@acme.io"),
    ],
)
def test_secrets_in_paths(path: str, secret: str) -> None:
    r = Redactor(key=KEY)
    new = r.redact_path(path)
    assert secret not in new and secret.replace("@", "%40") not in new
    assert P.pseudonym(secret) in new or P.pseudonym(secret).replace("@", "%40") in new
    assert new.count("/") == path.count("/")
    assert sum(r.counts.values()) >= 1


def test_mask_mode_masks_the_same_segments() -> None:
    r = Redactor(mode="mask")
    assert r.redact_path("/password-reset/SEEDtoken12345/confirm") == (
        "/password-reset/REDACTED/confirm"
    )
    assert r.counts == {"path-token": 1}


def test_absolute_urls_in_headers() -> None:
    r = Redactor(key=KEY)
    name, value = r.redact_line("Referer", "https://u:pw@shop.example/reset/Tok3nValue9?x=1")
    assert name == "Referer"
    assert "pw@" not in value and "Tok3nValue9" not in value
    assert value.startswith("https://") and "@shop.example/reset/" in value


def test_route_placeholders_where_secrets_were() -> None:
    assert secret_segments_as("/a/b@c.io/d?q=1", "/a/x@y.io/d?q=2", "{id}") == "/a/{id}/d?q=2"
    assert secret_segments_as("/shop;sid=1", "/shop;sid=2", "{id}") == "/shop;{id}"
    assert secret_segments_as("/a/b", "/a/b/c", "{id}") == "/a/b/c"
