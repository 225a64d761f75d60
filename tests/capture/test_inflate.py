"""Compressed capture input: bounded inflation, and nothing lost that a good member held."""

from __future__ import annotations

import gzip
import io
import random
import tracemalloc
from pathlib import Path

import pytest

from harness.capture.inflate import BREAK, TRUNCATED, InflatedStream, blocks
from harness.capture.limits import InputLimits, MiB, parse_size, size_text
from harness.capture.record import SkipLog
from harness.errors import CaptureError


def _random_text(n: int, seed: int = 3) -> bytes:
    """Text that compresses about 2:1, so a corruption lands inside real deflate blocks."""
    rng = random.Random(seed)
    words = [
        bytes(rng.choice(b"abcdefghij ") for _ in range(rng.randint(2, 9))) for _ in range(4000)
    ]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words) + b" "
    return bytes(out[:n])


def _read(path: Path, limits: InputLimits | None = None) -> tuple[list[bytes], SkipLog]:
    skips = SkipLog()
    return list(blocks(path, skips, limits or InputLimits())), skips


def _data(parts: list[bytes]) -> bytes:
    return b"".join(p for p in parts if p is not BREAK and p is not TRUNCATED)


def test_plain_file_passes_through(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    content = _random_text(3 * MiB)
    path.write_bytes(content)
    parts, skips = _read(path)
    assert _data(parts) == content and skips.total == 0
    assert max(len(p) for p in parts) <= MiB


def test_concatenated_members_are_one_stream(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"first ") + gzip.compress(b"second ") + gzip.compress(b"third"))
    parts, skips = _read(path)
    assert _data(parts) == b"first second third" and skips.total == 0


def test_a_good_member_followed_by_a_corrupt_one_keeps_the_good_one(tmp_path: Path) -> None:
    good = _random_text(200_000)
    first = gzip.compress(good)
    path = tmp_path / "x.gz"
    path.write_bytes(first + b"\x1f\x8b\x08\x00" + b"\xff" * 300)
    parts, skips = _read(path)
    assert _data(parts) == good
    assert parts[-1] is TRUNCATED  # nothing after the break to resume at
    ((where,),) = skips.examples.values()
    offset = int(where.rsplit(" ", 1)[1])
    assert skips.counts == {"corrupt gzip data": 1}
    assert len(first) <= offset < len(first) + 12  # in the second member's header


def test_corruption_inside_a_member_keeps_what_came_before_it(tmp_path: Path) -> None:
    original = _random_text(600_000, seed=8)
    packed = bytearray(gzip.compress(original))
    middle = len(packed) // 2
    packed[middle : middle + 16] = b"\xff" * 16
    path = tmp_path / "x.gz"
    path.write_bytes(bytes(packed))
    parts, skips = _read(path)
    assert parts[-1] is TRUNCATED  # the reader drops the record the break falls in
    kept = _data(parts)
    same = next(i for i, (a, b) in enumerate(zip(kept, original, strict=False)) if a != b)
    # what deflate gave before the corrupt bytes is kept, not lost with the failing call (the
    # bytes between the corruption and where deflate notices it may be garbage)
    assert same > len(original) // 3
    assert skips.counts == {"corrupt gzip data": 1}
    # where deflate noticed it: at the corrupt bytes or later (at worst the CRC at the end)
    offset = int(next(iter(skips.examples.values()))[0].rsplit(" ", 1)[1])
    assert middle <= offset <= len(packed)


def test_reading_resumes_at_the_next_member(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(
        gzip.compress(b"A" * 1000) + b"\x1f\x8b\x08\x00junk" + gzip.compress(b"B" * 1000)
    )
    parts, skips = _read(path)
    assert BREAK in parts
    data = _data(parts)
    assert data == b"A" * 1000 + b"B" * 1000
    assert skips.counts == {"corrupt gzip data": 1}


def test_truncated_member_ends_with_the_marker(tmp_path: Path) -> None:
    content = _random_text(300_000)
    packed = gzip.compress(content)
    path = tmp_path / "x.gz"
    path.write_bytes(packed[: len(packed) // 2])
    parts, skips = _read(path)
    assert parts[-1] is TRUNCATED
    assert content.startswith(_data(parts)) and len(_data(parts)) > 0
    assert skips.total == 0  # the reader counts the record cut short


@pytest.mark.parametrize(("tail", "skipped"), [(b"\0" * 5000, 0), (b"trailing junk", 1)])
def test_after_the_last_member(tmp_path: Path, tail: bytes, skipped: int) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"data") + tail)
    parts, skips = _read(path)
    assert _data(parts) == b"data"
    assert skips.total == skipped


def _bomb(path: Path, mib: int) -> Path:
    with gzip.open(path, "wb", compresslevel=9) as out:
        for _ in range(mib):
            out.write(b"\0" * MiB)
    return path


def test_ratio_limit_stops_a_bomb_early_in_little_memory(tmp_path: Path) -> None:
    path = _bomb(tmp_path / "bomb.gz", 256)
    limits = InputLimits(ratio_floor_bytes=4 * MiB)
    tracemalloc.start()
    try:
        with pytest.raises(CaptureError) as err:
            _read(path, limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert message.startswith(f"{path}: byte ")
    assert "more than 200 times (a gzip bomb?" in message
    assert peak < 8 * MiB


def test_size_limit(tmp_path: Path) -> None:
    path = _bomb(tmp_path / "big.gz", 6)
    limits = InputLimits(max_inflated_bytes=4 * MiB, max_ratio=10_000)
    with pytest.raises(
        CaptureError, match=r"byte \d+: inflates past 4 MiB \(--max-inflated-size\)"
    ):
        _read(path, limits)


def test_inflated_stream_reads_and_says_when_cut(tmp_path: Path) -> None:
    content = _random_text(500_000)
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(content))
    with io.BufferedReader(InflatedStream(path, SkipLog())) as stream:
        assert stream.read() == content
    packed = gzip.compress(content)
    path.write_bytes(packed[: len(packed) // 2])
    raw = InflatedStream(path, SkipLog())
    with io.BufferedReader(raw) as stream:
        assert content.startswith(stream.read())
    assert raw.cut


def test_unreadable_sources(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="is a directory"):
        _read(tmp_path)
    with pytest.raises(CaptureError, match="cannot open"):
        _read(tmp_path / "absent")


@pytest.mark.parametrize(
    ("text", "size"),
    [("16M", 16 * MiB), ("16MiB", 16 * MiB), ("2G", 2 << 30), ("512k", 512 << 10), ("4096", 4096)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size
    assert InputLimits(max_record_bytes=text).max_record_bytes == size  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "lots", "-1M", "1e400", "16Q"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


def test_size_text() -> None:
    assert [size_text(n) for n in (900, 2048, 16 * MiB, 3 << 30)] == [
        "900 B",
        "2 KiB",
        "16 MiB",
        "3 GiB",
    ]
