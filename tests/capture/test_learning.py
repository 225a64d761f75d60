"""What the import keeps of the responses: the Location route, and links from HAR exchanges."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

from harness.capture.ingest import import_capture
from harness.capture.store import read_capture

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlMTIz"


def _entry(
    t: str, method: str, url: str, headers: dict[str, str], status: int, answer: dict[str, object]
) -> dict[str, object]:
    text = json.dumps(answer)
    return {
        "startedDateTime": f"2026-11-28T12:00:{t}.000Z",
        "time": 20,
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in headers.items()],
        },
        "response": {
            "status": status,
            "headers": [{"name": "Content-Type", "value": "application/json"}],
            # browsers store binary-looking answers in base64: the learner decodes both
            "content": {"text": base64.b64encode(text.encode()).decode(), "encoding": "base64"},
        },
    }


def test_har_responses_give_links(tmp_path: Path) -> None:
    har = {
        "log": {
            "entries": [
                _entry("01", "POST", "http://api.test/login", {}, 200, {"token": TOKEN}),
                _entry(
                    "02",
                    "POST",
                    "http://api.test/orders",
                    {"Authorization": f"Bearer {TOKEN}"},
                    201,
                    {"order": {"id": "ord-7f3a91"}},
                ),
                _entry(
                    "03",
                    "GET",
                    "http://api.test/orders/ord-7f3a91",
                    {"Authorization": f"Bearer {TOKEN}"},
                    200,
                    {},
                ),
            ]
        }
    }
    source = tmp_path / "api.har"
    source.write_text(json.dumps(har))
    out = tmp_path / "api.capture.parquet"
    meta = import_capture([source], out)
    rows = read_capture(out).to_pylist()
    links = [(row["idx"], link["src_idx"], link["src"], link["dst"], link["kind"]) for row in rows
             for link in row["links"]]  # fmt: skip
    assert links == [
        (1, 0, "json:$.token", "header:Authorization", "token"),
        (2, 1, "json:$.order.id", "path", "id"),
        (2, 0, "json:$.token", "header:Authorization", "token"),
    ]
    assert len({row["session"] for row in rows}) == 1  # the login joined its token's requests
    assert meta.links.links == 3
    # the stored value is what the stored request holds: the token's pseudonym
    token_link = next(link for link in rows[1]["links"] if link["kind"] == "token")
    assert token_link["value"] != TOKEN
    assert f"Bearer {token_link['value']}" in {h["value"] for h in rows[1]["headers"]}


def test_location_routes_of_the_notes_recording(tmp_path: Path) -> None:
    out = tmp_path / "notes.capture.parquet"
    import_capture([ROOT / "captures" / "notes-demo.gor"], out)
    table = read_capture(out, ["method", "route", "orig_status", "orig_location_route"])
    seen = Counter(
        zip(
            table.column("method").to_pylist(),
            table.column("route").to_pylist(),
            table.column("orig_status").to_pylist(),
            table.column("orig_location_route").to_pylist(),
            strict=True,
        )
    )
    with_location = {k: n for k, n in seen.items() if k[3] is not None}
    # every redirect and every created note says where it went, as a route
    assert sum(n for k, n in seen.items() if k[2] == 302) == 166
    assert all(k[3] is not None for k in seen if k[2] == 302)
    assert ("POST", "/notes", 302, "/notes/{id}") in with_location
    assert ("POST", "/login", 302, "/notes") in with_location
    assert ("POST", "/api/notes", 201, "/api/notes/{id}") in with_location
    assert all(k[2] in (201, 302) for k in with_location)
