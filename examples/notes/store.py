"""The notes data: SQL for users, web sessions, notes and comments (schema in ``schema.sql``).

Every function takes a connection from the pool (autocommit; writes that touch several rows run
in one transaction) and returns plain dataclasses, or :class:`Refused` with the HTTP status when
the data says no.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg

Conn = psycopg.Connection[Any]

SESSION_TTL = dt.timedelta(days=14)
_SLUG_CHARS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Refused:
    """What the data refused: ``status`` is the HTTP status to answer, ``field`` what was wrong."""

    status: int
    field: str
    message: str


@dataclass(frozen=True)
class User:
    """A registered user (the password hash stays inside the store and auth modules)."""

    id: int
    username: str
    email: str
    password_hash: str

    def to_json(self) -> dict[str, object]:
        return {"username": self.username, "email": self.email}


@dataclass(frozen=True)
class Session:
    """A web session: anonymous while ``user`` is None; ``csrf`` must come back with forms."""

    id: str
    user: User | None
    csrf: str


@dataclass(frozen=True)
class Note:
    """A note; ``slug`` is assigned by the server (title words plus a random suffix)."""

    id: int
    slug: str
    author: str
    title: str
    body: str
    created_at: dt.datetime
    updated_at: dt.datetime

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "slug": self.slug,
            "author": self.author,
            "title": self.title,
            "body": self.body,
            "createdAt": self.created_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class Comment:
    """A comment on a note; ``id`` is assigned by the database."""

    id: int
    author: str
    body: str
    created_at: dt.datetime

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "author": self.author,
            "body": self.body,
            "createdAt": self.created_at.isoformat(),
        }


_USER = "SELECT id, username, email, password_hash FROM users"
_NOTE = (
    "SELECT n.id, n.slug, u.username, n.title, n.body, n.created_at, n.updated_at"
    " FROM notes n JOIN users u ON u.id = n.author_id"
)


def _user(row: Any) -> User:
    return User(int(row[0]), str(row[1]), str(row[2]), str(row[3]))


def _note(row: Any) -> Note:
    return Note(int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), row[5], row[6])


def slugify(title: str) -> str:
    """``"Hello, World!"`` -> ``"hello-world-3fa9c2"``: words of the title and a random suffix."""
    words = _SLUG_CHARS.sub("-", title.lower()).strip("-")[:40].strip("-") or "note"
    return f"{words}-{secrets.token_hex(3)}"


# --- users -----------------------------------------------------------------------------------
def create_user(conn: Conn, username: str, email: str, password_hash: str) -> User | Refused:
    """Register a user; 422 when the username or e-mail is taken."""
    row = conn.execute(
        "INSERT INTO users (username, email, password_hash) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING id",
        (username, email, password_hash),
    ).fetchone()
    if row is None:
        taken = conn.execute("SELECT 1 FROM users WHERE username = %s", (username,)).fetchone()
        field = "username" if taken else "email"
        return Refused(422, field, "has already been taken")
    return User(int(row[0]), username, email, password_hash)


def user_by_email(conn: Conn, email: str) -> User | None:
    row = conn.execute(_USER + " WHERE email = %s", (email,)).fetchone()
    return None if row is None else _user(row)


def user_by_name(conn: Conn, username: str) -> User | None:
    row = conn.execute(_USER + " WHERE username = %s", (username,)).fetchone()
    return None if row is None else _user(row)


def user_by_id(conn: Conn, user_id: int) -> User | None:
    row = conn.execute(_USER + " WHERE id = %s", (user_id,)).fetchone()
    return None if row is None else _user(row)


# --- web sessions ----------------------------------------------------------------------------
def get_session(conn: Conn, session_id: str) -> Session | None:
    """The unexpired session with this id (and its user), or None."""
    row = conn.execute(
        "SELECT s.id, s.csrf, u.id, u.username, u.email, u.password_hash FROM sessions s"
        " LEFT JOIN users u ON u.id = s.user_id WHERE s.id = %s AND s.expires_at > now()",
        (session_id,),
    ).fetchone()
    if row is None:
        return None
    user = None if row[2] is None else _user(row[2:])
    return Session(str(row[0]), user, str(row[1]))


def start_session(conn: Conn, user: User | None, *, replaces: str | None = None) -> Session:
    """A new session (new id and CSRF token), replacing the session ``replaces`` if given."""
    session = Session(secrets.token_urlsafe(24), user, secrets.token_urlsafe(24))
    with conn.transaction():
        if replaces is not None:
            conn.execute("DELETE FROM sessions WHERE id = %s", (replaces,))
        conn.execute(
            "INSERT INTO sessions (id, user_id, csrf, expires_at) VALUES (%s, %s, %s, now() + %s)",
            (session.id, user.id if user else None, session.csrf, SESSION_TTL),
        )
    return session


def end_session(conn: Conn, session_id: str) -> None:
    conn.execute("DELETE FROM sessions WHERE id = %s", (session_id,))


# --- notes -----------------------------------------------------------------------------------
def create_note(conn: Conn, author: User, title: str, body: str) -> Note:
    row = conn.execute(
        "INSERT INTO notes (slug, author_id, title, body) VALUES (%s, %s, %s, %s)"
        " RETURNING id, slug, %s::text, title, body, created_at, updated_at",
        (slugify(title), author.id, title, body, author.username),
    ).fetchone()
    return _note(row)


def get_note(conn: Conn, slug: str) -> Note | None:
    row = conn.execute(_NOTE + " WHERE n.slug = %s", (slug,)).fetchone()
    return None if row is None else _note(row)


def list_notes(conn: Conn, author: str | None, limit: int) -> list[Note]:
    """The newest notes, of one author when ``author`` is given."""
    if author is None:
        rows = conn.execute(_NOTE + " ORDER BY n.id DESC LIMIT %s", (limit,)).fetchall()
    else:
        rows = conn.execute(
            _NOTE + " WHERE u.username = %s ORDER BY n.id DESC LIMIT %s", (author, limit)
        ).fetchall()
    return [_note(r) for r in rows]


def _owned(conn: Conn, slug: str, author: User) -> int | Refused:
    row = conn.execute("SELECT id, author_id FROM notes WHERE slug = %s", (slug,)).fetchone()
    if row is None:
        return Refused(404, "note", f"note {slug!r} not found")
    if int(row[1]) != author.id:
        return Refused(403, "note", "only the author may change a note")
    return int(row[0])


def update_note(conn: Conn, slug: str, author: User, title: str, body: str) -> Note | Refused:
    with conn.transaction():
        owned = _owned(conn, slug, author)
        if isinstance(owned, Refused):
            return owned
        conn.execute(
            "UPDATE notes SET title = %s, body = %s, updated_at = now() WHERE id = %s",
            (title, body, owned),
        )
    note = get_note(conn, slug)
    assert note is not None
    return note


def delete_note(conn: Conn, slug: str, author: User) -> Refused | None:
    with conn.transaction():
        owned = _owned(conn, slug, author)
        if isinstance(owned, Refused):
            return owned
        conn.execute("DELETE FROM notes WHERE id = %s", (owned,))
    return None


# --- comments --------------------------------------------------------------------------------
def add_comment(conn: Conn, slug: str, author: User, body: str) -> Comment | Refused:
    row = conn.execute(
        "INSERT INTO comments (note_id, author_id, body)"
        " SELECT id, %s, %s FROM notes WHERE slug = %s RETURNING id, created_at",
        (author.id, body, slug),
    ).fetchone()
    if row is None:
        return Refused(404, "note", f"note {slug!r} not found")
    return Comment(int(row[0]), author.username, body, row[1])


def list_comments(conn: Conn, slug: str) -> list[Comment] | None:
    """The comments of a note, oldest first; None when the note does not exist."""
    note = conn.execute("SELECT id FROM notes WHERE slug = %s", (slug,)).fetchone()
    if note is None:
        return None
    rows = conn.execute(
        "SELECT c.id, u.username, c.body, c.created_at FROM comments c"
        " JOIN users u ON u.id = c.author_id WHERE c.note_id = %s ORDER BY c.id",
        (note[0],),
    ).fetchall()
    return [Comment(int(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]


def delete_comment(conn: Conn, slug: str, comment_id: int, author: User) -> Refused | None:
    row = conn.execute(
        "SELECT c.author_id FROM comments c JOIN notes n ON n.id = c.note_id"
        " WHERE n.slug = %s AND c.id = %s",
        (slug, comment_id),
    ).fetchone()
    if row is None:
        return Refused(404, "comment", f"comment {comment_id} not found")
    if int(row[0]) != author.id:
        return Refused(403, "comment", "only the author may delete a comment")
    conn.execute("DELETE FROM comments WHERE id = %s", (comment_id,))
    return None
