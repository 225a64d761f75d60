"""Synthetic stateful traffic as GoReplay records it: logins, tokens, created ids, CSRF forms.

Each API client logs in (the token comes back in the JSON body), creates articles (slug and id
in the body, a ``Location``), reads them, comments on them and deletes its comments by id. Each
browser client fetches a login form (CSRF token in a hidden input and a cookie), posts it (a
session cookie comes back with a redirect), creates orders through forms (redirect to the new
order's page) and reads them. Some answers are gzip-compressed or chunked, as on the wire.

:func:`stateful_traffic` returns the records and the links a correct learner must find, by kind.
Record ids follow GoReplay 1.3 (client port, server port, client address, sequence number), so
each client's keep-alive connection is visible, but a client opens a new connection now and then.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field

from tests.capture.gorfiles import GorRecord

MS = 1_000_000
T0 = 1_700_000_000_000_000_000


@dataclass
class Traffic:
    """Records in time order, and the links expected by kind."""

    records: list[GorRecord] = field(default_factory=list)
    expected: Counter[str] = field(default_factory=Counter)
    requests: int = 0


def _jwt(client: int, rng: random.Random) -> str:
    def part(doc: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    sig = base64.urlsafe_b64encode(rng.randbytes(24)).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256'})}.{part({'sub': client, 'n': rng.random()})}.{sig}"


#: what every client sends too (standard headers: never a link's place)
_COMMON = [
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36"),
    ("Accept-Language", "en-US,en;q=0.9,de;q=0.8"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("Connection", "keep-alive"),
    ("Referer", "http://shop.example:8080/"),
]  # fmt: skip


def _request(method: str, path: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: shop.example:8080",
        *(f"{k}: {v}" for k, v in _COMMON),
        *(f"{k}: {v}" for k, v in headers),
    ]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _response(
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    gz: bool = False,
    chunked: bool = False,
) -> bytes:
    if gz:
        body = gzip.compress(body, mtime=0)
        headers = [*headers, ("Content-Encoding", "gzip")]
    if chunked:
        half = len(body) // 2
        framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:half], body[half:]) if p)
        body = framed + b"0\r\n\r\n"
        headers = [*headers, ("Transfer-Encoding", "chunked")]
    else:
        headers = [*headers, ("Content-Length", str(len(body)))]
    lines = [f"HTTP/1.1 {status} X", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _listing(rng: random.Random) -> bytes:
    """A page of ten articles by other users (none of their values is used later)."""
    articles = [
        {
            "slug": f"other-{rng.getrandbits(40):010x}",
            "id": rng.randrange(10**6),
            "title": "An article about retries and budgets",
            "description": "What happens to a service when its database goes away for a while",
            "tagList": ["postgres", "resilience"],
            "createdAt": "2026-11-28T12:00:00.000Z",
            "favorited": False,
            "favoritesCount": rng.randrange(100),
            "author": {"username": f"author{rng.randrange(1000)}", "following": False},
        }
        for _ in range(10)
    ]
    return json.dumps({"articles": articles, "articlesCount": 10}).encode()


class _Client:
    def __init__(self, n: int, traffic: Traffic, rng: random.Random, start: int) -> None:
        self.n = n
        self.t = traffic
        self.rng = rng
        self.ts = start
        self.port = 20000 + n
        self.seq = rng.getrandbits(32)

    def exchange(
        self, request: bytes, response: bytes, latency_ms: float = 2.0, new_connection: bool = False
    ) -> None:
        if new_connection:
            self.port += 1000
        rid = f"{self.port:04x}1f900a00{self.n % 256:02x}{self.n // 256 % 256:02x}{self.seq:08x}"
        self.seq = (self.seq + 7919) % (1 << 32)
        latency = int(latency_ms * MS)
        self.t.records.append(GorRecord(1, rid, self.ts, request))
        self.t.records.append(GorRecord(2, rid, self.ts + latency, response, latency))
        self.t.requests += 1
        # think time after the answer
        self.ts += latency + int(self.rng.uniform(5, 50) * MS)


def _api_client(c: _Client, rounds: int) -> None:
    token = _jwt(c.n, c.rng)
    name = f"user{c.n}"
    body = json.dumps({"user": {"email": f"{name}@example.com", "password": "pw-" + name}})
    answer = {"user": {"username": name, "email": f"{name}@example.com", "token": token}}
    c.exchange(
        _request("POST", "/api/users/login", [("Content-Type", "application/json")], body.encode()),
        _response(200, [("Content-Type", "application/json")], json.dumps(answer).encode()),
    )
    auth = [("Authorization", f"Token {token}"), ("Content-Type", "application/json")]
    for k in range(rounds):
        slug = f"title-{c.n}-{k}-{c.rng.getrandbits(24):06x}"
        article_id = 1000 + c.n * 100 + k
        c.exchange(
            _request("POST", "/api/articles", auth, b'{"article": {"title": "T"}}'),
            _response(
                201,
                [("Content-Type", "application/json"), ("Location", f"/api/articles/{slug}")],
                json.dumps({"article": {"slug": slug, "id": article_id, "title": "T"}}).encode(),
                gz=k % 2 == 1,
            ),
            new_connection=k % 3 == 2,
        )
        c.t.expected["token"] += 1
        c.exchange(
            _request("GET", f"/api/articles/{slug}", auth[:1]),
            _response(
                200, [("Content-Type", "application/json")], b'{"article": {}}', chunked=True
            ),
        )
        c.t.expected["token"] += 1
        c.t.expected["id"] += 1
        comment = 50_000 + c.n * 100 + k
        c.exchange(
            _request(
                "POST", f"/api/articles/{slug}/comments", auth, b'{"comment": {"body": "hi"}}'
            ),
            _response(
                200,
                [("Content-Type", "application/json")],
                json.dumps({"comment": {"id": comment}}).encode(),
            ),
        )
        c.t.expected["token"] += 1
        c.t.expected["id"] += 1
        c.exchange(
            _request("DELETE", f"/api/articles/{slug}/comments/{comment}", auth[:1]),
            _response(204, [], b""),
        )
        c.t.expected["token"] += 1
        c.t.expected["id"] += 2
        c.exchange(
            _request("GET", "/api/articles?limit=10&offset=0", auth[:1]),
            _response(200, [("Content-Type", "application/json")], _listing(c.rng), gz=k % 2 == 0),
        )
        c.t.expected["token"] += 1


def _browser_client(c: _Client, rounds: int) -> None:
    csrf_cookie = hashlib.sha256(f"csrf{c.n}".encode()).hexdigest()[:32]
    csrf_form = hashlib.sha256(f"form{c.n}".encode()).hexdigest()[:40]
    page = (
        "<!DOCTYPE html><html><head><title>Shop</title>"
        '<link rel="stylesheet" href="/static/site.css"></head><body>'
        + '<nav><a href="/">Home</a> <a href="/orders">Orders</a></nav>'
        * 20
        + '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" '
        f'value="{csrf_form}"><input name="username"></form></body></html>'
    ).encode()
    html = [("Content-Type", "text/html; charset=utf-8")]
    c.exchange(
        _request("GET", "/login", [("Accept", "text/html")]),
        _response(200, [*html, ("Set-Cookie", f"csrftoken={csrf_cookie}; Path=/")], page, gz=True),
    )
    session = hashlib.sha256(f"session{c.n}".encode()).hexdigest()[:40]
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    c.exchange(
        _request(
            "POST", "/login", [*form, ("Cookie", f"csrftoken={csrf_cookie}")],
            f"csrfmiddlewaretoken={csrf_form}&username=u{c.n}&password=pw{c.n}".encode(),
        ),
        _response(
            302, [("Location", "/orders"), ("Set-Cookie", f"sessionid={session}; HttpOnly")], b""
        ),
    )  # fmt: skip
    c.t.expected["cookie"] += 1  # csrftoken cookie (its value is a cookie's)
    c.t.expected["csrf"] += 1  # the form field from the hidden input
    cookies = [("Cookie", f"csrftoken={csrf_cookie}; sessionid={session}")]
    for _ in range(rounds):
        order = f"ord-{c.rng.getrandbits(32):08x}"
        c.exchange(
            _request("GET", "/orders", [("Accept", "text/html"), *cookies]),
            _response(200, html, page),
        )
        c.t.expected["cookie"] += 2
        c.exchange(
            _request(
                "POST",
                "/orders",
                [*form, *cookies],
                f"csrfmiddlewaretoken={csrf_form}&item=7".encode(),
            ),
            _response(302, [("Location", f"/orders/{order}")], b""),
        )
        c.t.expected["cookie"] += 2
        c.t.expected["csrf"] += 1
        c.exchange(
            _request("GET", f"/orders/{order}", [("Accept", "text/html"), *cookies]),
            _response(200, html, b"<html>order</html>"),
        )
        c.t.expected["cookie"] += 2
        c.t.expected["id"] += 1


def stateful_traffic(
    api: int = 3,
    browsers: int = 2,
    rounds: int = 3,
    seed: int = 1,
    first_client: int = 0,
    t0: int = T0,
) -> Traffic:
    """Interleaved traffic of ``api`` API clients and ``browsers`` browsers, oldest first.

    Clients are numbered from ``first_client`` (their tokens and ids differ by number) and start
    3 ms apart from ``t0``; a benchmark writes many such waves one after the other.
    """
    rng = random.Random(seed)
    traffic = Traffic()
    for i in range(api + browsers):
        n = first_client + i
        client = _Client(n, traffic, random.Random(rng.random()), t0 + i * 3 * MS)
        if i < api:
            _api_client(client, rounds)
        else:
            _browser_client(client, rounds)
    traffic.records.sort(key=lambda r: (r.ts, r.kind))
    return traffic
