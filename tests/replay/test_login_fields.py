"""The fields of a captured login: read in form, multipart, JSON, header and query; rewritten."""

from __future__ import annotations

import json

import pytest

from harness.replay.login_fields import places, read_field, write_field
from harness.replay.substitute import Outgoing

FORM = ("Content-Type", "application/x-www-form-urlencoded")
JSON = ("Content-Type", "application/json")
BOUNDARY = "----WebKitFormBoundaryx7Gq"
MULTIPART = ("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")


def _multipart(**fields: str) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()


def test_a_form_login_gets_the_account_percent_encoded() -> None:
    req = Outgoing(
        "POST", "/login/", [FORM], b"csrfmiddlewaretoken=abc&next=&username=user0&password=ngny-8"
    )
    assert read_field(req, "username") == "user0"
    assert read_field(req, "password") == "ngny-8"
    assert write_field(req, "username", "staging+01@example.org")
    assert write_field(req, "password", "p&ss=w rd")
    assert req.body == (
        b"csrfmiddlewaretoken=abc&next=&username=staging%2B01%40example.org"
        b"&password=p%26ss%3Dw%20rd"
    )
    assert read_field(req, "password") == "p&ss=w rd"  # the form decodes to the account's value


def test_a_multipart_login_gets_the_account_in_its_part() -> None:
    req = Outgoing("POST", "/login/", [MULTIPART], _multipart(username="user0", password="x-1-y"))
    assert read_field(req, "password") == "x-1-y"
    assert write_field(req, "password", "pass-0-word")
    assert req.body == _multipart(username="user0", password="pass-0-word")


def test_a_json_login_finds_a_plain_name_at_any_depth() -> None:
    body = {"user": {"email": "b80@vfqq.example.com", "password": "rxdlgcmr"}, "remember": True}
    req = Outgoing("POST", "/api/users/login", [JSON], json.dumps(body).encode())
    assert read_field(req, "email") == "b80@vfqq.example.com"
    assert write_field(req, "email", 'staging-01@example.org "q"')
    assert write_field(req, "password", "staging-pass-01")
    assert json.loads(req.body) == {
        "user": {"email": 'staging-01@example.org "q"', "password": "staging-pass-01"},
        "remember": True,
    }
    assert b'"email": ' in req.body  # the captured separators are kept


def test_a_json_path_a_header_and_a_query_field() -> None:
    body = b'{"auth":{"login":"u","secret":"s1"},"login":"other"}'
    req = Outgoing("POST", "/api/login?otp=123456&x=1", [JSON, ("X-Api-Key", "captured")], body)
    assert read_field(req, "json:$.auth.login") == "u"
    assert write_field(req, "json:$.auth.login", "staging")
    assert json.loads(req.body)["login"] == "other"  # only the path given
    assert write_field(req, "header:X-Api-Key", "key-01")
    assert ("X-Api-Key", "key-01") in req.headers
    assert write_field(req, "query:otp", "000 000")
    assert req.path == "/api/login?otp=000%20000&x=1"


def test_a_plain_name_follows_the_body_type_and_never_looks_elsewhere() -> None:
    assert places(Outgoing("POST", "/", [FORM], b"a=1"), "a")[0].place == "form"
    assert places(Outgoing("POST", "/", [MULTIPART], b""), "a")[0].place == "multipart"
    untyped = Outgoing("POST", "/", [], b'{"a": 1}')
    assert [str(p) for p in places(untyped, "a")] == ["json:$.a"]
    assert places(Outgoing("POST", "/", [("Content-Type", "text/plain")], b"a=1"), "a") == []
    assert places(Outgoing("POST", "/", [JSON], b"not json"), "a") == []


@pytest.mark.parametrize(
    ("req", "field"),
    [
        (Outgoing("POST", "/login/", [FORM], b"username=u"), "password"),  # absent
        (Outgoing("POST", "/login/", [FORM], b"username=u&password="), "password"),  # empty
        (Outgoing("POST", "/login/", [JSON], b'{"password": {"nested": 1}}'), "password"),
        (Outgoing("POST", "/login/", [JSON], b'{"password": true}'), "password"),
        (Outgoing("GET", "/login/", [], b""), "header:X-Pass"),
    ],
)
def test_a_field_that_is_not_there_is_not_written(req: Outgoing, field: str) -> None:
    before = (req.path, list(req.headers), req.body)
    assert not write_field(req, field, "secret")
    assert (req.path, req.headers, req.body) == before


def test_a_hostile_json_body_is_walked_within_bounds() -> None:
    deep = b'{"a":' * 200 + b'"x"' + b"}" * 200
    assert places(Outgoing("POST", "/", [JSON], deep), "a") == []
    wide = json.dumps([{"password": str(i)} for i in range(20_000)]).encode()
    found = places(Outgoing("POST", "/", [JSON], wide), "password")
    assert 0 < len(found) < 10_001
