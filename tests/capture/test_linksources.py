"""What a captured response delivered, and where: the sources of session links."""

from __future__ import annotations

import json
import re

from harness.capture.linksources import Delivered, delivered_values, source_value
from harness.capture.linkspec import parse_source
from harness.capture.response import Response

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl"


def _json(doc: object, **headers: str) -> Response:
    head = "\n".join(["Content-Type: application/json", *(f"{k}: {v}" for k, v in headers.items())])
    return Response(200, head, json.dumps(doc).encode())


def _by_src(found: list[Delivered]) -> dict[str, tuple[str, str, bool]]:
    return {d.src: (d.value, d.kind, d.id_like) for d in found}


def test_json_fields_at_any_depth_with_kinds() -> None:
    doc = {
        "user": {"token": TOKEN, "username": "bob", "id": 42, "admin": False, "bio": None},
        "articles": [{"slug": "how-to-x7", "favoritesCount": 3}, {"slug": "second-post-9"}],
        "order_id": "ord_8f3a2c",
        "count": 12345,  # a number under a key that is no id: never a source
        "note": "a long free text value",
    }
    found = _by_src(delivered_values(_json(doc)))
    # "bob" is short and not under an id key: no source; booleans, null, counts neither
    assert found == {
        "json:$.user.token": (TOKEN, "token", False),
        "json:$.user.id": ("42", "id", True),
        "json:$.articles[0].slug": ("how-to-x7", "id", True),
        "json:$.articles[1].slug": ("second-post-9", "id", True),
        "json:$.order_id": ("ord_8f3a2c", "id", True),
        "json:$.note": ("a long free text value", "value", False),
    }


def test_values_the_request_sent_are_echoes_not_deliveries() -> None:
    response = _json({"user": {"email": "bob@example.com", "token": TOKEN}})
    found = _by_src(delivered_values(response, echo='{"user":{"email":"bob@example.com"}}'))
    assert set(found) == {"json:$.user.token"}


def test_an_echo_is_a_whole_value_not_part_of_a_longer_one() -> None:
    # a fresh recording: the comment id 302 was inside the proxy's port 30288 of the request's
    # Host header, so the id was taken for an echo and its DELETE had no link
    response = _json({"comment": {"id": 302, "author": "writer-00-e3e70682"}})
    request = (
        "POST /api/notes/incident-latency-367-439b71/comments\nHost: 127.0.0.1:30288\n"
        'Authorization: Token abc.def\n\n{"comment":{"body":"note to self 80"}}'
    )
    found = _by_src(delivered_values(response, echo=request))
    assert found["json:$.comment.id"] == ("302", "id", True)
    # the same id sent as a whole value (a path segment, a JSON number) is an echo
    for sent in ("DELETE /api/comments/302", '{"reply_to": 302}', "GET /c?id=302&x=1"):
        assert "json:$.comment.id" not in _by_src(delivered_values(response, echo=sent)), sent
    assert "json:$.comment.id" in _by_src(delivered_values(response, echo="GET /c/3021"))


def test_echoed_takes_whole_values() -> None:
    from harness.capture.linksources import echoed

    assert echoed("302", "Host: 127.0.0.1:302") and echoed("302", "302")
    assert not echoed("302", "Host: 127.0.0.1:30288") and not echoed("302", "a302")
    assert echoed("bob@example.com", '"email":"bob@example.com"')
    assert echoed("ab-12", "x=ab-12-") and not echoed("ab-12", "x=ab-123")
    assert echoed("-12-", "x-12-y")  # a value that starts and ends with a separator
    assert echoed("302", "30288 and then 302.") and not echoed("302", "")


def test_keys_that_are_data_never_reach_a_locator() -> None:
    found = delivered_values(_json({"alice@example.com": {"id": 7}, "ok key": "abcdefgh123"}))
    assert found == []


def test_html_inputs_and_meta_tags() -> None:
    page = (
        '<html><head><meta name="csrf-token" content="Zm9vYmFyYmF6cXV4MTIz"></head><body>'
        "<form><input type='hidden' name='csrfmiddlewaretoken' value='tok3n&amp;Value42'>"
        '<input name="next" value="/dashboard/orders"><input name="q" value="">'
        '<input name="csrfmiddlewaretoken" value="second-ignored-123"></form></body></html>'
    )
    response = Response(200, "Content-Type: text/html; charset=utf-8", page.encode())
    found = _by_src(delivered_values(response))
    assert found == {
        "html:csrf-token": ("Zm9vYmFyYmF6cXV4MTIz", "csrf", False),
        "html:csrfmiddlewaretoken": ("tok3n&Value42", "csrf", False),
        "html:next": ("/dashboard/orders", "value", False),
    }


