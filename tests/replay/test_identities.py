"""Staging identities: the stack file's auth:, accounts, login requests, tokens, JWT re-signing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from harness.capture.linkspec import parse_target
from harness.errors import StackFileError
from harness.replay.identities import Identity, carries, check_accounts, identity_sessions
from harness.replay.jwtsign import Resigner, claims, sign, verify
from harness.replay.sources import Reply
from harness.replay.substitute import Outgoing
from harness.scenario.accounts import read_accounts
from harness.scenario.auth import AuthSpec
from harness.scenario.jwtkey import load_key
from harness.scenario.stackfile import load_stack

LOGIN = {
    "request": {
        "path": "/api/users/login",
        "json": {"user": {"email": "{account.email}", "password": "{account.password}"}},
    },
    "accounts": "accounts.csv",
    "token": "json:$.user.token",
    "apply": "header:Authorization",
    "format": "Token {token}",
}


def _stack(
    tmp_path: Path, auth: str, accounts: str | None = "email,password\na@x.org,pw1\n"
) -> Path:
    if accounts is not None:
        (tmp_path / "accounts.csv").write_text(accounts)
    path = tmp_path / "stack.yaml"
    path.write_text(
        "name: s\ntargets:\n  baseline: {url: 'http://127.0.0.1:1'}\ndefaults:\n" + auth
    )
    return path


def test_stack_file_takes_a_login(tmp_path: Path) -> None:
    stack = load_stack(_stack(tmp_path, "  auth:\n    login: " + json.dumps(LOGIN) + "\n"))
    auth = stack.file.defaults.auth
    assert auth is not None and auth.login is not None
    assert auth.login.request.placeholders() == {"email", "password"}


@pytest.mark.parametrize(
    ("accounts", "message"),
    [
        (None, r"stack\.yaml:6: defaults\.auth\.login\.accounts: .*accounts\.csv: no such file"),
        ("email\na@x.org\n", r"accounts\.csv:1: no column 'password'"),
        ("email,password\n", r"accounts\.csv: no accounts after the header row"),
        ("email,password\na,b\nc\n", r"accounts\.csv:3: 1 fields, the header has 2"),
    ],
)
def test_bad_accounts_file_names_file_and_line(
    tmp_path: Path, accounts: str | None, message: str
) -> None:
    path = _stack(tmp_path, "  auth:\n    login: " + json.dumps(LOGIN) + "\n", accounts)
    with pytest.raises(StackFileError, match=message):
        load_stack(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"token": "xml:$.a"}, "unknown source place 'xml'"),
        ({"apply": "path"}, "apply must be header:NAME or cookie:NAME"),
        ({"format": "Token"}, r"format must contain \{token\}"),
        ({"accounts_env": {"email": "E"}}, "exactly one of accounts"),
    ],
)
def test_bad_login_names_the_line(tmp_path: Path, change: dict[str, object], message: str) -> None:
    path = _stack(tmp_path, "  auth:\n    login: " + json.dumps({**LOGIN, **change}) + "\n")
    with pytest.raises(StackFileError, match=r"stack\.yaml:\d+: .*" + message):
        load_stack(path)


def test_jwt_key_that_does_not_parse_names_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "k.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
    )
    path = _stack(tmp_path, "  auth:\n    jwt:\n      algorithm: RS256\n      key_file: k.pem\n")
    with pytest.raises(
        StackFileError,
        match=r"stack\.yaml:8: defaults\.auth\.jwt\.key_file: key_file .*k\.pem: not a PEM",
    ):
        load_stack(path)
    monkeypatch.setenv("STAGING_KEY", "not a pem")
    path = _stack(tmp_path, "  auth:\n    jwt: {algorithm: RS256, key_env: STAGING_KEY}\n")
    with pytest.raises(
        StackFileError,
        match=r"stack\.yaml:6: defaults\.auth\.jwt\.key_env: .*STAGING_KEY: not a PEM",
    ):
        load_stack(path)
    monkeypatch.setenv("STAGING_KEY", "s3cret")
    path = _stack(tmp_path, "  auth:\n    jwt: {algorithm: HS512, key_env: STAGING_KEY}\n")
    assert load_stack(path).file.defaults.auth is not None


def test_read_accounts_skips_blank_lines_and_keeps_columns(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('\ufeffuser,password\nann,p1\n\nbob,"p,2"\n')
    assert read_accounts(path, {"user"}) == [
        {"user": "ann", "password": "p1"}, {"user": "bob", "password": "p,2"},
    ]  # fmt: skip


def test_sessions_that_need_an_identity() -> None:
    auth_header = [{"name": "Authorization", "value": "Token x"}]
    cookie = [{"name": "Cookie", "value": "a=1; sid=2"}]
    linked = [{"dst": "header:Authorization", "src": "json:$.t", "src_idx": 0}]
    sessions = ["s1", "s2", "s1", "s3", "s4", None]
    headers = [[], auth_header, auth_header, auth_header, cookie, auth_header]
    links = [None, linked, None, None, None, None]
    # s2 got its token from its own login (a link); s4 has no Authorization; None is not a session
    assert identity_sessions(sessions, headers, links, "header:Authorization") == ["s1", "s3"]
    assert identity_sessions(sessions, headers, links, "cookie:sid") == ["s4"]
    assert carries([("cookie", "sid=1")], parse_target("cookie:sid"))
    assert not carries([("cookie", "sidx=1")], parse_target("cookie:sid"))


def test_too_few_accounts_says_how_they_would_be_shared() -> None:
    spec = AuthSpec.model_validate({"login": LOGIN}).login
    assert spec is not None
    check_accounts(spec, accounts=3, sessions=3, where="s.yaml:9")
    with pytest.raises(
        StackFileError,
        match=r"s\.yaml:9: auth\.login: 3 account\(s\) for 18 sessions.*share: true.*n mod 3",
    ):
        check_accounts(spec, accounts=3, sessions=18, where="s.yaml:9")
    shared = spec.model_copy(update={"share": True})
    check_accounts(shared, accounts=3, sessions=18, where="s.yaml:9")


def test_login_request_token_and_apply() -> None:
    auth = AuthSpec.model_validate({"login": LOGIN})
    accounts = [{"email": "a@x.org", "password": 'p"1'}, {"email": "b@x.org", "password": "p2"}]
    identity = Identity(auth, accounts, ["s1", "s2", "s3"], None)
    assert identity.needs_login("s2") and not identity.needs_login("other")
    req = identity.login_request("s2")
    assert (req.method, req.path) == ("POST", "/api/users/login")
    assert json.loads(req.body) == {"user": {"email": "b@x.org", "password": "p2"}}
    shared = json.loads(identity.login_request("s3").body)  # session 2 uses account 2 mod 2
    assert shared["user"]["email"] == "a@x.org"
    assert ("Content-Type", "application/json") in req.headers
    first = json.loads(identity.login_request("s1").body)
    assert first["user"]["password"] == 'p"1'
    assert identity.token_from(Reply(200, [], b'{"user": {"token": "T"}}')) == "T"
    assert identity.token_from(Reply(401, [], b'{"user": {"token": "T"}}')) is None
    out = Outgoing("GET", "/api/user", [("Authorization", "Token CAPTURED"), ("X", "y")], b"")
    assert identity.apply(out, "T")
    assert out.headers == [("Authorization", "Token T"), ("X", "y")]
    assert not identity.apply(Outgoing("GET", "/", [("X", "y")], b""), "T")


def test_login_into_a_cookie_with_a_form() -> None:
    spec = {
        **LOGIN,
        "request": {"path": "/login", "form": {"username": "{account.user}"}},
        "token": "cookie:sessionid",
        "apply": "cookie:sessionid",
        "format": "{token}",
    }
    identity = Identity(AuthSpec.model_validate({"login": spec}), [{"user": "ann b"}], ["s"], None)
    req = identity.login_request("s")
    assert req.body == b"username=ann+b"
    reply = Reply(302, [("Set-Cookie", "sessionid=S1; Path=/")], b"")
    token = identity.token_from(reply)
    assert token == "S1"
    out = Outgoing("GET", "/", [("Cookie", "a=1; sessionid=OLD")], b"")
    assert identity.apply(out, token)
    assert out.headers == [("Cookie", "a=1; sessionid=S1")]


def test_hs_resign_keeps_claims_and_refreshes_times() -> None:
    production, staging = load_key("HS256", b"prod"), load_key("HS384", b"staging")
    old = sign({"typ": "JWT", "kid": "prod-1"}, {"sub": "7", "role": "admin", "iat": 100,
               "nbf": 100, "exp": 400}, "HS256", production)  # fmt: skip
    signer = Resigner(staging, "HS384", ttl_s=3600)
    new = signer.resign(old, now=10_000)
    assert new is not None and verify(new, staging, "HS384") and not verify(old, staging, "HS384")
    assert claims(new) == {"sub": "7", "role": "admin", "iat": 10_000, "nbf": 10_000, "exp": 10_300}
    assert signer.resign(old, now=10_100) == new  # cached within half its lifetime
    assert signer.resign(old, now=10_200) != new
    assert signer.resign("not-a-jwt", now=1) is None
    header = f"Bearer {old}"
    assert signer.resign_text(header, now=10_200).startswith("Bearer eyJ")
    no_exp = sign({}, {"sub": "1"}, "HS256", production)
    assert claims(signer.resign(no_exp, now=5) or "") == {"sub": "1"}


def test_rs256_resign_verifies_with_the_public_key() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key = load_key("RS256", pem)
    old = sign({}, {"sub": "9", "iat": 1, "exp": 61}, "HS256", load_key("HS256", b"x"))
    new = Resigner(key, "RS256", ttl_s=10).resign(old, now=1000)
    assert new is not None and verify(new, key, "RS256")
    assert (
        json.loads(__import__("base64").urlsafe_b64decode(new.split(".")[0] + "=="))["alg"]
        == "RS256"
    )
    with pytest.raises(ValueError, match="not a PEM private key"):
        load_key("RS256", b"garbage")
    with pytest.raises(ValueError, match="empty"):
        load_key("HS256", b"  ")


def test_resign_only_what_the_capture_holds() -> None:
    key = load_key("HS256", b"staging")
    token = sign({}, {"sub": "1", "iat": 1, "exp": 100}, "HS256", load_key("HS256", b"p"))
    auth = AuthSpec.model_validate({"jwt": {"key_env": "K"}})
    identity = Identity(auth, [], [], key)
    captured = [("Authorization", f"Bearer {token}"), ("Cookie", f"jwt={token}; live={token}")]
    out = Outgoing("GET", "/", [captured[0], ("Cookie", f"jwt={token}; live=FROM-TARGET")], b"")
    identity.resign(out, captured, now=500)
    assert out.headers[0][1] != captured[0][1] and verify(out.headers[0][1][7:], key, "HS256")
    cookie = out.headers[1][1]
    assert "live=FROM-TARGET" in cookie and f"jwt={token}" not in cookie
