"""Links on replay: reading values from replayed replies, writing them into requests, outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.capture.linkspec import parse_source, parse_target
from harness.errors import CaptureError
from harness.replay.links import (
    LINK_MISSING,
    LINK_NONE,
    LINK_OK,
    LinkState,
    check_links,
    parse_links,
    sources_needed,
)
from harness.replay.sources import Reply, extract
from harness.replay.substitute import Outgoing, encode, substitute

HTML = b"""<html><head><meta name="csrf-token" content="m&amp;1"></head><body>
<form><input type="hidden" value='v1' name="csrfmiddlewaretoken"><input name=other value=x>
<input name="csrfmiddlewaretoken" value="second"></form></body></html>"""


def reply(body: bytes = b"", *headers: tuple[str, str], status: int = 200) -> Reply:
    return Reply(status, list(headers), body)


@pytest.mark.parametrize(
    ("locator", "expected"),
    [
        ("json:$.user.token", "tok"),
        ("json:$.user.id", "42"),
        ("json:$.user.admin", "false"),
        ('json:$.items[1]["odd.key"]', "b"),
        ("json:$.items[5]", None),
        ("json:$.user", None),  # an object is not a value
        ("json:$.nothing", None),
        ("json:$.user.token~^(..)", "to"),
        ("json:$.user.token~zzz", None),
    ],
)
def test_extract_json(locator: str, expected: str | None) -> None:
    body = {"user": {"token": "tok", "id": 42, "admin": False}, "items": [{}, {"odd.key": "b"}]}
    assert extract(parse_source(locator), reply(json.dumps(body).encode())) == expected


def test_extract_headers_cookies_html_body() -> None:
    r = reply(
        HTML,
        ("Location", "/notes/a-1?x"),
        ("Set-Cookie", "sessionid=s1; Path=/"),
        ("set-cookie", "sessionid=s2; Path=/; HttpOnly"),
        ("Set-Cookie", "theme=dark"),
    )
    assert extract(parse_source("header:location"), r) == "/notes/a-1?x"
    assert extract(parse_source("header:Location~^/notes/([^/?#]+)"), r) == "a-1"
    assert extract(parse_source("header:X-Missing"), r) is None
    assert extract(parse_source("cookie:sessionid"), r) == "s2"  # the last one wins
    assert extract(parse_source("cookie:none"), r) is None
    assert extract(parse_source("html:csrfmiddlewaretoken"), r) == "v1"  # the first input
    assert extract(parse_source("html:csrf-token"), r) == "m&1"  # a meta, entities decoded
    assert extract(parse_source("html:other"), r) == "x"
    assert extract(parse_source("body~name=other value=(\\w+)"), r) == "x"
    assert extract(parse_source("json:$.a"), r) is None  # not JSON


def test_substitute_every_place() -> None:
    req = Outgoing(
        "POST",
        "/api/notes/old-1/comments/7?since=old-1&x=7",
        [("Authorization", "Token T0"), ("Cookie", "a=1; csrftoken=C0; b=C0")],
        b'{"comment": {"id": 7, "note": "old-1", "text": "see old-1"}}',
    )
    assert substitute(req, parse_target("header:Authorization"), "T0", "T1", "raw")
    assert substitute(req, parse_target("cookie:csrftoken"), "C0", "C1", "raw")
    assert substitute(req, parse_target("path"), "7", "12", "raw")
    assert substitute(req, parse_target("query:since"), "old-1", "new 2", "url")
    assert substitute(req, parse_target("json:$.comment.id"), "7", "12", "raw")
    assert substitute(req, parse_target("json:$.comment.text"), "old-1", "new-2", "json")
    assert req.headers == [("Authorization", "Token T1"), ("Cookie", "a=1; csrftoken=C1; b=C0")]
    assert req.path == "/api/notes/old-1/comments/12?since=new%202&x=7"
    assert json.loads(req.body) == {"comment": {"id": 12, "note": "old-1", "text": "see new-2"}}
    assert req.body.startswith(b'{"comment": {')  # the captured spacing is kept


def test_substitute_refuses_when_the_captured_value_is_not_there() -> None:
    req = Outgoing("GET", "/a/b?q=1", [("X", "y")], b'{"n": 1}')
    before = (req.path, list(req.headers), req.body)
    assert not substitute(req, parse_target("header:X"), "zzz", "1", "raw")
    assert not substitute(req, parse_target("header:Absent"), "y", "1", "raw")
    assert not substitute(req, parse_target("cookie:s"), "y", "1", "raw")
    assert not substitute(req, parse_target("path"), "c", "1", "raw")
    assert not substitute(req, parse_target("query:r"), "1", "2", "raw")
    assert not substitute(req, parse_target("json:$.n"), "2", "3", "raw")
    assert not substitute(req, parse_target("json:$.m"), "1", "3", "raw")
    assert not substitute(req, parse_target("form:n"), "1", "3", "raw")
    assert not substitute(req, parse_target("body"), "zzz", "3", "raw")
    assert not substitute(req, parse_target("body"), "", "3", "raw")
    assert (req.path, req.headers, req.body) == before


def test_substitute_form_multipart_and_body() -> None:
    form = Outgoing("POST", "/login", [], b"csrfmiddlewaretoken=a%2Bb&next=%2Fnotes")
    assert substitute(form, parse_target("form:csrfmiddlewaretoken"), "a%2Bb", "c+d", "url")
    assert form.body == b"csrfmiddlewaretoken=c%2Bd&next=%2Fnotes"
    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="token"\r\n\r\nold\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="other"\r\n\r\nold\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    multipart = Outgoing(
        "POST", "/up", [("Content-Type", f"multipart/form-data; boundary={boundary}")], body
    )
    assert substitute(multipart, parse_target("multipart:token"), "old", "a-much-longer-new", "raw")
    assert b'name="token"\r\n\r\na-much-longer-new\r\n' in multipart.body
    assert b'name="other"\r\n\r\nold\r\n' in multipart.body
    plain = Outgoing("POST", "/x", [], b"id=5 and id=5")
    assert substitute(plain, parse_target("body"), "5", "6", "raw")
    assert plain.body == b"id=6 and id=6"


def test_encodings() -> None:
    assert encode('a b/"c"', "raw") == 'a b/"c"'
    assert encode('a b/"c"', "url") == "a%20b%2F%22c%22"
    assert encode('a b/"c"\n', "json") == 'a b/\\"c\\"\\n'


def _links(*items: dict[str, object]) -> list[dict[str, object]]:
    base = {"encoding": "raw", "kind": "token"}
    return [{**base, **item} for item in items]


def test_link_state_fills_from_this_targets_reply_or_marks_missing() -> None:
    rows = {
        3: parse_links(_links(
            {"src_idx": 1, "src": "json:$.user.token", "dst": "header:Authorization",
             "value": "CAPTURED"},
            {"src_idx": 2, "src": "header:Location~^/n/(.+)$", "dst": "path", "value": "s0",
             "kind": "id"},
        )),
    }  # fmt: skip
    needed = sources_needed(rows.values())
    assert {k: [str(s) for s in v] for k, v in needed.items()} == {
        1: ["json:$.user.token"], 2: ["header:Location~^/n/(.+)$"],
    }  # fmt: skip
    state = LinkState(needed)
    assert state.wants(1) and not state.wants(3)

    def request() -> Outgoing:
        return Outgoing("GET", "/n/s0", [("Authorization", "Token CAPTURED")], b"")

    req = request()
    assert state.apply(req, rows[3]) == LINK_MISSING  # no reply yet: captured values go
    assert req.path == "/n/s0"
    state.record(1, reply(b'{"user": {"token": "LIVE"}}'))
    state.record(2, reply(b"", ("Location", "/n/s9")))
    req = request()
    assert state.apply(req, rows[3]) == LINK_OK
    assert (req.path, req.headers) == ("/n/s9", [("Authorization", "Token LIVE")])
    state.record(2, None)  # the source failed on this pass (a looped capture)
    req = request()
    assert state.apply(req, rows[3]) == LINK_MISSING
    assert req.headers == [("Authorization", "Token LIVE")] and req.path == "/n/s0"
    assert state.apply(request(), ()) == LINK_NONE
    state.record(1, reply(b'{"user": {}}', status=503))
    assert state.apply(request(), rows[3][:1]) == LINK_MISSING


def test_check_links_names_the_file_and_row(tmp_path: Path) -> None:
    path = tmp_path / "c.capture.parquet"
    good = _links({"src_idx": 0, "src": "json:$.id", "dst": "path", "value": "1"})
    assert check_links(path, [0, 1], [None, good], ["f:1", "f:2"]) == 1
    ahead = _links({"src_idx": 5, "src": "json:$.id", "dst": "path", "value": "1"})
    with pytest.raises(
        CaptureError,
        match=r"c\.capture\.parquet: row idx 1 \(f:2\): link path "
        r"takes its value from idx 5, which is not an earlier request",
    ):
        check_links(path, [0, 1], [None, ahead], ["f:1", "f:2"])
    bad = _links({"src_idx": 0, "src": "xml:/a", "dst": "path", "value": "1"})
    with pytest.raises(CaptureError, match=r"row idx 1 \(f:2\): bad link: 'xml:/a': unknown"):
        check_links(path, [0, 1], [None, bad], ["f:1", "f:2"])
