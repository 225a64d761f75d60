"""The route of a replayed redirect's ``Location``, named as the capture names its routes.

The fidelity check (:mod:`harness.analysis.fidelity`) compares a replayed redirect's target with
the captured one: a 302 to the login page is not the captured 302 to the list. The import wrote
the captured side (``orig_location_route``); the replay writes ``location_route`` with this
module: the ``Location`` resolved against the request's path, its path matched against the
capture's own routes (the ``route`` and ``orig_location_route`` templates, learned ones like
``/notes/{id}`` included), else turned into a route by the shapes of ids as the import does.

>>> routes = LocationRoutes(["/notes/{id}", "/notes/", "/login/"])
>>> routes.route("/notes/hello-3fa9c2", "/notes/add/")
'/notes/{id}'
>>> routes.route("http://127.0.0.1:8001/login/?next=/notes/add/", "/notes/add/")
'/login/'
>>> routes.route("../../", "/notes/7/delete/"), routes.route("/users/42", "/")
('/notes/', '/users/{id}')
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

from harness.capture.routes import RouteTemplater, RouteTemplates

#: a Location path with more segments (or characters) than this is matched by shape only
_MAX_SEGMENTS = 64
_MAX_LENGTH = 4096


class LocationRoutes:
    """Routes of ``Location`` values, from the capture's route templates."""

    def __init__(self, templates: Iterable[str | None]) -> None:
        known = sorted({t for t in templates if t and t.startswith("/")})
        self._templates = RouteTemplates(known)
        self._shapes = RouteTemplater()

    def route(self, location: str, request_path: str) -> str | None:
        """The route of ``location`` (relative to ``request_path``); None when it has none."""
        location = location.strip()
        if not location or len(location) > _MAX_LENGTH:
            return None
        try:
            path = urlsplit(urljoin(request_path, location)).path or "/"
        except ValueError:
            return None
        if path.count("/") <= _MAX_SEGMENTS:
            found = self._templates.match(path)
            if found is not None:
                return found
        return self._shapes.route(path)


def location_of(status: int, headers: Iterable[tuple[str, str]]) -> str | None:
    """The ``Location`` of a redirect answer (None for any other answer, or without one)."""
    if not 300 <= status < 400:
        return None
    for name, value in headers:
        if name.lower() == "location":
            return value
    return None
