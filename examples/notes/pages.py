"""The HTML pages of the notes service (server-rendered; every form carries the CSRF token)."""

from __future__ import annotations

from html import escape

from .store import Comment, Note


def _page(title: str, body: str, user: str | None = None) -> str:
    who = f'<p class="who">Signed in as {escape(user)}</p>' if user else ""
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)} - notes</title></head>\n<body>\n<h1>{escape(title)}</h1>\n"
        f"{who}{body}\n</body></html>\n"
    )


def _csrf(token: str) -> str:
    return f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(token)}">'


def _errors(errors: list[str]) -> str:
    if not errors:
        return ""
    items = "".join(f"<li>{escape(e)}</li>" for e in errors)
    return f'<ul class="errors">{items}</ul>\n'


def login_page(csrf: str, next_path: str, errors: list[str], notice: str = "") -> str:
    note = f'<p class="notice">{escape(notice)}</p>\n' if notice else ""
    form = (
        f'{note}{_errors(errors)}<form method="post" action="/login">{_csrf(csrf)}'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<label>Username <input name="username" required></label>'
        '<label>Password <input type="password" name="password" required></label>'
        '<button type="submit">Sign in</button></form>\n<p><a href="/signup">Sign up</a></p>'
    )
    return _page("Sign in", form)


def signup_page(csrf: str, errors: list[str]) -> str:
    form = (
        f'{_errors(errors)}<form method="post" action="/signup">{_csrf(csrf)}'
        '<label>Username <input name="username" required></label>'
        '<label>E-mail <input type="email" name="email" required></label>'
        '<label>Password <input type="password" name="password" required></label>'
        '<button type="submit">Sign up</button></form>'
    )
    return _page("Sign up", form)


def notes_page(user: str, csrf: str, notes: list[Note]) -> str:
    items = "".join(
        f'<li><a href="/notes/{escape(n.slug)}">{escape(n.title)}</a></li>' for n in notes
    )
    body = (
        f'<ul class="notes">{items}</ul>\n'
        f'<form method="post" action="/notes">{_csrf(csrf)}'
        '<label>Title <input name="title" required></label>'
        '<label>Text <textarea name="body"></textarea></label>'
        '<button type="submit">Add note</button></form>\n'
        f'<form method="post" action="/logout">{_csrf(csrf)}<button>Sign out</button></form>'
    )
    return _page("Your notes", body, user)


def note_page(user: str, csrf: str, note: Note, comments: list[Comment]) -> str:
    slug = escape(note.slug)
    items = "".join(
        f'<li id="comment-{c.id}"><b>{escape(c.author)}</b>: {escape(c.body)}</li>'
        for c in comments
    )
    body = (
        f'<p class="by">by {escape(note.author)}</p>\n<div class="text">{escape(note.body)}</div>\n'
        f'<ul class="comments">{items}</ul>\n'
        f'<form method="post" action="/notes/{slug}/comments">{_csrf(csrf)}'
        '<label>Comment <textarea name="body" required></textarea></label>'
        '<button type="submit">Comment</button></form>\n'
        f'<form method="post" action="/notes/{slug}/delete">{_csrf(csrf)}'
        '<button type="submit">Delete note</button></form>\n<p><a href="/notes">All notes</a></p>'
    )
    return _page(note.title, body, user)


def message_page(title: str, text: str) -> str:
    """A plain page for 403 (CSRF), 404 and errors."""
    return _page(title, f"<p>{escape(text)}</p>")
