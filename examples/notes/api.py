"""The JSON API of the notes service: register, log in (a token in the body), notes, comments.

Authenticated routes take ``Authorization: Token <jwt>`` (or ``Bearer``); without a valid
token they answer 401. Validation errors answer 422 ``{"errors": {field: [message]}}``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import store
from .auth import hash_password, issue_token, read_token, verify_password
from .routing import BadInput, Request, Response, json_response

if TYPE_CHECKING:
    from .handler import App

_USERNAME = re.compile(r"[A-Za-z0-9_.\-]{3,40}")
_EMAIL = re.compile(r"[^@\s]{1,64}@([A-Za-z0-9\-]{1,63}\.)+([A-Za-z]{2,24})")
# Special-use top-level domains (RFC 6761 and friends) that real validators refuse.
_SPECIAL_TLDS = frozenset({"arpa", "example", "invalid", "local", "localhost", "onion", "test"})
TAGS = ("postgres", "resilience", "replay", "chaos", "hotfix", "sre", "notes")


def validate_account(username: str, email: str, password: str) -> dict[str, list[str]]:
    """What is wrong with a new account's fields (empty when nothing is)."""
    errors: dict[str, list[str]] = {}
    if not _USERNAME.fullmatch(username):
        errors["username"] = ["must be 3-40 letters, digits, '_', '.' or '-'"]
    match = _EMAIL.fullmatch(email)
    if match is None or match.group(2).lower() in _SPECIAL_TLDS:
        errors["email"] = ["is invalid"]
    if not 8 <= len(password) <= 128:
        errors["password"] = ["must be 8 to 128 characters"]
    return errors


def _strings(data: dict[str, object], key: str, *fields: str) -> list[str]:
    inner = data.get(key)
    if not isinstance(inner, dict):
        raise BadInput(f"body must be {{{key!r}: {{...}}}}")
    values = [inner.get(f, "") for f in fields]
    if not all(isinstance(v, str) for v in values):
        raise BadInput(f"{', '.join(fields)} must be strings")
    return [str(v) for v in values]


def _errors(errors: dict[str, list[str]], status: int = 422) -> Response:
    return json_response(status, {"errors": errors})


def _user_body(user: store.User, token: str) -> dict[str, object]:
    return {"user": {**user.to_json(), "token": token}}


def api_user(app: App, req: Request) -> store.User | Response:
    """The user of the request's token, or the 401 to answer."""
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    claims = read_token(token.strip(), app.secret) if scheme in ("Token", "Bearer") else None
    user = None
    if claims is not None:
        user_id = int(str(claims["sub"]))
        user = app.db(lambda c: store.user_by_id(c, user_id))
    if user is None:
        body = {"errors": {"token": ["is missing, invalid or expired"]}}
        return json_response(401, body, ("WWW-Authenticate", "Token"))
    return user


def register(app: App, req: Request, params: dict[str, str]) -> Response:
    username, email, password = _strings(req.json_object(), "user", "username", "email", "password")
    errors = validate_account(username, email, password)
    if errors:
        return _errors(errors)
    stored = hash_password(password)
    result = app.db(lambda c: store.create_user(c, username, email, stored))
    if isinstance(result, store.Refused):
        return _errors({result.field: [result.message]})
    return json_response(201, _user_body(result, issue_token(result.id, username, app.secret)))


def login(app: App, req: Request, params: dict[str, str]) -> Response:
    email, password = _strings(req.json_object(), "user", "email", "password")
    user = app.db(lambda c: store.user_by_email(c, email))
    if user is None or not verify_password(password, user.password_hash):
        return _errors({"email or password": ["is invalid"]}, 401)
    return json_response(200, _user_body(user, issue_token(user.id, user.username, app.secret)))


def current_user(app: App, req: Request, params: dict[str, str]) -> Response:
    user = api_user(app, req)
    if isinstance(user, Response):
        return user
    token = req.headers.get("Authorization", "").partition(" ")[2].strip()
    return json_response(200, _user_body(user, token))


def list_notes(app: App, req: Request, params: dict[str, str]) -> Response:
    raw_limit = req.query.get("limit", "20")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise BadInput("limit must be an integer from 1 to 100")
    author = req.query.get("author") or None
    notes = app.db(lambda c: store.list_notes(c, author, int(raw_limit)))
    return json_response(200, {"notes": [n.to_json() for n in notes], "count": len(notes)})


def create_note(app: App, req: Request, params: dict[str, str]) -> Response:
    user = api_user(app, req)
    if isinstance(user, Response):
        return user
    title, body = _strings(req.json_object(), "note", "title", "body")
    if not title.strip() or len(title) > 200:
        return _errors({"title": ["must be 1 to 200 characters"]})
    note = app.db(lambda c: store.create_note(c, user, title, body))
    location = ("Location", f"/api/notes/{note.slug}")
    return json_response(201, {"note": note.to_json()}, location)


def get_note(app: App, req: Request, params: dict[str, str]) -> Response:
    note = app.db(lambda c: store.get_note(c, params["slug"]))
    if note is None:
        return _errors({"note": ["not found"]}, 404)
    return json_response(200, {"note": note.to_json()})


def update_note(app: App, req: Request, params: dict[str, str]) -> Response:
    user = api_user(app, req)
    if isinstance(user, Response):
        return user
    title, body = _strings(req.json_object(), "note", "title", "body")
    result = app.db(lambda c: store.update_note(c, params["slug"], user, title, body))
    if isinstance(result, store.Refused):
        return _errors({result.field: [result.message]}, result.status)
    return json_response(200, {"note": result.to_json()})


def delete_note(app: App, req: Request, params: dict[str, str]) -> Response:
    user = api_user(app, req)
    if isinstance(user, Response):
        return user
    refused = app.db(lambda c: store.delete_note(c, params["slug"], user))
    if refused is not None:
        return _errors({refused.field: [refused.message]}, refused.status)
    return Response(204)


def list_comments(app: App, req: Request, params: dict[str, str]) -> Response:
    comments = app.db(lambda c: store.list_comments(c, params["slug"]))
    if comments is None:
        return _errors({"note": ["not found"]}, 404)
    return json_response(200, {"comments": [c.to_json() for c in comments]})


def add_comment(app: App, req: Request, params: dict[str, str]) -> Response:
    user = api_user(app, req)
    if isinstance(user, Response):
        return user
    (body,) = _strings(req.json_object(), "comment", "body")
    if not body.strip():
        return _errors({"body": ["can't be blank"]})
    result = app.db(lambda c: store.add_comment(c, params["slug"], user, body))
    if isinstance(result, store.Refused):
        return _errors({result.field: [result.message]}, result.status)
    return json_response(201, {"comment": result.to_json()})


def delete_comment(app: App, req: Request, params: dict[str, str]) -> Response:
    user = api_user(app, req)
    if isinstance(user, Response):
        return user
    if not params["id"].isdigit() or len(params["id"]) > 18:
        raise BadInput("comment id must be a positive integer")
    comment_id = int(params["id"])
    refused = app.db(lambda c: store.delete_comment(c, params["slug"], comment_id, user))
    if refused is not None:
        return _errors({refused.field: [refused.message]}, refused.status)
    return Response(204)


def tags(app: App, req: Request, params: dict[str, str]) -> Response:
    """A static list (no database): an independent route for the cascade gate."""
    return json_response(200, {"tags": list(TAGS)}, ("Cache-Control", "public, max-age=60"))
