"""The server-rendered pages of the notes service: cookie sessions and CSRF-checked forms.

The session cookie ``sessionid`` names a row of ``sessions`` that holds the session's CSRF
token. The login and signup forms get an anonymous session; logging in replaces it with a new
id and a new token (no session fixation). Every POST must carry ``csrfmiddlewaretoken`` equal
to the token of its session, else 403 "CSRF verification failed"; a POST that says where it
comes from (``Origin``, as browsers send on every form POST) must come from this site, the
``http://`` + ``Host`` it was sent to, else the same 403 (Django's origin check). A page that
needs a login answers 302 to ``/login?next=...`` without one.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from . import pages, store
from .api import validate_account
from .auth import hash_password, verify_password
from .routing import Request, Response, html_response, redirect

if TYPE_CHECKING:
    from .handler import App

COOKIE = "sessionid"
_MAX_AGE = int(store.SESSION_TTL.total_seconds())


def set_cookie(session_id: str) -> tuple[str, str]:
    value = f"{COOKIE}={session_id}; Path=/; Max-Age={_MAX_AGE}; HttpOnly; SameSite=Lax"
    return ("Set-Cookie", value)


def clear_cookie() -> tuple[str, str]:
    expired = "Thu, 01 Jan 1970 00:00:00 GMT"
    return ("Set-Cookie", f'{COOKIE}=""; Path=/; Max-Age=0; Expires={expired}; HttpOnly')


def current_session(app: App, req: Request) -> store.Session | None:
    session_id = req.cookie(COOKIE)
    if not session_id:
        return None
    return app.db(lambda c: store.get_session(c, session_id))


def _anonymous(app: App, req: Request) -> tuple[store.Session, list[tuple[str, str]]]:
    """The request's session, or a new anonymous one with the cookie that sets it."""
    session = current_session(app, req)
    if session is not None:
        return session, []
    session = app.db(lambda c: store.start_session(c, None))
    return session, [set_cookie(session.id)]


def _csrf_failed() -> Response:
    text = "CSRF verification failed. Request aborted."
    return html_response(403, pages.message_page("Forbidden", text))


def _same_origin(req: Request) -> bool:
    """No ``Origin``, or the origin of this site (the scheme and the ``Host`` it was sent to)."""
    origin = req.headers.get("Origin")
    return origin is None or origin == f"http://{req.headers.get('Host', '')}"


def _checked_form(app: App, req: Request) -> tuple[store.Session, dict[str, str]] | Response:
    """The session and form fields of a POST from this site whose CSRF token is right; else
    the 403."""
    if not _same_origin(req):
        return _csrf_failed()
    session = current_session(app, req)
    form = req.form()
    if session is None or form.get("csrfmiddlewaretoken") != session.csrf:
        return _csrf_failed()
    return session, form


def _login_required(app: App, req: Request) -> store.Session | Response:
    session = current_session(app, req)
    if session is None or session.user is None:
        return redirect("/login?next=" + urllib.parse.quote(req.path, safe="/"))
    return session


def _safe_next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") else "/notes"


def index(app: App, req: Request, params: dict[str, str]) -> Response:
    return redirect("/notes")


def login_form(app: App, req: Request, params: dict[str, str]) -> Response:
    session, cookies = _anonymous(app, req)
    if session.user is not None:
        return redirect("/notes")
    notice = "Account created: sign in." if req.query.get("registered") else ""
    next_path = _safe_next(req.query.get("next", "/notes"))
    return html_response(200, pages.login_page(session.csrf, next_path, [], notice), *cookies)


def login(app: App, req: Request, params: dict[str, str]) -> Response:
    checked = _checked_form(app, req)
    if isinstance(checked, Response):
        return checked
    session, form = checked
    username, password = form.get("username", ""), form.get("password", "")
    user = app.db(lambda c: store.user_by_name(c, username))
    next_path = _safe_next(form.get("next", "/notes"))
    if user is None or not verify_password(password, user.password_hash):
        errors = ["Please enter a correct username and password."]
        return html_response(200, pages.login_page(session.csrf, next_path, errors))
    fresh = app.db(lambda c: store.start_session(c, user, replaces=session.id))
    return redirect(next_path, set_cookie(fresh.id))


