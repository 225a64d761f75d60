"""Redaction rules: what each removes, the shape it keeps, and the per-rule counts."""

from __future__ import annotations

import base64
import gzip
import json
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capture.cards import luhn_digit
from harness.capture.config import RedactionConfig, RedactionPattern
from harness.capture.pseudonym import Pseudonymiser, PseudonymKey
from harness.capture.record import Exchange, header_value, join_headers
from harness.capture.redact import Redactor, luhn_valid
from harness.capture.secretvalues import EMAIL
from harness.capture.sentcredentials import SentCredentials

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
CARD = "4111 1111 1111 1111"


def ex(headers: dict[str, str], path: str = "/", body: bytes = b"") -> Exchange:
    return Exchange(
        0, "POST", "http", "h", path, "HTTP/1.1", join_headers(headers.items()), body, "f:1"
    )


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


def test_credential_headers() -> None:
    r = Redactor(mode="mask")
    e = ex(
        {
            "Authorization": "Bearer abc.def",
            "proxy-authorization": "Basic dXNlcjpwdw==",
            "Cookie": "sid=s3cr3t; theme=dark",
            "Set-Cookie": "sid=s3cr3t; Path=/; HttpOnly",
            "X-Api-Key": "k-123",
            "X-Custom-Sig": "sig",
            "Accept": "text/html",
        }
    )
    r.redact(e)
    assert header_value(e.head, "authorization") == "Bearer REDACTED"
    assert header_value(e.head, "proxy-authorization") == "Basic REDACTED"
    assert header_value(e.head, "cookie") == "sid=REDACTED; theme=REDACTED"
    assert header_value(e.head, "set-cookie") == "sid=REDACTED; Path=/; HttpOnly"
    assert header_value(e.head, "x-api-key") == "REDACTED"
    assert header_value(e.head, "accept") == "text/html"
    assert header_value(e.head, "x-custom-sig") == "sig"
    assert dict(r.counts) == {"authorization": 2, "cookie": 1, "set-cookie": 1, "api-key": 1}


def test_extra_header_names_and_patterns() -> None:
    config = RedactionConfig(
        headers=["X-Custom-Sig"],
        patterns=[RedactionPattern(name="employee-id", pattern=r"EMP-\d{6}")],
    )
    r = Redactor(config, mode="mask")
    e = ex({"X-Custom-Sig": "sig", "X-Note": "by EMP-123456"}, "/q?who=EMP-654321")
    r.redact(e)
    assert header_value(e.head, "x-custom-sig") == "REDACTED"
    assert header_value(e.head, "x-note") == "by REDACTED"
    assert e.path == "/q?who=REDACTED"
    assert dict(r.counts) == {"api-key": 1, "employee-id": 2}


def test_values_in_headers_query_and_json_body() -> None:
    body = json.dumps(
        {
            "email": "alice@example.com",
            "card": CARD,
            "number": 4111111111111111,
            "password": "hunter2",
            "token": JWT,
            "note": "call 4111111111111112",
        }
    ).encode()
    e = ex(
        {"X-Forwarded-User": "bob@example.org", "X-Trace": JWT, "Content-Length": str(len(body))},
        f"/pay?email=carol%40example.net&card={CARD.replace(' ', '')}&pin=1234&q=ok",
        body,
    )
    r = Redactor(mode="mask")
    r.redact(e)
    data = json.loads(e.body)  # still valid JSON
    assert data["email"] == "redacted@example.invalid"
    assert data["card"] == "1000 0000 0000 0000"
    assert data["number"] == 1000000000000000
    assert data["password"] == "REDACTED"
    assert data["token"] == "REDACTED"
    assert data["note"] == "call 4111111111111112"  # fails Luhn: not a card
    assert header_value(e.head, "content-length") == str(len(e.body))
    assert header_value(e.head, "x-forwarded-user") == "redacted@example.invalid"
    assert header_value(e.head, "x-trace") == "REDACTED"
    assert e.path == "/pay?email=redacted%40example.invalid&card=1000000000000000&pin=REDACTED&q=ok"
    assert r.counts["email"] == 3
    assert r.counts["card"] == 3
    assert r.counts["jwt"] == 2
    assert r.counts["secret-field"] == 2  # password in the body, pin in the query


def test_form_body() -> None:
    e = ex({}, "/login", b"user=dave%40example.com&password=pw&remember=1")
    Redactor(mode="mask").redact(e)
    assert e.body == b"user=redacted%40example.invalid&password=REDACTED&remember=1"


@pytest.mark.parametrize(
    "value", ["plain text", "Mozilla/5.0 (X11) Chrome/76.0.3809.132", "1234567"]
)
def test_innocent_values_are_untouched(value: str) -> None:
    e = ex({"User-Agent": value, "X-Other": value}, "/p?q=" + value.replace(" ", "+"))
    before = (e.head, e.path)
    r = Redactor(mode="mask")
    r.redact(e)
    assert (e.head, e.path) == before
    assert not r.counts


