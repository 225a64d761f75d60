"""Links and sessions learned from real recordings of the stateful notes example.

The recordings (``captures/notes-demo.mitm`` by real mitmdump, ``captures/notes-demo.gor`` by
real GoReplay 1.3.2, the same 963 exchanges; see captures/README.md) are imported with the
defaults. What the users did is known (``examples/notes/traffic.py``), so the links a correct
learner finds can be counted from the rows without the learner:

- ``token``: every request with ``Authorization`` (the token an API writer's login returned);
- ``cookie``: every request with a ``Cookie`` (the session cookie a browser user was given);
- ``csrf``: every form post with ``csrfmiddlewaretoken`` (read from the page before);
- ``id``: an API writer's note slug in each of its ``/api/notes/{slug}...`` paths, and the
  comment id of each ``DELETE .../comments/{id}``; a browser user's note slug in each
  ``/notes/{slug}...`` path (from the ``Location`` of the post that created it).

The anonymous readers pick seeded notes at random; twice in this take a reader read a note that
a listing had just shown it, which the learner cannot tell from a choice made on the listing:
those two links are the only ones from a list item, and counted apart.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.capture.ingest import import_capture
from harness.capture.store import read_capture
from harness.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = [ROOT / "captures" / "notes-demo.mitm", ROOT / "captures" / "notes-demo.gor"]


def expected_links(rows: list[dict[str, Any]]) -> Counter[str]:
    """The links the users' behaviour implies, counted from the rows alone (module docstring)."""
    expected: Counter[str] = Counter()
    for row in rows:
        headers = {h["name"].lower(): h["value"] for h in row["headers"]}
        agent = headers.get("user-agent", "")
        segments = row["path"].partition("?")[0].split("/")
        expected["token"] += "authorization" in headers
        expected["cookie"] += "cookie" in headers
        expected["csrf"] += b"csrfmiddlewaretoken=" in row["body"]
        if "apiwriter" in agent and segments[1:3] == ["api", "notes"] and len(segments) > 3:
            expected["id"] += 1  # the writer's own slug
            expected["id"] += len(segments) == 6 and segments[4] == "comments"  # comment id
        if "browseruser" in agent and segments[1] == "notes" and len(segments) > 2:
            expected["id"] += bool(segments[2])
    return expected


def _links(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(row, link) for row in rows for link in row["links"]]


