"""Credentials in headers: scheme kept, Basic decoded, parameters one by one, cookies by value."""

from __future__ import annotations

import base64

from harness.capture import credentials


def upper(raw: str) -> str:
    return raw.upper()


def test_schemes_stay() -> None:
    assert credentials.credentials("Bearer abc", upper) == "Bearer ABC"
    assert credentials.credentials("Token  t0k", upper) == "Token  T0K"
    assert credentials.credentials("abc def", upper) == "ABC DEF"  # no known scheme: all of it
    assert credentials.credentials("", upper) == ""


def test_basic_is_decoded() -> None:
    value = "Basic " + base64.b64encode(b"ann:secret").decode()
    new = credentials.credentials(value, upper)
    assert base64.b64decode(new.removeprefix("Basic ")) == b"ANN:SECRET"
    assert credentials.credentials("Basic !!notbase64", upper) == "Basic !!NOTBASE64"


def test_parameter_lists() -> None:
    value = 'Digest username="ann", realm="api", nonce="n1", response="r1", qop=auth, nc=01'
    assert credentials.credentials(value, upper) == (
        'Digest username="ANN", realm="api", nonce="N1", response="R1", qop=auth, nc=01'
    )


def test_cookies() -> None:
    assert credentials.cookies("sid=abc; lang=en", upper) == "sid=ABC; lang=EN"
    assert credentials.cookies("flag; a=b", upper) == "FLAG; a=B"
    assert credentials.set_cookie("sid=abc; Path=/; HttpOnly", upper) == "sid=ABC; Path=/; HttpOnly"
    assert credentials.userinfo("ann:pw@host:8080", upper) == "ANN:PW@host:8080"
    assert credentials.userinfo("host", upper) == "host"