def signup_form(app: App, req: Request, params: dict[str, str]) -> Response:
    session, cookies = _anonymous(app, req)
    return html_response(200, pages.signup_page(session.csrf, []), *cookies)


def signup(app: App, req: Request, params: dict[str, str]) -> Response:
    checked = _checked_form(app, req)
    if isinstance(checked, Response):
        return checked
    session, form = checked
    username, email = form.get("username", ""), form.get("email", "")
    password = form.get("password", "")
    errors = validate_account(username, email, password)
    if not errors:
        stored = hash_password(password)
        result = app.db(lambda c: store.create_user(c, username, email, stored))
        if not isinstance(result, store.Refused):
            return redirect("/login?registered=1")
        errors = {result.field: [result.message]}
    messages = [f"{field}: {m}" for field, ms in errors.items() for m in ms]
    return html_response(200, pages.signup_page(session.csrf, messages))


def logout(app: App, req: Request, params: dict[str, str]) -> Response:
    checked = _checked_form(app, req)
    if isinstance(checked, Response):
        return checked
    session, _ = checked
    app.db(lambda c: store.end_session(c, session.id))
    return redirect("/login", clear_cookie())


def notes(app: App, req: Request, params: dict[str, str]) -> Response:
    session = _login_required(app, req)
    if isinstance(session, Response):
        return session
    user = session.user
    assert user is not None
    mine = app.db(lambda c: store.list_notes(c, user.username, 50))
    return html_response(200, pages.notes_page(user.username, session.csrf, mine))


def create_note(app: App, req: Request, params: dict[str, str]) -> Response:
    session = _login_required(app, req)
    if isinstance(session, Response):
        return session
    checked = _checked_form(app, req)
    if isinstance(checked, Response):
        return checked
    user, form = session.user, checked[1]
    assert user is not None
    title = form.get("title", "").strip()[:200] or "Untitled"
    note = app.db(lambda c: store.create_note(c, user, title, form.get("body", "")))
    return redirect(f"/notes/{note.slug}")


def note(app: App, req: Request, params: dict[str, str]) -> Response:
    session = _login_required(app, req)
    if isinstance(session, Response):
        return session
    slug, user = params["slug"], session.user
    assert user is not None
    found = app.db(lambda c: store.get_note(c, slug))
    comments = app.db(lambda c: store.list_comments(c, slug)) if found else None
    if found is None or comments is None:
        return html_response(404, pages.message_page("Not found", f"No note {slug!r}."))
    return html_response(200, pages.note_page(user.username, session.csrf, found, comments))


def comment(app: App, req: Request, params: dict[str, str]) -> Response:
    session = _login_required(app, req)
    if isinstance(session, Response):
        return session
    checked = _checked_form(app, req)
    if isinstance(checked, Response):
        return checked
    user, slug = session.user, params["slug"]
    assert user is not None
    text = checked[1].get("body", "").strip() or "(empty)"
    result = app.db(lambda c: store.add_comment(c, slug, user, text))
    if isinstance(result, store.Refused):
        return html_response(result.status, pages.message_page("Not found", result.message))
    return redirect(f"/notes/{slug}")


def delete_note(app: App, req: Request, params: dict[str, str]) -> Response:
    session = _login_required(app, req)
    if isinstance(session, Response):
        return session
    checked = _checked_form(app, req)
    if isinstance(checked, Response):
        return checked
    user = session.user
    assert user is not None
    refused = app.db(lambda c: store.delete_note(c, params["slug"], user))
    if refused is not None:
        return html_response(refused.status, pages.message_page("Refused", refused.message))
    return redirect("/notes")
