"""Where a request sends values: the targets of session links, and reading them back."""

from __future__ import annotations

import gzip
import json

from harness.capture.linkspec import parse_target
from harness.capture.linktargets import place_values, request_places
from harness.capture.record import split_headers


def _places(path: str, head: str, body: bytes = b"") -> set[tuple[str, str, str, bool]]:
    return {(p.value, p.dst, p.encoding, p.id_place) for p in request_places(path, head, body)}


def test_path_query_headers_and_cookies() -> None:
    head = "\n".join(
        [
            "Host: api.example",
            "Authorization: Token abc.def.ghi",
            "Cookie: sessionid=s1d2; theme=dark; flag",
            "X-CSRFToken: c5rf",
            "User-Agent: curl/8.0",
            "Accept: */*",
        ]
    )
    places = _places("/articles/my%20slug/comments/45.json?since=123&tag=a+b&x=", head)
    assert places == {
        ("articles", "path", "url", True),
        ("my slug", "path", "url", True),
        ("comments", "path", "url", True),
        ("45.json", "path", "url", True),
        ("45", "path", "url", True),
        ("123", "query:since", "url", False),
        ("a b", "query:tag", "url", False),
        ("Token abc.def.ghi", "header:Authorization", "raw", False),
        ("Token", "header:Authorization", "raw", False),
        ("abc.def.ghi", "header:Authorization", "raw", False),
        ("s1d2", "cookie:sessionid", "raw", False),
        ("dark", "cookie:theme", "raw", False),
        ("c5rf", "header:X-CSRFToken", "raw", False),
    }


def test_a_word_knows_what_surrounds_it() -> None:
    places = request_places("/", "Authorization: Bearer t0k3n", b"")
    word = next(p for p in places if p.value == "t0k3n")
    assert (word.prefix, word.suffix) == ("Bearer ", "")
    stem = next(p for p in request_places("/f/abc123.pdf", "", b"") if p.value == "abc123")
    assert (stem.position, stem.suffix) == (2, ".pdf")


def test_json_form_and_multipart_bodies() -> None:
    body = json.dumps({"comment": {"article_id": 7, "body": "nice post", "ok": True}}).encode()
    places = _places("/c", "Content-Type: application/json", body)
    assert ("7", "json:$.comment.article_id", "raw", True) in places
    assert ("nice post", "json:$.comment.body", "json", False) in places
    assert ("nice", "json:$.comment.body", "json", False) in places
    assert not any(p[1] == "json:$.comment.ok" for p in places)

    form = _places(
        "/login",
        "Content-Type: application/x-www-form-urlencoded",
        b"csrfmiddlewaretoken=t%2Bk&username=bob&user_id=9",
    )
    assert ("t+k", "form:csrfmiddlewaretoken", "url", False) in form
    assert ("9", "form:user_id", "url", True) in form

    multipart = (
        b'--XyZ\r\nContent-Disposition: form-data; name="token"\r\n\r\nm4lt1p4rt\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nfile\r\n'
        b"--XyZ--\r\n"
    )
    parts = _places("/up", 'Content-Type: multipart/form-data; boundary="XyZ"', multipart)
    assert ("m4lt1p4rt", "multipart:token", "raw", False) in parts
    assert not any(p[1] == "multipart:f" for p in parts)


def test_a_gzip_request_body_is_read() -> None:
    body = gzip.compress(json.dumps({"order_id": "ord_77aa"}).encode())
    places = _places("/o", "Content-Type: application/json\nContent-Encoding: gzip", body)
    assert ("ord_77aa", "json:$.order_id", "json", True) in places


def test_place_values_read_the_stored_request_back() -> None:
    head = split_headers(
        "Authorization: Token PSEUDO\nCookie: a=1; sid=x9; sid=y8\nContent-Type: application/json"
    )
    body = b'{"a": {"b": [1, "v\\u00e9"]}}'
    path = "/x/y%2Fz/7?q=a%26b&q=2"
    assert place_values(parse_target("path"), path, head, body) == ["", "x", "y/z", "7"]
    assert place_values(parse_target("query:q"), path, head, body) == ["a&b", "2"]
    assert place_values(parse_target("header:authorization"), path, head, body) == ["Token PSEUDO"]
    assert place_values(parse_target("cookie:sid"), path, head, body) == ["x9", "y8"]
    assert place_values(parse_target("json:$.a.b[1]"), path, head, body) == ["v\u00e9"]
    assert place_values(parse_target("json:$.a.b[0]"), path, head, body) == ["1"]
    assert place_values(parse_target("json:$.a"), path, head, body) == []
