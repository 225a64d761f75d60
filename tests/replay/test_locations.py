"""Routes of replayed redirects' Location, in the capture's own route names."""

from __future__ import annotations

from harness.replay.locations import LocationRoutes, location_of

ROUTES = LocationRoutes(["/notes/{id}", "/notes/", "/login/", "/api/profiles/{id}/follow", None])


def test_a_location_takes_the_capture_route_it_matches() -> None:
    assert ROUTES.route("/notes/hello-world-3fa9c2", "/notes/add/") == "/notes/{id}"
    assert ROUTES.route("/notes/", "/notes/add/") == "/notes/"
    assert ROUTES.route("/api/profiles/celeb_x/follow", "/") == "/api/profiles/{id}/follow"


def test_absolute_and_relative_locations_resolve_against_the_request() -> None:
    assert ROUTES.route("http://127.0.0.1:8001/login/?next=/notes/add/", "/notes/add/") == "/login/"
    assert ROUTES.route("https://staging.example/notes/", "/x") == "/notes/"
    assert ROUTES.route("../../", "/notes/7/delete/") == "/notes/"
    assert ROUTES.route("?page=2", "/notes/") == "/notes/"


def test_a_location_no_capture_route_matches_is_named_by_the_shapes_of_ids() -> None:
    assert ROUTES.route("/users/42/orders/7f3e9a1c2b", "/") == "/users/{id}/orders/{id}"
    assert ROUTES.route("/elsewhere/", "/") == "/elsewhere/"


def test_odd_locations_have_no_route_or_a_bounded_one() -> None:
    assert ROUTES.route("", "/") is None
    assert ROUTES.route("   ", "/") is None
    assert ROUTES.route("http://[::1/x", "/") is None  # not a URL
    assert ROUTES.route("/" + "a/" * 3000, "/") is None  # longer than any real Location
    deep = "/x" * 500  # many segments: matched by shape only, never recursing per segment
    assert ROUTES.route(deep, "/") == deep


def test_only_redirects_have_a_location() -> None:
    headers = [("Content-Type", "text/html"), ("location", "/notes/")]
    assert location_of(302, headers) == "/notes/"
    assert location_of(301, headers) == "/notes/"
    assert location_of(201, headers) is None  # a created resource's Location is not a redirect
    assert location_of(302, [("Content-Type", "text/html")]) is None