# -- pseudonyms: the same value gets the same stand-in in every place --------------------------

KEY = PseudonymKey(b"r" * 32, "test")

# a token with a letter (a number of up to 10 digits in a path is a row id, not a token)
token_text = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._~-]{7,40}", fullmatch=True).filter(
    lambda t: any(c.isalpha() for c in t)
)


@given(token_text)
@settings(max_examples=40, deadline=None)
def test_a_token_has_one_pseudonym_in_every_place(token: str) -> None:
    body = gzip.compress(json.dumps({"auth": {"token": token}}).encode())
    e = ex(
        {
            "Authorization": f"Bearer {token}",
            "Cookie": f"sid={token}",
            "X-Api-Key": token,
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Content-Length": str(len(body)),
        },
        f"/tokens/{token}?access_token={token}",
        body,
    )
    r = Redactor(key=KEY)
    r.redact(e)
    new = Pseudonymiser(KEY).pseudonym(token)
    assert header_value(e.head, "authorization") == f"Bearer {new}"
    assert header_value(e.head, "cookie") == f"sid={new}"
    assert header_value(e.head, "x-api-key") == new
    assert e.path == f"/tokens/{new}?access_token={new}"
    assert json.loads(gzip.decompress(e.body)) == {"auth": {"token": new}}
    assert header_value(e.head, "content-length") == str(len(e.body))


@pytest.mark.parametrize("token", ["a.aa.a.a", "abcdefgh"])
def test_a_credential_that_reads_like_a_word_is_also_replaced_in_the_path(token: str) -> None:
    e = ex({"Authorization": f"Bearer {token}"}, f"/tokens/{token}")
    Redactor(key=KEY).redact(e)
    new = Pseudonymiser(KEY).pseudonym(token)
    assert header_value(e.head, "authorization") == f"Bearer {new}"
    assert e.path == f"/tokens/{new}"


BASIC = "Basic " + base64.b64encode(b"alice.smith:pw").decode()


@pytest.mark.parametrize(
    ("headers", "path", "value", "expected"),
    [
        ({"Cookie": "sid=abcdefgh; theme=dark"}, "/sessions/abcdefgh", "abcdefgh", "/sessions/P"),
        ({"X-Api-Key": "letmeinplease"}, "/keys/letmeinplease/use", "letmeinplease", "/keys/P/use"),
        ({"X-Custom-Auth": "Token abcdefgh"}, "/x/abcdefgh", "abcdefgh", "/x/P"),
        ({"Authorization": BASIC}, "/users/alice.smith/orders", "alice.smith", "/users/P/orders"),
        ({}, "/tokens/abcdefgh?access_token=abcdefgh", "abcdefgh", "/tokens/P?access_token=P"),
        ({}, "/t/abcdefgh#access_token=abcdefgh", "abcdefgh", "/t/P#access_token=P"),
        # the parts of a segment: ;-pieces, the value of a name=value piece, escapes kept
        ({"Authorization": "Bearer abcdefgh"}, "/shop;ref=abcdefgh", "abcdefgh", "/shop;ref=P"),
        ({"Authorization": "Bearer abcdefgh"}, "/abcdefgh;v=2/x", "abcdefgh", "/P;v=2/x"),
        ({"Authorization": "Bearer abcdefgh"}, "/x/ref=abcdefgh", "abcdefgh", "/x/ref=P"),
        ({"Authorization": "Bearer abc.defgh"}, "/x/abc%2Edefgh", "abc.defgh", "/x/P"),
    ],
)
def test_a_credential_the_exchange_sends_is_replaced_in_its_path(
    headers: dict[str, str], path: str, value: str, expected: str
) -> None:
    e = ex(headers, path)
    r = Redactor(key=KEY)
    r.redact(e)
    new = Pseudonymiser(KEY).pseudonym(value)
    assert new != value
    assert unquote(e.path) == expected.replace("P", new)
    assert ("%2E" in e.path) is ("%2E" in path)  # written with the escaping it had
    assert r.counts["path-credential"] == expected.partition("?")[0].partition("#")[0].count("P")


@pytest.mark.parametrize(
    ("headers", "path"),
    [
        ({"Cookie": "theme=dark; lang=en"}, "/themes/dark/en"),  # shorter than 8 characters
        ({"Cookie": "uid=12345678"}, "/users/12345678"),  # a row id stays a row id
        ({"X-Other": "abcdefgh"}, "/tokens/abcdefgh"),  # not sent as a credential
        ({"Referer": "/login?token=abcdefgh"}, "/tokens/abcdefgh"),  # nor in another URL
        ({"Authorization": "Bearer abcdefgh"}, "/x/abcdefghx"),  # not the whole part
        ({"Authorization": "Bearer abcdefgh"}, "/x?q=abcdefgh"),  # a query value not secret
    ],
)
def test_a_path_without_a_sent_credential_stays(headers: dict[str, str], path: str) -> None:
    e = ex(headers, path)
    r = Redactor(key=KEY)
    r.redact(e)
    assert e.path == path
    assert "path-credential" not in r.counts


