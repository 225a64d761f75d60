"""The grammar of link locations (harness/capture/linkspec.py)."""

from __future__ import annotations

import re

import pytest

from harness.capture.linkspec import (
    Locator,
    LocatorError,
    format_json_path,
    json_get,
    parse_json_path,
    parse_source,
    parse_target,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("json:$.user.token", Locator("json", path=("user", "token"))),
        ("json:$.articles[0].slug", Locator("json", path=("articles", 0, "slug"))),
        ('json:$["a.b"]["c~d"]', Locator("json", path=("a.b", "c~d"))),
        ("header:Location", Locator("header", name="Location")),
        ("cookie:sessionid", Locator("cookie", name="sessionid")),
        ("html:csrfmiddlewaretoken", Locator("html", name="csrfmiddlewaretoken")),
        ("body", Locator("body")),
        (
            "header:Location~^/articles/([^/?#]+)",
            Locator("header", name="Location", regex="^/articles/([^/?#]+)"),
        ),
        ('json:$["x~y"]~id=(\\d+)', Locator("json", path=("x~y",), regex="id=(\\d+)")),
    ],
)
def test_source_locators_parse_and_print_back(text: str, expected: Locator) -> None:
    assert parse_source(text) == expected
    assert parse_source(str(expected)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "header:Authorization",
        "cookie:csrftoken",
        "path",
        "query:since",
        "json:$.comment.id",
        "form:csrfmiddlewaretoken",
        "multipart:token",
        "body",
    ],
)
def test_target_locators_round_trip(text: str) -> None:
    assert str(parse_target(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("xml:/a", "unknown source place 'xml'"),
        ("header:", "needs a name"),
        ("body:x", "takes no name"),
        ("json:user.token", "must start with '$'"),
        ("json:$.", "expected a key"),
        ("json:$[x]", "expected [N]"),
        ("header:Location~([", "invalid regular expression"),
    ],
)
def test_bad_source_locators_say_why(text: str, message: str) -> None:
    with pytest.raises(LocatorError, match=re.escape(message)):
        parse_source(text)


def test_targets_have_no_response_only_places() -> None:
    with pytest.raises(LocatorError, match="unknown target place 'html'"):
        parse_target("html:csrf")
    # a target takes no regex: '~' is a legal header-name character and stays in the name
    assert parse_target("header:X~y").name == "X~y"


def test_json_paths_format_and_resolve() -> None:
    doc = {"user": {"token": "t"}, "list": [{"id": 7}], "odd key": 1}
    assert json_get(doc, parse_json_path("$.user.token")) == "t"
    assert json_get(doc, parse_json_path("$.list[0].id")) == 7
    assert json_get(doc, parse_json_path('$["odd key"]')) == 1
    assert json_get(doc, parse_json_path("$.list[3].id")) is None
    assert json_get(doc, parse_json_path("$.user.token.deeper")) is None
    assert format_json_path(("odd key", 2, "x")) == '$["odd key"][2].x'
