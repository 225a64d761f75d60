"""Route templates stay low-cardinality."""

from __future__ import annotations

import pytest

from harness.capture.config import RouteRule, RoutesConfig
from harness.capture.routes import RouteTemplater


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/payments/123", "/payments/{id}"),
        ("/payments/123/refund?x=1", "/payments/{id}/refund"),
        ("/payments/8f14e45f-ceea-4671-a5cb-0b0a3e4c5d6a", "/payments/{id}"),
        ("/blobs/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "/blobs/{id}"),
        ("/commits/a1b2c3d4", "/commits/{id}"),
        ("/invoices/42.pdf", "/invoices/{id}.pdf"),
        ("/products/datadog-tote", "/products/datadog-tote"),
        ("/health", "/health"),
        ("/", "/"),
        ("/v2/cart", "/v2/cart"),
        ("/t/Ab3dEf9hIjKlMnOpQrStUv", "/t/{id}"),
        ("/deadbeef", "/deadbeef"),
    ],
)
def test_default_templates(path: str, route: str) -> None:
    assert RouteTemplater().route(path) == route


def test_configured_rules_come_first() -> None:
    config = RoutesConfig(
        rules=[RouteRule(pattern=r"/users/[^/]+/avatar", route="/users/{user}/avatar")]
    )
    templater = RouteTemplater(config)
    assert templater.route("/users/alice/avatar?size=2") == "/users/{user}/avatar"
    assert templater.route("/users/7") == "/users/{id}"


def test_placeholder_is_configurable() -> None:
    assert RouteTemplater(RoutesConfig(placeholder=":id")).route("/a/1") == "/a/:id"


def test_many_distinct_paths_give_one_route() -> None:
    templater = RouteTemplater()
    routes = {templater.route(f"/payments/{i}") for i in range(70_000)}
    assert routes == {"/payments/{id}"}


def test_emails_and_jwts_are_never_part_of_a_route() -> None:
    templater = RouteTemplater()
    assert templater.route("/users/ann.lee@acme.io/profile") == "/users/{id}/profile"
    assert templater.route("/users/ann%40acme.io") == "/users/{id}"
    assert templater.route("/magic/eyJhbGci.eyJzdWIi.c2ln") == "/magic/{id}"
    assert templater.route("/contact@home") == "/contact@home"  # no domain: not an address
