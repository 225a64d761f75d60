"""Which captured login uses which staging account, and what it sends then."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import StackFileError
from harness.replay.captured_logins import (
    CapturedLogins,
    LoginPlan,
    as_captured,
    assigned_json,
    plan_captured_logins,
)
from harness.replay.substitute import Outgoing
from harness.scenario.auth import CapturedLoginSpec
from harness.scenario.stackfile import load_stack
from tests.replay.captures import Req, write_capture

FORM = ("Content-Type", "application/x-www-form-urlencoded")
JSON = ("Content-Type", "application/json")
ACCOUNTS = [
    {"user": "staging-01", "password": "staging-pass-01"},
    {"user": "staging-02", "password": "staging-pass-02"},
]


def _rule(**extra: object) -> CapturedLoginSpec:
    return CapturedLoginSpec.model_validate(
        {
            "route": "/login/",
            "fields": {"username": "{account.user}", "password": "{account.password}"},
            "accounts": "accounts.csv",
            **extra,
        }
    )


def _login(t: float, session: str, user: str | None, password: str = "pw-pseudo") -> Req:
    fields = f"csrfmiddlewaretoken=t&username={user}&" if user else "csrfmiddlewaretoken=t&"
    body = (fields + f"password={password}").encode()
    return Req(t, "/login/", session, "POST", [FORM], body, route="/login/")


def test_the_same_captured_user_gets_the_same_account_in_every_session(tmp_path: Path) -> None:
    capture = write_capture(
        tmp_path / "c.parquet",
        [
            Req(0.0, "/login/", "a", route="/login/"),  # the login page: not a login
            _login(1.0, "a", "user7"),  # idx 1
            _login(2.0, "b", "user3"),  # idx 2
            Req(3.0, "/notes/", "a"),
            _login(4.0, "c", "user7"),  # idx 4: user7 again, in another session
            _login(5.0, "b", "user3"),  # idx 5: user3 logs in again
            _login(6.0, "d", None),  # idx 6: no user name: the session's own user
        ],
    )
    plan = plan_captured_logins(capture, _rule(share=True), 2, "stack.yaml:9")
    assert plan == LoginPlan({1: 0, 2: 1, 4: 0, 5: 1, 6: 0}, logins=5, users=3, registered=0)
    assert plan.first == [1, 2, 4, 5, 6]
    assert assigned_json(plan) == {"1": 0, "2": 1, "4": 0, "5": 1, "6": 0}


def test_too_few_accounts_name_the_stack_file_line(tmp_path: Path) -> None:
    capture = write_capture(
        tmp_path / "c.parquet", [_login(0.0, "a", "u1"), _login(1.0, "b", "u2")]
    )
    with pytest.raises(StackFileError) as err:
        plan_captured_logins(capture, _rule(), 1, "stack.yaml:12")
    assert str(err.value).startswith(
        "stack.yaml:12: auth.captured_login: 1 account(s) for 2 users who log in in the capture"
    )
    assert "share: true" in str(err.value)
    assert plan_captured_logins(capture, _rule(), 2, "stack.yaml:12").users == 2


def test_a_rule_that_matches_no_request_is_an_error_with_the_routes_like_it(
    tmp_path: Path,
) -> None:
    capture = write_capture(tmp_path / "c.parquet", [_login(0.0, "a", "u1")])
    wrong = _rule(route="/accounts/login/")
    with pytest.raises(StackFileError) as err:
        plan_captured_logins(capture, wrong, 2, "stack.yaml:3")
    assert str(err.value) == (
        "stack.yaml:3: auth.captured_login: the capture c.parquet has no POST /accounts/login/ "
        "request (routes like it: /login/)"
    )
    with pytest.raises(StackFileError, match="no PUT /login/ request"):
        plan_captured_logins(capture, _rule(method="put"), 2, "stack.yaml:3")


def test_a_field_no_captured_login_sends_names_what_the_login_sends(tmp_path: Path) -> None:
    capture = write_capture(
        tmp_path / "c.parquet", [_login(0.0, "a", "user0", "s3cret-pw"), _login(1.0, "b", None)]
    )
    wrong = _rule(fields={"email": "{account.user}", "password": "{account.password}"})
    with pytest.raises(StackFileError) as err:
        plan_captured_logins(capture, wrong, 2, "stack.yaml:4")
    assert str(err.value) == (
        "stack.yaml:4: auth.captured_login: field 'email' is in none of the 2 captured POST "
        "/login/ requests (it sends form:csrfmiddlewaretoken, form:username, form:password)"
    )
    assert "s3cret-pw" not in str(err.value) and "user0" not in str(err.value)
    # a field some logins send is enough (the second one has no user name)
    assert plan_captured_logins(capture, _rule(share=True), 1, "stack.yaml:4").logins == 2


def test_a_user_who_registers_in_the_capture_keeps_the_captured_values(tmp_path: Path) -> None:
    rule = CapturedLoginSpec.model_validate(
        {
            "route": "/api/users/login",
            "fields": {"email": "{account.email}", "password": "{account.password}"},
            "accounts_env": {"email": "E", "password": "P"},
        }
    )

    def json_req(t: float, path: str, session: str, user: dict[str, str]) -> Req:
        body = json.dumps({"user": user}).encode()
        return Req(t, path, session, "POST", [JSON], body, route=path)

    new = {"email": "b80@vfqq.example.com", "password": "rxdlgcmr"}
    old = {"email": "c91@wgrr.example.com", "password": "qpalzmwo"}
    capture = write_capture(
        tmp_path / "c.parquet",
        [
            json_req(0.0, "/api/users/login", "s0", old),  # idx 0: logs in before registering
            json_req(1.0, "/api/users", "s1", {**new, "username": "u17964"}),  # registration
            json_req(2.0, "/api/users/login", "s2", new),  # idx 2: registered above
            json_req(3.0, "/api/users/login", "s3", old),  # idx 3: never registered
            # the same password with another e-mail registered: not this user's registration
            json_req(4.0, "/api/users", "s4", {"email": "x@y.example.com", "password": "qpalzmwo"}),
            json_req(5.0, "/api/users/login", "s5", old),  # idx 5: still not registered
            Req(6.0, "/api/users/login", "s6", "GET", route="/api/users/login"),  # not the method
        ],
    )
    plan = plan_captured_logins(capture, rule, 1, "stack.yaml:5")
    assert plan == LoginPlan({0: 0, 3: 0, 5: 0}, logins=4, users=1, registered=1)


def test_an_account_is_written_into_its_login_only() -> None:
    logins = CapturedLogins(_rule(), ACCOUNTS, {21: 1})
    assert logins.wants(21) and not logins.wants(22)
    req = Outgoing("POST", "/login/", [FORM], b"csrfmiddlewaretoken=t&username=user0&password=x")
    assert logins.apply(req, 21) == []
    assert req.body == b"csrfmiddlewaretoken=t&username=staging-02&password=staging-pass-02"
    partial = Outgoing("POST", "/login/", [FORM], b"username=user0")
    assert logins.apply(partial, 21) == ["password"]
    assert logins.secrets()[0] == "staging-pass-01" or logins.secrets()[0] == "staging-pass-02"


@pytest.mark.parametrize(
    ("orig", "orig_location", "status", "location", "same"),
    [
        (302, "/", 302, "/", True),
        (302, "/", 302, "/login/", False),  # back to the login page: the account was refused
        (302, "/", 200, None, False),  # the form again, with its errors
        (200, None, 200, None, True),
        (200, None, 401, None, False),
        (302, None, 302, "/anywhere/", True),  # no captured Location route: the class decides
        (None, None, 302, "/", True),
        (None, None, 403, None, False),
    ],
)
def test_a_login_answered_as_in_the_capture(
    orig: int | None, orig_location: str | None, status: int, location: str | None, same: bool
) -> None:
    assert as_captured(orig, orig_location, status, location) is same


def _stack(tmp_path: Path, rule: str, accounts: str | None = "user,password\nu1,pw1\n") -> Path:
    if accounts is not None:
        (tmp_path / "accounts.csv").write_text(accounts)
    path = tmp_path / "stack.yaml"
    path.write_text(
        "name: s\ntargets:\n  baseline: {url: 'http://127.0.0.1:1'}\ndefaults:\n  auth:\n"
        "    captured_login:\n" + rule
    )
    return path


GOOD = (
    "      route: /login/\n"
    "      fields:\n"
    '        username: "{account.user}"\n'
    '        password: "{account.password}"\n'
    "      accounts: accounts.csv\n"
)


def test_the_stack_file_takes_a_captured_login(tmp_path: Path) -> None:
    stack = load_stack(_stack(tmp_path, GOOD))
    auth = stack.file.defaults.auth
    assert auth is not None and auth.captured_login is not None
    assert auth.captured_login.key_field == "username"
    assert auth.captured_login.placeholders() == {"user", "password"}
    assert auth.login is None and auth.jwt is None


@pytest.mark.parametrize(
    ("rule", "accounts", "message"),
    [
        (GOOD.replace("/login/", "login/"), None, r":7: .*route must start with '/'"),
        (
            GOOD.replace("username:", "cookie:sessionid:"),
            None,
            r":8: .*fields: field 'cookie:sessionid': .*not cookie",
        ),
        (GOOD + "      key: email\n", None, r":6: .*key 'email' is not one of the fields"),
        (GOOD + "      share: maybe\n", None, r":12: .*share: Input should be a valid boolean"),
        (GOOD + "      token: x\n", None, r":12: .*unknown key 'token'"),  # a key of login
        (GOOD.replace("POST", "x"), None, None),
        (GOOD + "      method: 'PO ST'\n", None, r":12: .*must be an HTTP method"),
        (
            GOOD.replace("accounts: accounts.csv", "accounts_env: {user: U}"),
            None,
            r":6: .*accounts_env has no 'password'",
        ),
        (
            GOOD,
            "user\nu1\n",
            r":11: defaults\.auth\.captured_login\.accounts: .*no column "
            r"'password'",
        ),
        (GOOD.replace("accounts.csv", "none.csv"), None, r":11: .*none\.csv: no such file"),
    ],
)
def test_a_bad_rule_names_the_stack_file_line(
    tmp_path: Path, rule: str, accounts: str | None, message: str | None
) -> None:
    path = _stack(tmp_path, rule, accounts or "user,password\nu1,pw1\n")
    if message is None:
        load_stack(path)
        return
    with pytest.raises(StackFileError, match=r"stack\.yaml" + message):
        load_stack(path)
