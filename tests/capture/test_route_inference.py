"""Routes inferred on every capture of the repository, against the endpoints each really has.

Each recording is imported as a user would (defaults: shapes, then parameters learned from the
whole capture) and its set of routes must be exactly the expected one: no route per user, per
note or per id, and no two real endpoints merged. The expected sets come from the services'
own route tables (examples/notes/README.md, examples/payments) or, for the third-party
fixtures, from reading their paths.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.capture.config import CaptureConfig, RoutesConfig
from harness.capture.ingest import import_capture
from harness.capture.store import capture_metadata, read_capture

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "capture" / "data"

NOTES = {
    "/api/users",
    "/api/users/login",
    "/api/user",
    "/api/notes",
    "/api/notes/{id}",
    "/api/notes/{id}/comments",
    "/api/notes/{id}/comments/{id}",
    "/api/tags",
    "/health",
    "/signup",
    "/login",
    "/logout",
    "/notes",
    "/notes/{id}",
    "/notes/{id}/comments",
    "/notes/{id}/delete",
}
PAYMENTS = {"/accounts/{id}/balance", "/catalog", "/health", "/payments", "/payments/{id}"}
# 101 requests of a Rails shop: six products seen (fewer than min_distinct, so each keeps its
# route; see test_a_lower_threshold_merges_the_products), static files, cart and API calls
DATADOG = {
    "/",
    "/api/v2/storefront/cart/add_item",
    "/api_tokens",
    "/assets/glyphicons-halflings-regular.woff",
    "/assets/{id}.ico",
    "/cart",
    "/cart_link",
    "/favicon.ico",
    "/products",
    "/products/datadog-ringer-t-shirt",
    "/products/datadog-stein",
    "/products/datadog-tote",
    "/products/monitoring-stein",
    "/products/spree-bag",
    "/products/spree-tote",
    "/t/categories",
    "/t/mugs",
}
FIREFOX = {
    "/",
    "/clipboard.min.js",
    "/data/github-stats.json",
    "/favicon.ico",
    "/github-btn.html",
    "/logo-navbar.png",
    "/mitmweb.png",
    "/polyfills.js",
    "/screenshot.png",
    "/snapshots.js",
    "/snapshots.mitmproxy.org",
    "/sponsors/netograph.svg",
    "/sponsors/proxyman.png",
}

EXPECTED: dict[str, set[str]] = {
    "captures/notes-demo.mitm": NOTES,
    "captures/notes-demo.gor": NOTES,
    "captures/payments-demo.mitm": PAYMENTS,
    "captures/payments-demo.gor": PAYMENTS,
    "tests/capture/data/datadog-ecommerce-requests_0.gor": DATADOG,
    "tests/capture/data/firefox.har": FIREFOX,
    "tests/capture/data/chrome.har": {"/", "/images/branding/googlelogo/2x/{id}.png"},
    "tests/capture/data/head-content-length.har": {
        "/packages/{id}/e5/{id}/tqdm-4.66.1-py3-none-any.whl"
    },
    "tests/capture/data/flows-successful_log.mitm": {"/", "/post"},
    "tests/capture/data/flows-websocket.mitm": {"/v3/channel_123"},
    "tests/capture/data/dumpfile-019.mitm": {"/webrv-at"},
    "tests/capture/data/postdata.har": {"/metrics"},
    "tests/capture/data/with-bom.har": {"/metrics"},
    **{
        f"tests/capture/data/{name}": {"/"}
        for name in (
            "charles.har",
            "insomnia.har",
            "dumpfile-011.mitm",
            "dumpfile-018.mitm",
            "dumpfile-10.mitm",
            "dumpfile-19.mitm",
            "dumpfile-7.mitm",
            "dumpfile-7-websocket.mitm",
            "flows-corrupted_gzip_body.mitm",
            "flows-incomplete_log.mitm",
        )
    },
}


def _routes(source: Path, out: Path, config: CaptureConfig | None = None) -> set[str]:
    import_capture([source], out, config=config)
    return set(read_capture(out, ["route"]).column("route").to_pylist())


def test_every_capture_of_the_repository_is_listed() -> None:
    sources = {
        p.relative_to(ROOT).as_posix()
        for pattern in ("captures/*.gor", "captures/*.mitm", "tests/capture/data/*.*")
        for p in ROOT.glob(pattern)
        if p.suffix in (".gor", ".mitm", ".har")
    }
    unreadable = {"tests/capture/data/dumpfile-010.mitm"}  # refused by mitmproxy, tested there
    assert sources - unreadable == set(EXPECTED)


@pytest.mark.parametrize("source", sorted(EXPECTED))
def test_inferred_routes_are_the_endpoints(source: str, tmp_path: Path) -> None:
    assert _routes(ROOT / source, tmp_path / "c.capture.parquet") == EXPECTED[source]


def test_notes_learned_the_seeded_slugs(tmp_path: Path) -> None:
    out = tmp_path / "c.capture.parquet"
    _routes(ROOT / "captures" / "notes-demo.mitm", out)
    (learned,) = capture_metadata(out).learned_routes
    assert learned.template == "/api/notes/{id}"
    assert learned.distinct >= 40  # welcome-note-001 ... read by anonymous readers
    assert learned.kept == []


def test_a_lower_threshold_merges_the_products(tmp_path: Path) -> None:
    config = CaptureConfig(routes=RoutesConfig(min_distinct=5))
    routes = _routes(DATA / "datadog-ecommerce-requests_0.gor", tmp_path / "c.parquet", config)
    assert {r for r in routes if r.startswith("/products/")} == {"/products/{id}"}
    assert {"/t/categories", "/t/mugs", "/cart", "/cart_link"} <= routes
