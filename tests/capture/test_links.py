"""The link learner: nearest source, causality, false-link guards, rules, stored values."""

from __future__ import annotations

from collections.abc import Callable

from harness.capture.config import LinkAddRule, LinkRule, LinksConfig
from harness.capture.linkrules import RouteMatcher
from harness.capture.links import DROP_EXCLUDED, DROP_NOT_STORED, LinkLearner
from harness.capture.linksources import Delivered
from harness.capture.linktargets import Place, request_places
from harness.capture.record import split_headers

MS = 1_000_000
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl"


def _places(path: str, head: str = "", body: bytes = b"") -> Callable[[], list[Place]]:
    return lambda: request_places(path, head, body)


def _token(src: str = "json:$.user.token") -> list[Delivered]:
    return [Delivered(TOKEN, src, "token", False)]


def test_a_token_links_later_requests_of_its_session_only() -> None:
    learner = LinkLearner()
    learner.offer(0, "s1", 0, 5 * MS, "POST /login", _token())
    head = f"Authorization: Token {TOKEN}"
    mine = learner.match("s1", 10 * MS, "GET /user", _places("/user", head))
    other = learner.match("s2", 10 * MS, "GET /user", _places("/user", head))
    assert [(r.src_idx, r.src, r.dst, r.value, r.kind) for r in mine] == [
        (0, "json:$.user.token", "header:Authorization", TOKEN, "token")
    ]
    assert other == []


def test_a_value_is_usable_only_once_its_response_ended() -> None:
    learner = LinkLearner()
    learner.offer(
        0, "s", 0, 50 * MS, "POST /orders", [Delivered("ord-8812", "json:$.id", "id", True)]
    )
    early = learner.match("s", 20 * MS, "GET /orders/{id}", _places("/orders/ord-8812"))
    late = learner.match("s", 60 * MS, "GET /orders/{id}", _places("/orders/ord-8812"))
    assert early == [] and [r.src_idx for r in late] == [0]


def test_the_nearest_earlier_source_wins_and_is_counted_ambiguous() -> None:
    learner = LinkLearner()
    learner.offer(0, "s", 0, 1, "POST /login", _token())
    learner.offer(3, "s", 10, 11, "POST /refresh", _token("json:$.token"))
    (link,) = learner.match("s", 20, "GET /me", _places("/me", f"X-Token: {TOKEN}"))
    assert (link.src_idx, link.src, link.ambiguous) == (3, "json:$.token", True)
    stored = learner.confirm([link], "/me", split_headers(f"X-Token: {TOKEN}"), b"")
    assert stored is not None and learner.finish().ambiguous == 1


def test_small_numbers_only_from_an_id_place_into_an_id_place() -> None:
    learner = LinkLearner()
    learner.offer(
        0, "s", 0, 1, "POST /comments", [Delivered("45", "json:$.comment.id", "id", True)]
    )
    learner.offer(
        1, "s", 0, 1, "GET /stats", [Delivered("17", "json:$.stats.count", "value", False)]
    )
    path = learner.match("s", 5, "DELETE /comments/{id}", _places("/comments/45"))
    query = learner.match("s", 5, "GET /comments", _places("/comments?page=45"))
    id_query = learner.match("s", 5, "GET /comments", _places("/comments?comment_id=45"))
    not_id = learner.match("s", 5, "GET /x/{id}", _places("/x/17"))
    assert [(r.dst, r.kind) for r in path] == [("path", "id")]
    assert query == []  # "page" is no id place: 45 there is a coincidence
    assert [(r.dst, r.kind) for r in id_query] == [("query:comment_id", "id")]
    assert not_id == []  # a count is no id, wherever it goes


def test_cookie_csrf_and_value_kinds() -> None:
    learner = LinkLearner()
    learner.offer(
        0,
        "s",
        0,
        1,
        "GET /login",
        [
            Delivered("Qw3rTy7UiOp9AsDf", "cookie:csrftoken", "csrf", False),
            Delivered("k2j3h4g5f6d7s8a9", "cookie:sessionid", "cookie", False),
            Delivered("2024-05-01T12:00:00Z", "json:$.updated_at", "value", False),
        ],
    )
    head = "Cookie: sessionid=k2j3h4g5f6d7s8a9\nX-CSRFToken: Qw3rTy7UiOp9AsDf"
    links = learner.match("s", 2, "POST /x", _places("/x?since=2024-05-01T12:00:00Z", head))
    assert sorted((r.dst, r.kind) for r in links) == [
        ("cookie:sessionid", "cookie"),
        ("header:X-CSRFToken", "csrf"),
        ("query:since", "value"),
    ]