@pytest.mark.parametrize("recording", RECORDINGS, ids=["mitmdump", "goreplay"])
def test_links_of_the_notes_recordings(recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "notes.capture.parquet"
    meta = import_capture([recording], out)
    rows = read_capture(out).to_pylist()
    by_idx = {row["idx"]: row for row in rows}
    links = _links(rows)
    from_lists = [(r, k) for r, k in links if k["src"].startswith("json:") and "[" in k["src"]]
    assert [(k["kind"], k["dst"]) for _, k in from_lists] == [("id", "path"), ("id", "path")]
    assert all("anonymousreader" in str(r["headers"]) for r, _ in from_lists)
    kinds = Counter(link["kind"] for _, link in links)
    assert kinds == expected_links(rows) + Counter(id=2)
    assert kinds == Counter(token=421, cookie=414, csrf=166, id=557)
    assert meta.links.links == 1558 and meta.links.requests == 837
    assert meta.links.dropped == {}

    for row, link in links:
        source = by_idx[link["src_idx"]]
        assert source["session"] == row["session"]
        assert source["ts_ns"] < row["ts_ns"]
        where = (link["kind"], source["method"], link["src"], link["dst"])
        if link["kind"] == "token":
            assert where == ("token", "POST", "json:$.user.token", "header:Authorization")
            assert source["path"] == "/api/users/login"
        elif link["kind"] == "cookie":
            assert where[2:] == ("cookie:sessionid", "cookie:sessionid")
            assert source["path"] in ("/login", "/signup")
        elif link["kind"] == "csrf":
            assert where[2:] == ("html:csrfmiddlewaretoken", "form:csrfmiddlewaretoken")
        else:
            assert link["dst"] == "path"
            assert link["value"] in row["path"].split("/")
        # no echo of the client's own data (its username, a note's text) is a link
        assert link["dst"] not in ("query:author", "json:$.note.body", "json:$.comment.body")

    # sessions: 6 API writers, 4 browser users, the readiness check, and 2 anonymous readers
    # (one of them reconnected once: without any credential, a connection is all there is)
    assert len({row["session"] for row in rows}) == 14
    assert meta.sessions is not None and meta.sessions.found_by == "credential"
    agents = {}
    for row in rows:
        agent = next(h["value"] for h in row["headers"] if h["name"].lower() == "user-agent")
        agents.setdefault(agent, set()).add(row["session"])
    assert all(len(s) == 1 for a, s in agents.items() if "reader" not in a)


def test_inspect_groups_the_links(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "notes.capture.parquet"
    assert main(["capture", "import", str(RECORDINGS[0]), "-o", str(out)]) == 0
    said = capsys.readouterr().out
    # each API writer's login joined to its registration by the e-mail (same client, same
    # connection: the sessions are the 14 they were without the join)
    assert "sessions: by credential (6 requests joined by value)\n" in said
    assert "links: 1,558 in 837 requests (id 557, token 421, cookie 414, csrf 166)\n" in said
    assert main(["capture", "inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert (
        "  token from POST /api/users/login body.user.token -> Authorization of 421 requests "
        "in 6 sessions\n"
    ) in text
    assert "  id from POST /api/notes/{id}/comments body.comment.id -> path of 32 requests" in text
    assert "links       1,558 in 837 requests: id 557, token 421, cookie 414, csrf 166" in text
    assert "sessions    14 (by credential: " in text
    assert (
        "joins       6 requests joined by value\n"
        "         6  json:$.user.email <- request json:$.user.email\n"
    ) in text
    assert main(["capture", "inspect", str(out), "--json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    groups = doc["links"]["groups"]
    assert groups[0] == {
        "kind": "token",
        "from": "POST /api/users/login",
        "src": "json:$.user.token",
        "dst": "header:Authorization",
        "requests": 421,
        "sessions": 6,
    }
    assert sum(g["requests"] for g in groups if g["kind"] == "cookie") == 414
    assert doc["sessions_found_by"] == "credential"


@pytest.mark.slow
def test_links_of_a_fresh_mitmdump_recording(tmp_path: Path) -> None:
    """Record the notes users through a real mitmdump now, import, and count the links."""
    cmd = [sys.executable, str(ROOT / "captures" / "record_notes.py"), "--duration", "6"]
    cmd += ["--out", str(tmp_path), "--think", "0.3", "--writers", "2", "--browsers", "2"]
    cmd += ["--readers", "0", "--no-import", "--no-gor"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out = tmp_path / "fresh.capture.parquet"
    meta = import_capture([tmp_path / "notes-demo.mitm"], out)
    rows = read_capture(out).to_pylist()
    kinds = Counter(link["kind"] for _, link in _links(rows))
    expected = expected_links(rows)
    assert kinds == expected
    assert expected["token"] > 0 and expected["cookie"] > 0 and expected["id"] > 0
    # two writers, two browser users and the readiness check
    assert len({row["session"] for row in rows}) == 5
    assert meta.links.links == sum(expected.values())


@pytest.mark.parametrize("recording", RECORDINGS, ids=["mitmdump", "goreplay"])
def test_every_stored_link_is_where_the_replay_looks(recording: Path, tmp_path: Path) -> None:
    """The contract with the replay: each link's value is found at its place by the replay's
    own substitution (harness/replay/substitute.py), which writes a live value there."""
    from harness.capture.linkspec import parse_target
    from harness.replay.substitute import Outgoing, substitute

    out = tmp_path / "notes.capture.parquet"
    import_capture([recording], out)
    checked = 0
    for row in read_capture(out).to_pylist():
        for link in row["links"]:
            headers = [(h["name"], h["value"]) for h in row["headers"]]
            request = Outgoing(row["method"], row["path"], headers, row["body"])
            live = "LIVE-" + link["kind"]
            dst = parse_target(link["dst"])
            assert substitute(request, dst, link["value"], live, link["encoding"]), link
            assert live in request.path + str(request.headers) + request.body.decode()
            checked += 1
    assert checked == 1558


def test_json_escapes_are_stored_as_written(tmp_path: Path) -> None:
    from harness.capture.linkspec import parse_target
    from harness.replay.substitute import Outgoing, substitute
    from tests.capture.gorfiles import GorRecord, write_gor

    odd = 'ref "7"\\x-20261128'  # a quote and a backslash: escaped in JSON
    login = b"POST /a HTTP/1.1\r\nHost: h\r\n\r\n"
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
        + json.dumps({"order_ref": odd}).encode()
    )
    body = json.dumps({"order": {"order_ref": odd}}).encode()
    use = (
        b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    t0 = 1_700_000_000_000_000_000
    source = write_gor(
        tmp_path / "odd.gor",
        [
            GorRecord(1, "c1", t0, login),
            GorRecord(2, "c1", t0 + 1_000_000, answer),
            GorRecord(1, "c1", t0 + 5_000_000, use),
        ],
    )
    out = tmp_path / "odd.capture.parquet"
    import_capture([source], out, redact=False)
    row = read_capture(out).to_pylist()[1]
    (link,) = row["links"]
    assert (link["dst"], link["encoding"]) == ("json:$.order.order_ref", "json")
    assert link["value"] == json.dumps(odd)[1:-1]
    request = Outgoing("POST", "/b", [], row["body"])
    assert substitute(request, parse_target(link["dst"]), link["value"], 'new "8"', "json")
    assert json.loads(request.body) == {"order": {"order_ref": 'new "8"'}}


def test_every_source_is_where_the_replay_reads_it(tmp_path: Path) -> None:
    """The other half of the contract: the replay's own reader (harness/replay/sources.py),
    given the captured response of each link's source, finds the very value the request sent."""
    from mitmproxy.io import FlowReader

    from harness.capture.linkspec import parse_source
    from harness.replay.sources import Reply, extract

    recording = RECORDINGS[0]
    out = tmp_path / "notes.capture.parquet"
    import_capture([recording], out, redact=False)  # values as sent, to compare
    with recording.open("rb") as fo:
        flows = list(FlowReader(fo).stream())
    rows = read_capture(out).to_pylist()
    replies = {}
    for row in rows:
        flow = flows[int(row["source"].rpartition(":")[2]) - 1]
        response = flow.response
        headers = [(k.decode(), v.decode()) for k, v in response.headers.fields]
        replies[row["idx"]] = Reply(response.status_code, headers, response.content or b"")
    checked = 0
    for row in rows:
        for link in row["links"]:
            value = link["value"]
            if link["encoding"] == "json":
                value = json.loads(f'"{value}"')
            assert extract(parse_source(link["src"]), replies[link["src_idx"]]) == value, link
            checked += 1
    assert checked == 1558


def test_only_kept_rows_are_sources(tmp_path: Path) -> None:
    from harness.capture.config import CaptureConfig, FilterConfig

    out = tmp_path / "notes.capture.parquet"
    config = CaptureConfig(filters=FilterConfig(deny_routes=["/api/users/login"]))
    meta = import_capture([RECORDINGS[0]], out, config=config)
    rows = read_capture(out).to_pylist()
    kinds = Counter(link["kind"] for _, link in _links(rows))
    # the logins are gone, and with them the source of most tokens; where a writer registered
    # and logged in within the same second, the app gave it the same token both times, and
    # the registration's answer is the (earlier, kept) source; the rest is as before
    assert kinds == Counter(cookie=414, csrf=166, id=557, token=209)
    assert meta.filtered == {"route": 6}
    by_idx = {row["idx"]: row for row in rows}
    for _, link in _links(rows):
        source = by_idx[link["src_idx"]]  # a kept row
        if link["kind"] == "token":
            assert (source["method"], source["path"]) == ("POST", "/api/users")
    # the sessions are still those of the users: a filtered login still says whose token it is
    assert len({row["session"] for row in rows}) == 14


def test_links_can_be_switched_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "no-links.yaml"
    config.write_text("links: {enabled: false}\n")
    out = tmp_path / "notes.capture.parquet"
    argv = ["capture", "import", str(RECORDINGS[1]), "-o", str(out), "--config", str(config)]
    assert main(argv) == 0
    assert "links: not learned (links.enabled: false)\n" in capsys.readouterr().out
    columns = ["session", "links", "orig_location_route", "method", "route", "orig_status"]
    rows = read_capture(out, columns).to_pylist()
    assert all(row["links"] == [] for row in rows)
    # sessions are still found by credential, and redirects (and notes created through the
    # API, 201 with a Location) still say where they went
    assert len({row["session"] for row in rows}) == 14
    located = [row for row in rows if row["orig_location_route"] is not None]
    redirects = sum(row["orig_status"] == 302 for row in rows)
    created = sum((r["method"], r["route"], r["orig_status"]) == ("POST", "/api/notes", 201)
                  for r in rows)  # fmt: skip
    assert (len(located), redirects, created) == (redirects + created, 166, 71)
