"""Hostile request text: every rule stays linear in its input (a quadratic pattern would take
hours on these 300 KB bodies; the timeout is only a net), and the answers stay right."""

from __future__ import annotations

import base64
import json

import pytest

from harness.capture.pseudonym import PseudonymKey
from harness.capture.record import Exchange
from harness.capture.redact import Redactor

N = 300_000
KEY = PseudonymKey(b"h" * 32, "test")


def run(body: bytes, content_type: str = "text/plain") -> tuple[Exchange, dict[str, int]]:
    e = Exchange(
        0, "POST", "http", "h", "/", "HTTP/1.1", f"Content-Type: {content_type}", body, "f:1"
    )
    r = Redactor(key=KEY)
    r.redact(e)
    return e, dict(r.counts)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("body", "content_type", "rules"),
    [
        (b"note=" + b"eyJ" * (N // 3), "text/plain", {}),
        (b"1 " + b"a" * N + b" b@c.io", "text/plain", {"email": 1}),
        (b'{"k": "' + b"-----BEGIN EC PRIVATE KEY-----" * (N // 30), "application/json", {}),
        (b'{"password": "' + b'\\"' * (N // 2), "application/json", {"secret-field": 1}),
        (b'{"a": "' + b'\\"' * (N // 2), "application/json", {}),
        (b"password" + b"a" * N, "application/x-www-form-urlencoded", {}),
        (b"<password " + b"a" * N, "text/xml", {}),
        (b"see http://" + b"a" * N, "text/plain", {}),
        (b"pay " + b"4111 " * (N // 5), "text/plain", {}),
        (b'{"token": ' + b"[" * 50_000 + b'"x"' + b"]" * 50_000 + b"}", "application/json",
         {"secret-field": 1}),
    ],
    ids=["eyJ", "no-at", "pem-begins", "escaped-quotes", "open-string", "no-equals", "open-tag",
         "userinfo", "card-run", "deep-array"],
)  # fmt: skip
def test_hostile_bodies(body: bytes, content_type: str, rules: dict[str, int]) -> None:
    e, counts = run(body, content_type)
    assert counts == rules
    assert (e.body == body) is (not rules)


@pytest.mark.timeout(120)
def test_hostile_headers_paths_and_values() -> None:
    r = Redactor(key=KEY)
    _, value = r.redact_line("Authorization", "Digest a=1, " + "b" * N)
    assert len(value) == len("Digest a=1, ") + N and r.counts == {"authorization": 1}
    path = "/" + "a" * N + "?password=" + "b" * N
    assert r.redact_path(path).startswith("/" + "a" * N + "?password=")
    assert len(r.pseudonymiser.pseudonym("a" * N)) == N  # type: ignore[union-attr]
    deep = base64.urlsafe_b64encode(b'{"a":' * 5000 + b"1" + b"}" * 5000).rstrip(b"=").decode()
    jwt = f"eyJhbGciOiJIUzI1NiJ9.{deep}.c2ln"
    new = r.pseudonymiser.pseudonym(jwt)  # type: ignore[union-attr]
    assert new.count(".") == 2 and new != jwt  # nested past reason: segments as text


def test_json_strings_that_never_close_are_one_value() -> None:
    body = json.dumps({"password": "x"}).encode()[:-3]  # '{"password": "' ... truncated
    e, counts = run(body + b"hunter2", "application/json")
    assert counts == {"secret-field": 1} and b"hunter2" not in e.body