def test_a_credential_sent_earlier_in_the_capture_is_replaced_in_a_later_path() -> None:
    r = Redactor(key=KEY)
    before = ex({}, "/tokens/abcdefgh")  # not yet sent: stays
    login = ex({"Authorization": "Bearer abcdefgh"}, "/me")
    cookie = ex({"Cookie": "sid=sessionword"}, "/")
    later = [ex({}, "/tokens/abcdefgh/revoke"), ex({}, "/sessions/sessionword?x=abcdefgh")]
    for e in (before, login, cookie, *later):
        r.redact(e)
    p = Pseudonymiser(KEY).pseudonym
    assert before.path == "/tokens/abcdefgh"
    assert later[0].path == f"/tokens/{p('abcdefgh')}/revoke"
    assert later[1].path == f"/sessions/{p('sessionword')}?x=abcdefgh"
    assert r.counts["path-credential"] == 2


def test_a_credential_is_forgotten_once_the_window_has_passed() -> None:
    r = Redactor(key=KEY)
    r.sent = SentCredentials(window=3, sweep=1)
    r.redact(ex({"Authorization": "Bearer abcdefgh"}, "/"))
    paths = []
    for _ in range(4):
        e = ex({}, "/tokens/abcdefgh")
        r.redact(e)
        paths.append(e.path)
    new = f"/tokens/{Pseudonymiser(KEY).pseudonym('abcdefgh')}"
    assert paths == [new, new, new, "/tokens/abcdefgh"]
    assert len(r.sent) == 0


def test_mask_mode_masks_a_sent_credential_in_the_path() -> None:
    r = Redactor(mode="mask")
    e = ex({"Authorization": "Bearer abcdefgh"}, "/tokens/abcdefgh")
    r.redact(e)
    assert e.path == "/tokens/REDACTED"
    assert r.counts == {"authorization": 1, "path-credential": 1}


# Known limit: in a header an address whose local part holds a percent-escape ("%00@a.io") is
# read as URL-encoded, so it gets another pseudonym than in the URL; such addresses are left out.
@given(st.emails().filter(lambda e: EMAIL.fullmatch(e) is not None and "%" not in e))
@settings(max_examples=40, deadline=None)
def test_an_email_has_one_pseudonym_in_every_place(email: str) -> None:
    form = f"user={quote(email, safe='')}&remember=1".encode()
    e = ex({"X-Contact": email}, f"/users/{quote(email, safe='@')}?e={quote(email, safe='')}", form)
    r = Redactor(key=KEY)
    r.redact(e)
    new = Pseudonymiser(KEY).pseudonym(email)
    # the strategy keeps only addresses the e-mail rule reads: every one of them changes
    assert new != email and new.endswith(".example.com")
    assert header_value(e.head, "x-contact") == new
    assert unquote(e.path) == f"/users/{new}?e={new}"
    assert unquote(e.body.decode()) == f"user={new}&remember=1"


@given(st.integers(min_value=10**15, max_value=10**16 - 1), st.sampled_from([" ", "-", ""]))
@settings(max_examples=40, deadline=None)
def test_a_card_has_one_pseudonym_with_or_without_separators(n: int, sep: str) -> None:
    digits = "4" + str(n)[1:15]
    digits += luhn_digit(digits)
    written = sep.join(digits[i : i + 4] for i in range(0, 16, 4))
    e = ex({"X-Card": written}, f"/pay?card={digits}", json.dumps({"pan": written}).encode())
    Redactor(key=KEY).redact(e)
    new = Pseudonymiser(KEY).pseudonym(digits)
    header = str(header_value(e.head, "x-card"))
    pan = json.loads(e.body)["pan"]
    assert header == pan == Pseudonymiser(KEY).pseudonym(written)
    assert len(header) == len(written) and (header.replace(sep, "") if sep else header) == new
    assert e.path == f"/pay?card={new}"


def test_mask_and_pseudonym_modes_count_the_same() -> None:
    def run(mode: str) -> dict[str, int]:
        e = ex(
            {"Authorization": "Bearer abc", "Cookie": "a=1", "X-Session-Token": "t"},
            "/x?password=p&email=a%40b.example",
            b'{"secret": {"a": "b"}, "card": "4111 1111 1111 1111"}',
        )
        r = Redactor(mode=mode)  # type: ignore[arg-type]
        r.redact(e)
        return dict(r.counts)

    assert run("mask") == run("pseudonym") == {
        "authorization": 1, "cookie": 1, "api-key": 1, "secret-field": 2, "email": 1, "card": 1,
    }  # fmt: skip


def test_undecodable_compressed_body_is_kept_and_counted() -> None:
    e = ex({"Content-Encoding": "gzip"}, "/", b"\x1f\x8bnot really gzip")
    r = Redactor(key=KEY)
    r.redact(e)
    assert e.body == b"\x1f\x8bnot really gzip"
    assert r.counts == {"undecoded-body": 1}
