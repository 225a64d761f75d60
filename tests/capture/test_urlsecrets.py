"""Secrets in URLs: path segments after keywords, random segments, e-mails, JWTs, parameters."""

from __future__ import annotations

import pytest

from harness.capture.pseudonym import Pseudonymiser, PseudonymKey
from harness.capture.redact import Redactor
from harness.capture.urlsecrets import credential_units, path_units, secret_segments_as

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


def test_the_parts_of_a_path_a_sent_credential_may_fill() -> None:
    assert path_units("/tokens/abcdefgh/x?q=abcdefghij", "/tokens/abcdefgh/x?q=zz") == (
        (2, 0, 8, "abcdefgh"),  # whole segments only (the query has rules of its own)
    )
    assert path_units("https://host.example/abc%2Edefgh", "https://host.example/abc%2Edefgh") == (
        (1, 0, 11, "abc.defgh"),  # decoded; not the host
    )
    assert path_units("/shop;ref=abcdefgh;v=1/abcdefgh;x", "/shop;ref=abcdefgh;v=1/abcdefgh;x") == (
        (1, 0, 21, "shop;ref=abcdefgh;v=1"),
        (1, 9, 17, "abcdefgh"),
        (2, 0, 10, "abcdefgh;x"),
        (2, 0, 8, "abcdefgh"),
    )
    assert credential_units(0, "token=abcdefgh") == [
        (0, 0, 14, "token=abcdefgh"),
        (0, 6, 14, "abcdefgh"),
    ]
    # segments the path rules replaced, and short parts or row ids, are not looked at
    assert path_units("/reset/Tok3nValue9/abcdefgh", "/reset/Xyz9aBcdef1/abcdefgh") == (
        (3, 0, 8, "abcdefgh"),
    )
    assert path_units("/users/12345678/en;v=1", "/users/12345678/en;v=1") == ()
    assert path_units("/a/b", "/a/b/c") == ()


def test_route_placeholder_where_a_sent_credential_was() -> None:
    r = Redactor(key=KEY)
    path = "/tokens/abcdefgh/revoke?access_token=abcdefgh"
    new = r.redact_path(path)
    assert new == f"/tokens/{P.pseudonym('abcdefgh')}/revoke?access_token={P.pseudonym('abcdefgh')}"
    assert secret_segments_as(path, new, "{id}").partition("?")[0] == "/tokens/{id}/revoke"
    assert r.counts == {"secret-field": 1, "path-credential": 1}
