"""Requests, responses and the route table of the notes service (no sockets, no database).

A route is ``(method, path pattern, route template, function)``; the function takes the
service's :class:`App` context, the :class:`Request` and the path parameters and returns a
:class:`Response`. :mod:`.handler` turns raw bytes into a request and a response into bytes.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .handler import App


class BadInput(Exception):
    """The request cannot be served as sent (answered 400 with this message)."""


@dataclass(frozen=True)
class Request:
    """One parsed request: path without query, query fields, headers, body."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes

    def cookie(self, name: str) -> str | None:
        """The value of cookie ``name`` in the ``Cookie`` header, or None."""
        for header in self.headers.get_all("Cookie") or []:
            for part in str(header).split(";"):
                key, sep, value = part.strip().partition("=")
                if sep and key == name:
                    return value
        return None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; :class:`BadInput` when it is not one."""
        try:
            data = json.loads(self.body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(f"body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadInput("body must be a JSON object")
        return data

    def form(self) -> dict[str, str]:
        """The fields of an ``application/x-www-form-urlencoded`` body (last value wins)."""
        try:
            text = self.body.decode()
        except UnicodeDecodeError:
            raise BadInput("form body is not UTF-8") from None
        return dict(urllib.parse.parse_qsl(text, keep_blank_values=True))


@dataclass
class Response:
    """What to answer: status, body, content type and extra headers (``Set-Cookie`` included)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, body: object, *headers: tuple[str, str]) -> Response:
    data = json.dumps(body, separators=(",", ":")).encode() + b"\n"
    return Response(status, data, "application/json", list(headers))


def html_response(status: int, page: str, *headers: tuple[str, str]) -> Response:
    return Response(status, page.encode(), "text/html; charset=utf-8", list(headers))


def redirect(location: str, *headers: tuple[str, str]) -> Response:
    """A 302 to ``location`` (a path on this service)."""
    return Response(302, b"", "text/html; charset=utf-8", [("Location", location), *headers])


Handler = Callable[["App", Request, dict[str, str]], Response]


@dataclass(frozen=True)
class Route:
    """``GET /api/notes/{slug}`` -> ``handler``; ``template`` names the route in metrics."""

    method: str
    template: str
    handler: Handler
    pattern: re.Pattern[str]


def route(method: str, template: str, handler: Handler) -> Route:
    """A route from a template whose ``{name}`` parts match one path segment."""
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return Route(method, template, handler, re.compile(regex))


def find(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | int:
    """The route and its parameters, or 404 (no such path) / 405 (path without that method)."""
    allowed = False
    for candidate in routes:
        match = candidate.pattern.fullmatch(path)
        if match is None:
            continue
        if candidate.method == method or (method == "HEAD" and candidate.method == "GET"):
            params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
            return candidate, params
        allowed = True
    return 405 if allowed else 404
