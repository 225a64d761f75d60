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