def test_set_cookie_location_and_other_headers() -> None:
    head = "\n".join(
        [
            "Set-Cookie: sessionid=k2j3h4g5f6d7s8a9; Path=/; HttpOnly",
            "Set-Cookie: csrftoken=Qw3rTy7UiOp9AsDf; Path=/",
            "Set-Cookie: lang=en",
            "Set-Cookie: sessionid=; expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "Location: https://shop.example/users/7/orders/ord-5521?tab=items&ref=a8f3e2d1c0",
            "X-Auth-Token: Bearer 9f8e7d6c5b4a39281706",
            "Date: Mon, 01 Jan 2024 00:00:00 GMT",
            'ETag: W/"5d41402abc4b2a76b9719d911017c592"',
        ]
    )
    found = _by_src(delivered_values(Response(302, head, b"")))
    location = "header:Location~^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?"
    assert found == {
        "cookie:sessionid": ("k2j3h4g5f6d7s8a9", "cookie", False),
        "cookie:csrftoken": ("Qw3rTy7UiOp9AsDf", "csrf", False),
        f"{location}/users/([^/?#]+)": ("7", "id", True),
        f"{location}/users/[^/?#]*/orders/([^/?#]+)": ("ord-5521", "id", True),
        "header:Location~[?&]ref=([^&#]*)": ("a8f3e2d1c0", "id", True),
        "header:Location~[?&]tab=([^&#]*)": ("items", "id", True),
        "header:X-Auth-Token": ("Bearer 9f8e7d6c5b4a39281706", "token", False),
        "header:X-Auth-Token~(\\S+)\\s*$": ("9f8e7d6c5b4a39281706", "token", False),
        "header:ETag": ('W/"5d41402abc4b2a76b9719d911017c592"', "value", False),
    }
    # the Location regexes find the same segments in another Location (the replay's answer)
    other = "/users/8/orders/ord-9?tab=x"
    for src, (_, _, _) in found.items():
        if src.startswith("header:Location~^"):
            assert re.search(src.partition("~")[2], other) is not None


def test_location_keeps_ids_and_data_out_of_its_regex() -> None:
    head = "Location: /accounts/bob%40example.com/tokens/0a1b2c3d4e5f"
    found = _by_src(delivered_values(Response(201, head, b"")))
    assert "bob" not in "".join(found) and "0a1b" not in "".join(found)
    assert ("0a1b2c3d4e5f", "id", True) in found.values()


def test_bare_token_and_form_bodies() -> None:
    bare = Response(200, "Content-Type: text/plain", b"  9c2f1e0d8b7a6c5d4e3f  \n")
    assert _by_src(delivered_values(bare)) == {"body": ("9c2f1e0d8b7a6c5d4e3f", "value", False)}
    form = Response(
        200, "Content-Type: application/x-www-form-urlencoded", b"access_token=a1b2c3d4e5f6g7&x=1"
    )
    found = _by_src(delivered_values(form))
    assert found["body~(?:^|&)access_token=([^&]*)"] == ("a1b2c3d4e5f6g7", "token", False)


def test_unreadable_body_is_counted_and_headers_still_read() -> None:
    response = Response(
        200, "Content-Type: application/json\nContent-Encoding: gzip\nX-Session: a1b2c3d4e5", b"xx"
    )
    found = _by_src(delivered_values(response))
    assert found == {"header:X-Session": ("a1b2c3d4e5", "token", False)}
    assert response.unread is not None


def test_source_value_reads_every_place() -> None:
    response = Response(
        201,
        "Content-Type: application/json\nLocation: /articles/my-slug-1\nSet-Cookie: sid=s3cr3t9",
        json.dumps({"data": {"session_key": "k1", "n": [4, 5]}}).encode(),
    )
    assert source_value(parse_source("json:$.data.session_key"), response) == "k1"
    assert source_value(parse_source("json:$.data.n[1]"), response) == "5"
    assert source_value(parse_source("cookie:sid"), response) == "s3cr3t9"
    assert source_value(parse_source("header:location~^/articles/([^/]+)"), response) == "my-slug-1"
    assert source_value(parse_source("json:$.missing"), response) is None
    page = Response(200, "Content-Type: text/html", b'<meta name="t" content="v1">')
    assert source_value(parse_source("html:t"), page) == "v1"
    assert source_value(parse_source('body~content="(\\w+)"'), page) == "v1"


def test_equal_bodies_are_read_once_and_echo_is_checked_per_exchange() -> None:
    from harness.capture.linksources import BodyCache

    cache = BodyCache(size=2)
    body = json.dumps({"items": [{"slug": "first-item-91"}, {"slug": "second-item-92"}]}).encode()
    first = Response(200, "Content-Type: application/json", body)
    values = cache.values(first)
    assert [d.value for d in values] == ["first-item-91", "second-item-92"]
    again = Response(200, "Content-Type: application/json\nSet-Cookie: sid=s1e2s3s4i5o6n", body)
    assert cache.values(again) is values  # not read again
    found = _by_src(delivered_values(again, "GET /items?after=first-item-91", cache))
    assert found == {
        "json:$.items[1].slug": ("second-item-92", "id", True),
        "cookie:sid": ("s1e2s3s4i5o6n", "cookie", False),
    }
    broken = Response(200, "Content-Type: application/json\nContent-Encoding: gzip", b"xx")
    assert cache.values(broken) == [] and broken.unread is not None
    copy = Response(200, "Content-Type: application/json\nContent-Encoding: gzip", b"xx")
    assert cache.values(copy) == [] and copy.unread == broken.unread  # remembered, reason too
