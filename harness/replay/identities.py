"""Staging identities on replay: a login per session and target, and re-signed JWTs.

Pure (no gevent, no network): the sender asks :class:`Identity` for the login request of a
session, hands back the reply, and lets it write the token into the session's requests; see
:mod:`harness.scenario.auth` for the stack file's ``auth:`` and what it means.

Which sessions log in (:func:`identity_sessions`): those with a request that carries the
``apply`` place (the header, or the cookie in ``Cookie``) without a link filling it, in order of
first appearance; the n-th of them uses account n (or n mod accounts with ``share: true``).
:func:`check_accounts` refuses too few accounts (exit 3, naming the stack file's line).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from harness.capture.linkspec import Locator, parse_source, parse_target
from harness.errors import StackFileError
from harness.replay.jwtsign import Key, Resigner
from harness.replay.sources import Reply, extract
from harness.replay.substitute import Outgoing
from harness.scenario.auth import AuthSpec, LoginSpec, fill_account


def carries(headers: Iterable[tuple[str, str]], place: Locator) -> bool:
    """Whether captured request headers carry ``place`` (``header:NAME`` or ``cookie:NAME``)."""
    if place.place == "header":
        low = place.name.lower()
        return any(name.lower() == low for name, _ in headers)
    for name, value in headers:
        if name.lower() == "cookie":
            for part in value.split(";"):
                key, eq, _ = part.strip().partition("=")
                if eq and key == place.name:
                    return True
    return False


def identity_sessions(
    sessions: Sequence[str | None],
    headers: Sequence[Sequence[Mapping[str, str]] | None],
    links: Sequence[Sequence[Mapping[str, Any]] | None],
    apply: str,
) -> list[str]:
    """Sessions (in capture order of first need) with a request carrying ``apply`` unlinked."""
    place = parse_target(apply)
    found: dict[str, None] = {}
    for session, row_headers, row_links in zip(sessions, headers, links, strict=True):
        if session is None or session in found:
            continue
        pairs = [(h["name"], h["value"]) for h in row_headers or ()]
        if not carries(pairs, place):
            continue
        if any(str(link["dst"]) == apply for link in row_links or ()):
            continue  # this request's own login delivered it: a link fills it
        found[session] = None
    return list(found)


def check_accounts(spec: LoginSpec, accounts: int, sessions: int, where: str) -> None:
    """Too few accounts for the sessions that log in: :class:`StackFileError` at ``where``."""
    if sessions <= accounts or spec.share:
        return
    raise StackFileError(
        f"{where}: auth.login: {accounts} account(s) for {sessions} sessions that need a staging "
        "identity: add accounts, or set `share: true` (session n then uses account n mod "
        f"{accounts}, so sessions share accounts and their server-side state)"
    )


class Identity:
    """One target's staging identities for one worker's sessions."""

    def __init__(
        self,
        auth: AuthSpec,
        accounts: Sequence[dict[str, str]],
        sessions: Sequence[str],
        jwt_key: Key | None,
    ) -> None:
        self.auth = auth
        self.login = auth.login
        self._accounts = list(accounts)
        self._number = {session: n for n, session in enumerate(sessions)}
        self._token_src = parse_source(auth.login.token) if auth.login else None
        self._apply = parse_target(auth.login.apply) if auth.login else None
        self.resigner = (
            Resigner(jwt_key, auth.jwt.algorithm, auth.jwt.ttl) if auth.jwt and jwt_key else None
        )
        self.logins = 0
        self.failed = 0

    @property
    def apply_place(self) -> Locator:
        """Where the token goes (``header:NAME`` or ``cookie:NAME``)."""
        assert self._apply is not None
        return self._apply

    @property
    def token_place(self) -> str:
        """Where the token is read from in the login's reply (a source locator)."""
        assert self.login is not None
        return self.login.token

    def secrets(self) -> list[str]:
        """Every value of every account (longest first): never shown in a message."""
        values = {v for account in self._accounts for v in account.values() if v}
        return sorted(values, key=len, reverse=True)

    def needs_login(self, session: str | None) -> bool:
        """Whether ``session`` is one that logs in (see :func:`identity_sessions`)."""
        return self.login is not None and session in self._number

    def login_request(self, session: str) -> Outgoing:
        """The login request of ``session``, with its account's values filled in."""
        assert self.login is not None
        n = self._number[session]
        account = self._accounts[n % len(self._accounts)]
        template = self.login.request
        headers = [(k, fill_account(v, account)) for k, v in template.headers.items()]
        body = b""
        if template.json_body is not None:
            body = json.dumps(fill_account(template.json_body, account)).encode()
            headers.append(("Content-Type", "application/json"))
        elif template.form is not None:
            body = urlencode(fill_account(template.form, account)).encode()
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        elif template.body is not None:
            body = fill_account(template.body, account).encode()
        path = fill_account(template.path, account)
        return Outgoing(template.method.upper(), path, headers, body)

    def token_from(self, reply: Reply) -> str | None:
        """The token in a login's reply (None: the login failed or lacked it)."""
        assert self._token_src is not None
        if not 200 <= reply.status < 400:
            return None
        return extract(self._token_src, reply)

    def apply(self, req: Outgoing, token: str) -> bool:
        """Write the token where the captured credential stood; False when it was not there."""
        assert self.login is not None and self._apply is not None
        value = self.login.format.replace("{token}", token)
        place = self._apply
        done = False
        for i, (name, current) in enumerate(req.headers):
            low = name.lower()
            if place.place == "header" and low == place.name.lower():
                req.headers[i] = (name, value)
                done = True
            elif place.place == "cookie" and low == "cookie":
                parts = current.split(";")
                for j, part in enumerate(parts):
                    key, eq, _ = part.strip().partition("=")
                    if eq and key == place.name:
                        lead = part[: len(part) - len(part.lstrip())]
                        parts[j] = f"{lead}{key}={value}"
                        done = True
                req.headers[i] = (name, ";".join(parts))
        return done

    def resign(self, req: Outgoing, captured: Sequence[tuple[str, str]], now: float) -> None:
        """Sign again the JWTs of ``req``'s headers that still hold their ``captured`` value
        (a link, the cookie jar or a login wrote the others: they came from the target)."""
        signer = self.resigner
        if signer is None:
            return
        for i, (name, value) in enumerate(req.headers):
            if "eyJ" not in value or i >= len(captured) or captured[i][0] != name:
                continue
            if value == captured[i][1]:
                req.headers[i] = (name, signer.resign_text(value, now))
            elif name.lower() == "cookie":
                before = {
                    k.strip(): v
                    for k, _, v in (p.partition("=") for p in captured[i][1].split(";"))
                }
                parts = []
                for part in value.split(";"):
                    key, eq, val = part.partition("=")
                    if eq and before.get(key.strip()) == val:
                        val = signer.resign_text(val, now)
                    parts.append(f"{key}{eq}{val}")
                req.headers[i] = (name, ";".join(parts))
