"""Which names hold secrets: key variants, holders, plurals, configured names; random values."""

from __future__ import annotations

import pytest

from harness.capture.secretnames import (
    SecretNames,
    announces_secret,
    benign_header,
    looks_random,
    words,
)

NAMES = SecretNames(["iban2", "X-Internal-Signature"])


def test_words() -> None:
    assert words("newPassword2") == ["new", "password", "2"]
    assert words("X-Custom-Auth") == ["x", "custom", "auth"]
    assert words("APIKey") == ["api", "key"]
    assert words("user[password]") == ["user", "password"]
    assert words("OAuth2Token") == ["o", "auth", "2", "token"]


@pytest.mark.parametrize(
    "name",
    [
        "password", "new_password", "accessToken", "x_api_key", "X-Custom-Auth", "session_id",
        "password_confirmation", "security_code", "auth_code", "APIKey", "OAuth2Token",
        "jsessionid", "PHPSESSID", "csrfmiddlewaretoken", "user[password]", "newpassword",
        "client_secret", "aws_secret_access_key", "X-Amz-Security-Token", "cardNumber",
        "Ocp-Apim-Subscription-Key", "cvv", "pin", "refresh_token", "id_token", "tokens",
        "api_keys", "passwordConfirm", "X-Internal-Signature", "iban2", "credentials",
    ],
)  # fmt: skip
def test_secret_names(name: str) -> None:
    assert NAMES(name)


@pytest.mark.parametrize(
    "name",
    [
        "author", "authorId", "token_type", "session_timeout", "password_policy", "keyboard",
        "tokenizer", "passenger", "expires_in", "card", "email", "id", "code", "key",
        "sort_key", "public_key", "bypass", "pinned", "spinner", "cookie_consent",
        "X-Request-Id", "Sec-WebSocket-Key", "user_agent", "status", "address", "signature",
    ],
)  # fmt: skip
def test_innocent_names(name: str) -> None:
    assert not NAMES(name)


def test_path_keywords() -> None:
    assert announces_secret("password-reset") and announces_secret("api-keys")
    assert announces_secret("verify") and not announces_secret("orders")


def test_benign_headers() -> None:
    assert (
        benign_header("user-agent")
        and benign_header("sec-ch-ua")
        and benign_header("accept-language")
    )
    assert not benign_header("x-partner-sig") and not benign_header("referer")


@pytest.mark.parametrize(
    ("value", "random"),
    [
        ("Bearer 8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c", True),
        ("dGhpcyBpcyBhIHNlY3JldCB2YWx1ZQ==", True),
        ("f47ac10b-58cc-4372-a567-0e02b2c3d479", True),
        ("2024-01-01T12:00:00Z", False),
        ("1.2.3-alpha.4567890", False),
        ("text/html,application/xhtml+xml", False),
        ("Mon, 01 Jan 2024 00:00:00 GMT", False),
        ("max-age=31536000; includeSubDomains", False),
        ("aaaaaaaaaaaaaaaaaaaa", False),
        ("short1A", False),
    ],
)
def test_looks_random(value: str, random: bool) -> None:
    assert looks_random(value) is random
