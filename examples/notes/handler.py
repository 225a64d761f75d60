"""Bytes in, bytes out: one framed request through the route table of the notes service.

The payments server (:mod:`examples.payments.server`) frames requests and hands each one to
:func:`timed_answer` on a worker thread; ``http.server.BaseHTTPRequestHandler`` parses it, the
route's function answers, and a database the build gave up on becomes 503 with ``Retry-After``.
"""

from __future__ import annotations

import io
import logging
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeVar

from ..payments.metrics import Metrics
from ..payments.pool import DatabaseUnavailable
from ..payments.resilience import DatabaseCaller
from . import api, web
from .routing import BadInput, Request, Response, Route, find, json_response, route

log = logging.getLogger("notes.http")

T = TypeVar("T")


@dataclass(frozen=True)
class App:
    """What every route needs: the build's database caller, metrics and the token secret."""

    variant: str
    caller: DatabaseCaller
    metrics: Metrics
    secret: str
    access_log: bool = False

    def db(self, work: Callable[[Any], T]) -> T:
        """Run ``work(connection)`` under the build's retry policy."""
        return self.caller.run(work)


def _health(app: App, req: Request, params: dict[str, str]) -> Response:
    return Response(200, b"ok\n", "text/plain; charset=utf-8")


def _metrics(app: App, req: Request, params: dict[str, str]) -> Response:
    return Response(200, app.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")


ROUTES: list[Route] = [
    route("GET", "/health", _health),
    route("GET", "/metrics", _metrics),
    route("GET", "/api/tags", api.tags),
    route("POST", "/api/users", api.register),
    route("POST", "/api/users/login", api.login),
    route("GET", "/api/user", api.current_user),
    route("GET", "/api/notes", api.list_notes),
    route("POST", "/api/notes", api.create_note),
    route("GET", "/api/notes/{slug}", api.get_note),
    route("PUT", "/api/notes/{slug}", api.update_note),
    route("DELETE", "/api/notes/{slug}", api.delete_note),
    route("GET", "/api/notes/{slug}/comments", api.list_comments),
    route("POST", "/api/notes/{slug}/comments", api.add_comment),
    route("DELETE", "/api/notes/{slug}/comments/{id}", api.delete_comment),
    route("GET", "/", web.index),
    route("GET", "/login", web.login_form),
    route("POST", "/login", web.login),
    route("GET", "/signup", web.signup_form),
    route("POST", "/signup", web.signup),
    route("POST", "/logout", web.logout),
    route("GET", "/notes", web.notes),
    route("POST", "/notes", web.create_note),
    route("GET", "/notes/{slug}", web.note),
    route("POST", "/notes/{slug}/comments", web.comment),
    route("POST", "/notes/{slug}/delete", web.delete_note),
]


class NotesHandler(BaseHTTPRequestHandler):
    """Answers one framed request; :meth:`answer` returns the bytes to send."""

    protocol_version = "HTTP/1.1"
    server_version = "notes"
    sys_version = ""

    def __init__(
        self, raw: bytes, client_address: tuple[str, int], app: App, *, overloaded: bool = False
    ) -> None:
        # Not calling the base __init__ on purpose: it would read from a socket and loop over
        # keep-alive requests, while the server hands us exactly one framed request.
        self.app = app
        self.client_address = client_address
        self.rfile = io.BytesIO(raw)
        self._out = io.BytesIO()
        self.wfile = self._out
        self.close_connection = True
        self.route = "other"
        self.status = 0
        self.overloaded = overloaded

    def answer(self) -> tuple[bytes, bool]:
        """Handle the request: the response bytes, and whether to close the connection."""
        self.handle_one_request()
        return self._out.getvalue(), self.close_connection

    def _dispatch(self) -> None:
        target = urllib.parse.urlsplit(self.path)
        found = find(ROUTES, self.command, target.path)
        if isinstance(found, int):
            self._write(json_response(found, {"errors": {"route": [f"no route {target.path}"]}}))
            return
        chosen, params = found
        self.route = chosen.template
        if self.overloaded:
            body = {"errors": {"server": ["overloaded"]}, "reason": "queue_full"}
            self._write(json_response(503, body, ("Retry-After", "1")))
            return
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=target.path,
            query=dict(urllib.parse.parse_qsl(target.query, keep_blank_values=True)),
            headers=self.headers,
            body=self.rfile.read(length),
        )
        try:
            response = chosen.handler(self.app, request, params)
        except BadInput as exc:
            response = json_response(400, {"errors": {"request": [str(exc)]}})
        except DatabaseUnavailable as exc:
            body = {"errors": {"database": ["unavailable"]}, "reason": exc.reason}
            response = json_response(503, body, ("Retry-After", "1"))
        self._write(response)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        if response.status != 204:
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and response.status != 204:
            self.wfile.write(response.body)

    def send_response(self, code: int, message: str | None = None) -> None:
        self.status = code
        super().send_response(code, message)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.app.access_log:
            log.info('%s "%s" %s', self.client_address[0], self.requestline, code)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.client_address[0], format % args)


def timed_answer(
    raw: bytes, client: tuple[str, int], app: App, received: float, *, overloaded: bool = False
) -> tuple[bytes, bool]:
    """Answer one request and record it in the metrics (latency counted from ``received``)."""
    handler = NotesHandler(raw, client, app, overloaded=overloaded)
    data, close = handler.answer()
    app.metrics.requests.labels(route=handler.route, status=str(handler.status)).inc()
    app.metrics.latency.labels(route=handler.route).observe(time.monotonic() - received)
    return data, close
