"""Batch redaction of header lines agrees with the per-line code, in both modes."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from harness.capture.pseudonym import PseudonymKey
from harness.capture.redact import Redactor
from harness.capture.redact_batch import HeaderRedaction
from harness.capture.store import HeaderLines

KEY = PseudonymKey(b"b" * 32, "test")
NAMES = [
    "Cookie", "cookie ", "Authorization", "X-Api-Key", "X-Custom-Auth", "Host", "Referer",
    "User-Agent", "X-Other", "Accept", "X-Session-Token", "Content-Length", "From", " Cookie",
]  # fmt: skip
VALUES = [
    "sid=abc; lang=en", "Bearer eyJabcd.efghij.klmn", "ann@acme.io", "u:p@host.example",
    "https://x.example/reset/Ab3dE5fG7h?token=zzz", "4111 1111 1111 1111", "plain text",
    "Q2hlY2tUaGlzU2VjcmV0VmFsdWUx", "AKIAIOSFODNN7EXAMPLE", "1234567890123", "", "x",
    "caf\xe9", "a%40b.example",
]  # fmt: skip


def _heads(rng: random.Random, n: int) -> list[str | None]:
    heads: list[str | None] = []
    for _ in range(n):
        lines = []
        for _ in range(rng.randint(0, 6)):
            if rng.random() < 0.1:
                lines.append(rng.choice(VALUES))  # a line without colon
            else:
                sep = rng.choice([": ", ":", " :\t"])
                end = rng.choice(["", "\r", " \r"])
                lines.append(rng.choice(NAMES) + sep + rng.choice(VALUES) + end)
        heads.append("\n".join(lines) or None)
    return heads


@pytest.mark.parametrize("mode", ["pseudonym", "mask"])
def test_batch_lines_match_the_per_line_code(mode: str) -> None:
    rng = random.Random(7)
    heads = _heads(rng, 400)
    one = Redactor(mode=mode, key=KEY)  # type: ignore[arg-type]
    many = Redactor(mode=mode, key=KEY)  # type: ignore[arg-type]
    lines = HeaderLines(pa.array(heads, pa.string()))
    names, values = HeaderRedaction(many).redact(lines)
    got = lines.column(names, values).to_pylist()
    expected = []
    for head in heads:
        row = []
        for line in head.split("\n") if head else []:
            name, colon, value = line.partition(":")
            if colon:
                new = one.redact_line(name, value.strip(" \t\r"))
            else:
                new = one.redact_line(line, "", colon=False)
            row.append({"name": new[0], "value": new[1]})
        expected.append(row)
    assert got == expected
    assert many.counts == one.counts
    assert many.counts["cookie"] > 0 and many.counts["header-entropy"] > 0


def test_unchanged_paths_stay_the_same_objects_after_a_cache_hit() -> None:
    from harness.capture.routes import RouteTemplater

    batch = HeaderRedaction(Redactor(key=KEY))
    templater = RouteTemplater()
    paths = ["/a/1", "/b?q=1", "/users/ann@acme.io"]
    routes = [templater.route(p) for p in paths]
    for _ in range(2):  # the second round hits the redactor's path cache
        copies = ["".join(p) for p in paths]  # equal strings, other objects
        new_paths, new_routes = batch.redact_paths(copies, routes, templater)
        assert new_paths[:2] == copies[:2] and all(
            a is b for a, b in zip(new_paths[:2], copies[:2], strict=True)
        )
        assert "ann@acme.io" not in new_paths[2] and new_routes[2] == "/users/{id}"


# -- credentials in paths (rule path-credential): the batch gives what exchange by exchange gives

WORDS = ["abcdefgh", "a.aa.a.a", "letmeinplease", "alice.smith", "dark", "12345678"]


def _traffic(rng: random.Random, n: int) -> tuple[list[str | None], list[str]]:
    """Requests that send word-like credentials (or not) and paths that hold them (or not)."""
    heads: list[str | None] = []
    paths: list[str] = []
    for _ in range(n):
        word = rng.choice(WORDS)
        lines = rng.choice(
            [
                [f"Authorization: Bearer {word}"],
                [f"Cookie: sid={word}; theme=dark", "Accept: */*"],
                [f"X-Api-Key: {word}"],
                [f"X-Other: {word}"],  # not a credential
                ["Accept: */*"],
                [],
            ]
        )
        heads.append("\n".join(lines) or None)
        word = rng.choice(WORDS)
        paths.append(
            rng.choice(
                [
                    f"/tokens/{word}",
                    f"/a/{word};v=1/b",
                    f"/x/k={word}?q=1",
                    f"/q/{word}?access_token={rng.choice(WORDS)}",
                    "/static/app.js",
                    f"/users/{word}/orders",
                ]
            )
        )
    return heads, paths


@pytest.mark.parametrize("mode", ["pseudonym", "mask"])
@pytest.mark.parametrize(
    "memory",
    [
        (16_384, 1024, 65_536),  # the defaults
        (6, 3, 4),  # values forgotten, and sweeps over the limit, inside batches
        (2, 1, 1),
        (40, 7, 3),
    ],
)
def test_batch_paths_take_sent_credentials_as_the_per_record_code(
    mode: str, memory: tuple[int, int, int]
) -> None:
    from harness.capture.record import Exchange
    from harness.capture.routes import RouteTemplater
    from harness.capture.sentcredentials import SentCredentials
    from harness.capture.urlsecrets import secret_segments_as

    rng = random.Random(11)
    heads, paths = _traffic(rng, 600)
    templater = RouteTemplater()
    one = Redactor(mode=mode, key=KEY)  # type: ignore[arg-type]
    one.sent = SentCredentials(*memory)
    expected_paths, expected_routes = [], []
    for head, path in zip(heads, paths, strict=True):
        e = Exchange(0, "GET", "http", "h", path, "HTTP/1.1", head or "", b"", "f:1")
        one.redact(e)
        expected_paths.append(e.path)
        marked = secret_segments_as(path, e.path, templater.placeholder)
        expected_routes.append(templater.route(marked if e.path != path else path))
    many = Redactor(mode=mode, key=KEY)  # type: ignore[arg-type]
    many.sent = SentCredentials(*memory)
    batch = HeaderRedaction(many)
    got_paths: list[str] = []
    got_routes: list[str] = []
    start = 0
    while start < len(paths):  # batches of any size, as a chunk ends where it must
        end = min(len(paths), start + rng.choice([1, 2, 5, 17, 64, 200]))
        lines = HeaderLines(pa.array(heads[start:end], pa.string()))
        batch.redact(lines)
        chunk = paths[start:end]
        new_paths, new_routes = batch.redact_paths(
            chunk, [templater.route(p) for p in chunk], templater, lines
        )
        got_paths += new_paths
        got_routes += new_routes
        start = end
    assert got_paths == expected_paths
    assert got_routes == expected_routes
    assert many.counts == one.counts
    assert many.sent.exchanges == one.sent.exchanges == len(paths)
    assert dict(many.sent.last) == dict(one.sent.last)
    replaced = one.counts["path-credential"]
    assert replaced > 50
    if memory[0] < 10:  # some were forgotten: fewer than with the defaults
        assert "{id}" in "".join(got_routes)
        assert any(w in p for w in ("abcdefgh", "letmeinplease") for p in got_paths)
