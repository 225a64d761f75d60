"""Route parameters learned from the capture: many values become one route, endpoints stay."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from harness.capture.config import RoutesConfig
from harness.capture.record import Exchange
from harness.capture.routelearn import RouteLearner
from harness.capture.routes import RouteTemplater
from harness.capture.store import (
    CaptureMetadata,
    CaptureWriter,
    Counts,
    RedactionReport,
    read_capture,
)

CONDUIT_ROUTES = {
    "/api/articles",
    "/api/articles/feed",
    "/api/articles/{id}",
    "/api/articles/{id}/comments",
    "/api/articles/{id}/comments/{id}",
    "/api/articles/{id}/favorite",
    "/api/profiles/{id}",
    "/api/profiles/{id}/follow",
    "/api/tags",
    "/api/user",
    "/api/users",
    "/api/users/login",
}


def conduit_paths(n: int = 3000, seed: int = 7) -> list[str]:
    """Traffic shaped like the RealWorld (Conduit) API: 110 users, 107 article slugs (20 of
    them long enough to be ids by their shape)."""
    rng = random.Random(seed)
    users = [f"{rng.choice(['jake', 'anna', 'li', 'omar', 'sofia'])}{i}" for i in range(110)]
    words = ["how", "to", "train", "your", "dragon", "welcome", "tips", "rust", "go", "day"]
    slugs = sorted({"-".join(rng.sample(words, rng.randint(1, 4))) for _ in range(400)})[:87]
    slugs += [f"release-notes-{i}-{rng.randint(10**6, 10**7)}-final" for i in range(20)]
    paths = []
    for _ in range(n):
        roll = rng.random()
        user, slug = rng.choice(users), rng.choice(slugs)
        if roll < 0.20:
            paths.append("/api/articles/feed?limit=10&offset=0")
        elif roll < 0.35:
            paths.append("/api/articles?limit=10")
        elif roll < 0.50:
            paths.append(f"/api/articles/{slug}")
        elif roll < 0.60:
            paths.append(f"/api/articles/{slug}/comments")
        elif roll < 0.63:
            paths.append(f"/api/articles/{slug}/comments/{rng.randint(1, 900)}")
        elif roll < 0.66:
            paths.append(f"/api/articles/{slug}/favorite")
        elif roll < 0.76:
            paths.append(f"/api/profiles/{user}")
        elif roll < 0.80:
            paths.append(f"/api/profiles/{user}/follow")
        elif roll < 0.90:
            paths.append("/api/tags")
        elif roll < 0.96:
            paths.append("/api/user")
        elif roll < 0.98:
            paths.append("/api/users/login")
        else:
            paths.append("/api/users")
    return paths


def _learn(paths: list[str], config: RoutesConfig | None = None) -> list[str]:
    config = config or RoutesConfig()
    templater = RouteTemplater(config)
    learner = RouteLearner(config, pinned=templater.pinned)
    shaped = pa.array([templater.route(p) for p in paths], pa.string())
    learner.observe(shaped)
    return learner.apply(shaped, final=True).to_pylist()  # type: ignore[no-any-return]


def test_conduit_routes_are_the_apis() -> None:
    paths = conduit_paths()
    shaped = {RouteTemplater().route(p) for p in paths}
    assert len(shaped) > 150  # one route per user and per article without learning
    assert set(_learn(paths)) == CONDUIT_ROUTES


def test_learning_can_be_switched_off_and_tuned() -> None:
    paths = conduit_paths()
    assert len(set(_learn(paths, RoutesConfig(learn=False)))) > 150
    # with a threshold above the 110 users and 87 slugs nothing is learned
    assert len(set(_learn(paths, RoutesConfig(min_distinct=200)))) > 150


def test_templates_are_the_users_word() -> None:
    paths = [*conduit_paths(), *["/api/articles/trending"] * 5]
    config = RoutesConfig(templates=["/api/profiles/{username}", "/api/articles/trending"])
    routes = Counter(_learn(paths, config))
    assert routes["/api/articles/trending"] == 5  # rare, yet kept: a template says so
    assert "/api/profiles/{username}" in routes
    assert "/api/profiles/{id}" not in routes
    assert "/api/profiles/{id}/follow" in routes  # the template does not cover it: learned


def test_a_popular_value_is_kept_and_rare_ones_are_not() -> None:
    paths = [f"/api/profiles/user{i}x" for i in range(40)] + ["/api/profiles/celebrity"] * 20
    routes = set(_learn(paths))
    assert routes == {"/api/profiles/{id}", "/api/profiles/celebrity"}
    few = [f"/api/profiles/user{i}x" for i in range(12)] + ["/api/profiles/alice"] * 4
    assert set(_learn(few)) == {"/api/profiles/{id}"}  # 4 requests: noise, not an endpoint


def test_the_first_segment_is_never_a_parameter() -> None:
    files = [f"/static-file-{i}.js" for i in range(30)]
    assert set(_learn(files)) == set(files)


def test_few_values_stay_routes() -> None:
    paths = [f"/api/{name}" for name in ("articles", "profiles", "tags", "user", "users")] * 50
    paths += [f"/products/{name}" for name in ("tote", "stein", "bag", "mug")] * 3
    assert set(_learn(paths)) == set(paths)


def test_memory_is_bounded() -> None:
    learner = RouteLearner(RoutesConfig(), max_children=1000, max_nodes=500)
    for i in range(20_000):
        learner.add(f"/api/users/u{i}x/posts/p{i}y")
    for i in range(2_000):
        learner.add(f"/api/other{i}x/z")
    assert learner._nodes <= 500
    assert learner.truncated
    learner.apply(pa.array(["/api/users/u1x/posts/p1y"]), final=True)
    assert learner.route("/api/users/u99999x/posts/p5y") == "/api/users/{id}/posts/{id}"


def test_a_path_of_thousands_of_segments_learns_in_bounded_depth() -> None:
    # found by the hostile-input campaign: a 200 kB request target of "/x" segments recursed
    # once per segment and ended in RecursionError
    learner = RouteLearner(RoutesConfig())
    deep = "/x" * 100_000
    for i in range(300):
        learner.add(f"/api/items/{i}")
    learner.add(deep)
    out = learner.apply(pa.array([deep, "/api/items/7"]), final=True)
    assert out.to_pylist() == [deep, "/api/items/{id}"]


def _exchange(i: int, path: str) -> Exchange:
    ex = Exchange(
        ts_ns=1_000 + i,
        method="GET",
        scheme="http",
        host="h",
        path=path,
        http_version="HTTP/1.1",
        head="Host: h",
        body=b"",
        source=f"t:{i}",
    )
    ex.route = RouteTemplater().route(path)
    return ex


@pytest.mark.parametrize("batch_rows", [50, 100_000])
def test_rows_written_before_the_rules_settled_are_mapped_again(
    tmp_path: Path, batch_rows: int
) -> None:
    # the first 200 requests name only two users: /api/profiles becomes a parameter later
    paths = ["/api/profiles/alice", "/api/profiles/bob", "/api/tags"] * 8
    paths += conduit_paths(1000)
    out = tmp_path / "c.capture.parquet"
    learner = RouteLearner(RoutesConfig())
    writer = CaptureWriter(out, batch_rows=batch_rows, routes=learner)
    for i, path in enumerate(paths):
        writer.add(_exchange(i, path))
    meta = CaptureMetadata(
        format_version=2,
        sources=[],
        counts=Counts(read=len(paths), written=len(paths), responses=0, skipped=0, filtered=0),
        redaction=RedactionReport(enabled=False),
    )
    writer.close(meta)
    routes = read_capture(out, ["route"]).column("route").to_pylist()
    assert set(routes) == CONDUIT_ROUTES
    assert routes[0] == "/api/profiles/{id}"
    from harness.capture.store import capture_metadata

    learned = {r.template: r for r in capture_metadata(out).learned_routes}
    assert set(learned) == {"/api/articles/{id}", "/api/profiles/{id}"}
    assert learned["/api/articles/{id}"].kept == ["feed"]
    assert learned["/api/profiles/{id}"].distinct >= 50


def test_column_and_single_mapping_agree_on_odd_segments() -> None:
    rng = random.Random(3)
    alphabet = "ab-_.~&#%+=!$'()*,;:@ é{}"
    names = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(60)]
    odd = [n for n in names if "/" not in n and n.strip()]
    paths = [f"/x{p}y/{n}/z" for p in ("&#", "~", "(") for n in odd for _ in range(2)]
    paths += ["/x&#y/kept.one/z"] * 40
    config = RoutesConfig()
    learner = RouteLearner(config)
    column = pa.array(paths, pa.string())
    learner.observe(column)
    mapped = learner.apply(column, final=True).to_pylist()
    assert mapped == [learner.route(p) for p in paths]
    assert "/x&#y/kept.one/z" in mapped
    assert "/x~y/{id}/z" in mapped
    braces = [p for p in paths if "{" in p or "}" in p]  # left alone: placeholders look so
    pairs = list(zip(mapped, paths, strict=True))
    assert all("{id}" in m for m, p in pairs if "kept" not in p and p not in braces)
    assert all(m == p for m, p in pairs if p in braces)
