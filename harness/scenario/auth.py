"""Staging identities in the stack file (``auth:``), per target or for all in ``defaults``.

Captured credentials are pseudonymised, expired or unknown to staging. Two ways to replace them::

    defaults:
      auth:
        login:                                  # one login per session, before its first request
          request:
            method: POST
            path: /api/users/login
            json: {user: {email: "{account.email}", password: "{account.password}"}}
          accounts: accounts.csv                # CSV with a header row (user,password,email,...)
          # accounts_env: {email: STAGING_EMAIL, password: STAGING_PASSWORD}   # one account
          share: false                          # true: more sessions than accounts share them
          token: json:$.user.token              # a source locator: json:, header:, cookie:
          apply: header:Authorization           # or cookie:NAME
          format: "Token {token}"
        captured_login:                         # or: the capture's own logins, staging accounts
          route: /login/                        # the login's route in the capture
          method: POST
          fields:                               # what the captured login sent -> what to send
            username: "{account.user}"          # a plain name: form field, multipart part, JSON key
            password: "{account.password}"      # (or json:$.user.password, header:X-Pass, query:pw)
          key: username                         # who logs in (default: the first field)
          accounts: accounts.csv                # or accounts_env; share: true as for login
        jwt:                                    # or: re-sign the captured JWTs
          algorithm: HS256                      # HS256, HS384, HS512 or RS256
          key_env: STAGING_JWT_KEY              # the secret, or a PEM private key (RS256)
          # key_file: staging-jwt.pem           # RS256: a PEM file beside the stack file
          ttl: 1h                               # lifetime of a token that had none

``login``: for each session whose requests carry the ``apply`` place (a header or a cookie) that
no session link fills, the replay logs in once per target before the session's first such
request, with the session's own account (sessions get accounts in order of first appearance;
``share: true`` lets session *n* use account *n mod accounts* when there are fewer accounts than
sessions), takes the token at ``token`` from the answer and sends it at ``apply`` (``format``
around it) instead of the captured credential. The login is not a judged request: it is counted
in the run's report. Placeholders ``{account.COLUMN}`` take the account's values in the path,
headers, ``json`` strings, ``form`` values and ``body``. Passwords come from the accounts file
or the environment, never from the capture, and are never printed.

``captured_login``: a login the capture holds (every request of ``method`` whose route is
``route``) keeps its own exchange (the login page fetched first, its CSRF cookie and form token
carried by the links, the session cookie it sets), but sends a staging account's values in
``fields`` instead of the captured (pseudonymised) ones. Who logs in is the captured value of
``key``: the same captured user (the same pseudonym) gets the same account, every time it logs
in, in every session; distinct users get accounts in order of first login (``share: true``
lets user *n* take account *n mod accounts*). A login whose captured values were all sent
earlier in the capture by another request (the user registered, or set that password, during
the capture) is sent as captured: the replay creates that user on the target too.

``jwt``: every JWT in a request's headers (``Authorization``, cookies, any header) that no link
filled is signed again with the staging key, keeping its claims and refreshing ``iat`` and
``nbf`` (to now) and ``exp`` (now plus the token's captured lifetime, else ``ttl``).

The checks here run when the stack file is loaded (file and line, exit 3): locators, templates,
the accounts file (a header row, every column the templates use, at least one account), the
JWT key when it is in a file or in a set environment variable.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.capture.linkspec import (
    TARGET_PLACES,
    Locator,
    LocatorError,
    parse_source,
    parse_target,
)
from harness.scenario.durations import Duration
from harness.scenario.paths import FilePath

_ACCOUNT = re.compile(r"\{account\.([A-Za-z_][A-Za-z0-9_\-]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LoginRequest(_Strict):
    """The login request: ``{account.NAME}`` placeholders in path, headers and body."""

    method: str = "POST"
    path: str
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    form: dict[str, str] | None = None
    body: str | None = None

    @model_validator(mode="after")
    def _one_body(self) -> LoginRequest:
        given = [k for k in ("json_body", "form", "body") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError("give at most one of json, form or body")
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/', got {self.path!r}")
        return self

    def placeholders(self) -> set[str]:
        """The account columns this request uses."""
        found: set[str] = set()
        for text in _strings([self.path, self.headers, self.json_body, self.form, self.body]):
            found.update(_ACCOUNT.findall(text))
        return found


class LoginSpec(_Strict):
    """A login per session (see the module docstring)."""

    request: LoginRequest
    accounts: FilePath | None = None
    accounts_env: dict[str, str] | None = None
    share: bool = False
    token: str
    apply: str
    format: str = "{token}"

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        try:
            parse_source(value)
        except LocatorError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("apply")
    @classmethod
    def _apply(cls, value: str) -> str:
        try:
            place = parse_target(value).place
        except LocatorError as exc:
            raise ValueError(str(exc)) from None
        if place not in ("header", "cookie"):
            raise ValueError(f"apply must be header:NAME or cookie:NAME, got {value!r}")
        return value

    def placeholders(self) -> set[str]:
        """The account columns the login request uses."""
        return self.request.placeholders()

    @model_validator(mode="after")
    def _accounts(self) -> LoginSpec:
        if (self.accounts is None) == (self.accounts_env is None):
            raise ValueError("give exactly one of accounts (a CSV file) or accounts_env")
        if "{token}" not in self.format:
            raise ValueError("format must contain {token}")
        if self.accounts_env is not None:
            unknown = self.request.placeholders() - set(self.accounts_env)
            if unknown:
                raise ValueError(
                    f"request uses {{account.{sorted(unknown)[0]}}} but accounts_env has no "
                    f"{sorted(unknown)[0]!r}"
                )
        return self


#: where a captured login's field may be (target locator places); a plain name is a field of
#: the body, whatever its type (see :class:`CapturedLoginSpec`)
FIELD_PLACES = ("form", "multipart", "json", "header", "query")


def parse_field(name: str) -> Locator | None:
    """A field of ``captured_login.fields``: a locator (``json:$.user.email``,
    ``header:X-Password``...), or None for a plain name; ``ValueError`` saying what is wrong."""
    place, colon, _ = name.partition(":")
    if not colon or place not in TARGET_PLACES:
        if not name.strip():
            raise ValueError("a field name must not be empty")
        return None
    try:
        locator = parse_target(name)
    except LocatorError as exc:
        raise ValueError(str(exc)) from None
    if locator.place not in FIELD_PLACES:
        raise ValueError(
            f"field {name!r}: a login field is a plain name or one of "
            f"{', '.join(p + ':' for p in FIELD_PLACES)} (not {locator.place})"
        )
    if locator.place == "json" and not locator.path:
        raise ValueError(f"field {name!r}: a JSON field needs a path below $")
    return locator


class CapturedLoginSpec(_Strict):
    """A staging account written into each login the capture holds (see the module docstring)."""

    route: str
    method: str = "POST"
    fields: dict[str, str]
    key: str | None = None
    accounts: FilePath | None = None
    accounts_env: dict[str, str] | None = None
    share: bool = False

    @field_validator("route")
    @classmethod
    def _route(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"route must start with '/' (a route of the capture), got {value!r}")
        return value

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        if not value.isalpha():
            raise ValueError(f"method must be an HTTP method such as POST, got {value!r}")
        return value.upper()

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError('give at least one field, e.g. {password: "{account.password}"}')
        for name in value:
            parse_field(name)
        return value

    @model_validator(mode="after")
    def _accounts(self) -> CapturedLoginSpec:
        if self.key is not None and self.key not in self.fields:
            raise ValueError(
                f"key {self.key!r} is not one of the fields ({', '.join(self.fields)})"
            )
        if (self.accounts is None) == (self.accounts_env is None):
            raise ValueError("give exactly one of accounts (a CSV file) or accounts_env")
        if self.accounts_env is not None:
            unknown = sorted(self.placeholders() - set(self.accounts_env))
            if unknown:
                raise ValueError(
                    f"fields use {{account.{unknown[0]}}} but accounts_env has no {unknown[0]!r}"
                )
        return self

    @property
    def key_field(self) -> str:
        """The field whose captured value says who logs in (default: the first field)."""
        return self.key if self.key is not None else next(iter(self.fields))

    def placeholders(self) -> set[str]:
        """The account columns the fields use."""
        found: set[str] = set()
        for text in self.fields.values():
            found.update(_ACCOUNT.findall(text))
        return found


class JwtSpec(_Strict):
    """Re-sign captured JWTs with a staging key."""

    algorithm: Literal["HS256", "HS384", "HS512", "RS256"] = "HS256"
    key_env: str | None = None
    key_file: FilePath | None = None
    ttl: Duration = 3600.0

    @model_validator(mode="after")
    def _one_key(self) -> JwtSpec:
        if (self.key_env is None) == (self.key_file is None):
            raise ValueError("give exactly one of key_env or key_file")
        if self.key_file is not None and not self.algorithm.startswith("RS"):
            raise ValueError("key_file holds a PEM private key: use it with RS256")
        return self


class AuthSpec(_Strict):
    """Staging identities of a target: ``login``, ``captured_login``, ``jwt``, or several."""

    login: LoginSpec | None = None
    captured_login: CapturedLoginSpec | None = None
    jwt: JwtSpec | None = None


def _strings(values: list[Any]) -> list[str]:
    out: list[str] = []
    for value in values:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            out += _strings([*value.keys(), *value.values()])
        elif isinstance(value, list):
            out += _strings(value)
    return out


def fill_account(value: Any, account: dict[str, str]) -> Any:
    """``value`` (a string, or JSON of them) with ``{account.NAME}`` filled in."""
    if isinstance(value, str):
        return _ACCOUNT.sub(lambda m: account.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {fill_account(k, account): fill_account(v, account) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_account(v, account) for v in value]
    return value