def test_confirm_stores_the_pseudonym_the_raw_value_or_what_the_mask_left() -> None:
    learner = LinkLearner()
    learner.offer(0, "s", 0, 1, "POST /login", _token())
    raw_head = f"Authorization: Token {TOKEN}"
    (link,) = learner.match("s", 2, "GET /me", _places("/me", raw_head))
    fake = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwc2V1ZG8ifQ.cHNldWRv"
    pseudonymised = learner.confirm(
        [link], "/me", [("Authorization", f"Token {fake}")], b"", {TOKEN: fake}.get
    )
    assert pseudonymised is not None and pseudonymised[0]["value"] == fake
    kept = learner.confirm([link], "/me", split_headers(raw_head), b"")
    assert kept is not None and kept[0]["value"] == TOKEN
    masked = learner.confirm([link], "/me", split_headers("Authorization: Token REDACTED"), b"")
    assert masked is not None and masked[0]["value"] == "REDACTED"
    gone = learner.confirm([link], "/me", split_headers("X-Other: 1"), b"")
    report = learner.finish()
    assert gone is None and report.dropped == {DROP_NOT_STORED: 1} and report.aligned == 1
    assert report.links == 3 and report.requests == 3 and report.by_kind == {"token": 3}


def test_exclude_and_add_rules() -> None:
    config = LinksConfig(
        exclude=[LinkRule(dst="query:*"), LinkRule.model_validate({"from": "GET /feed"})],
        add=[
            LinkAddRule.model_validate(
                {
                    "from": "POST /api/session",
                    "src": "json:$.k",
                    "dst": "header:X-K",
                    "kind": "token",
                }
            )
        ],
    )
    learner = LinkLearner(config)
    assert [r.rule.src for r in learner.rules_for("POST /api/session")] == ["json:$.k"]
    assert learner.rules_for("POST /api/other") == []
    (rule,) = learner.rules_for("POST /api/session")
    learner.offer(0, "s", 0, 1, "POST /api/session", [], [(rule, "k1")])
    learner.offer(
        1, "s", 0, 1, "GET /feed", [Delivered("feeditem-9x8", "json:$.items[0].slug", "id", True)]
    )
    learner.offer(2, "s", 0, 1, "GET /orders", [Delivered("ord-77xy", "json:$.id", "id", True)])
    links = learner.match("s", 5, "GET /x", _places("/x/feeditem-9x8?o=ord-77xy&k=k1", "X-K: k1"))
    # "k1" is far too short for the learner, but the rule asks for it (only in X-K)
    assert [(r.src, r.dst, r.kind, r.by_rule) for r in links] == [
        ("json:$.k", "header:X-K", "token", True)
    ]
    assert learner.finish().dropped == {DROP_EXCLUDED: 2}


def test_route_matcher() -> None:
    assert RouteMatcher("POST /api/*").matches("POST /api/users/login")
    assert not RouteMatcher("POST /api/*").matches("GET /api/users")
    assert RouteMatcher("/api/*").matches("DELETE /api/x")
    assert RouteMatcher(None).matches("GET /anything")


def test_memory_is_bounded_by_sessions_and_values() -> None:
    learner = LinkLearner(max_sessions=3, max_values=2)
    for i in range(5):
        learner.offer(
            i, f"s{i}", 0, 1, "GET /", [Delivered(f"value-{i:08d}", "json:$.v", "value", False)]
        )
    assert learner.finish().sessions_evicted == 2
    assert learner.match("s0", 5, "GET /", _places(f"/?v=value-{0:08d}")) == []
    many = [Delivered(f"value-x{i:07d}", f"json:$.v{i}", "value", False) for i in range(4)]
    learner.offer(9, "s4", 2, 3, "GET /", many)
    # only the two newest values of s4 are left
    old = learner.match("s4", 9, "GET /", _places("/?a=value-x0000000"))
    new = learner.match("s4", 9, "GET /", _places("/?a=value-x0000003"))
    assert old == [] and len(new) == 1


def test_values_held_in_all_are_bounded() -> None:
    learner = LinkLearner(max_held=50, max_values=20)
    learner.responses_seen = True
    for i in range(30):
        session = f"s{i}"
        values = [
            Delivered(f"v{i:03d}-{j:06d}", f"json:$.a[{j}]", "value", False) for j in range(8)
        ]
        learner.offer(i, session, 0, 1, "GET /", values)
        learner.match(session, 5, "GET /x", _places(f"/x?a=value-{i:08d}&b=other-{i:08d}"))
        assert learner.held <= 50
    # the most recent session still links; the oldest were dropped to stay in bounds
    last = learner.match("s29", 9, "GET /", _places("/?q=v029-000003"))
    first = learner.match("s0", 9, "GET /", _places("/?q=v000-000003"))
    assert len(last) == 1 and first == []
    assert learner.finish().sessions_evicted > 20
