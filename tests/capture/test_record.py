"""Header text helpers and the skip log."""

from __future__ import annotations

from harness.capture.record import SkipLog, header_value, join_headers, split_headers


def test_join_split_round_trip_and_lookup() -> None:
    pairs = [("Host", "a:1"), ("X-Multi", "one\r\ntwo"), ("Cookie", "a=b")]
    head = join_headers(pairs)
    assert head == "Host: a:1\nX-Multi: one  two\nCookie: a=b"
    assert split_headers(head) == [("Host", "a:1"), ("X-Multi", "one  two"), ("Cookie", "a=b")]
    assert header_value(head, "COOKIE") == "a=b"
    assert header_value("Host: x\r\nAccept: */*\r", "accept") == "*/*"
    assert header_value(head, "X-Host") is None
    assert split_headers("") == []


def test_skip_log_counts_and_keeps_a_few_examples() -> None:
    log = SkipLog()
    for i in range(8):
        log.add("bad record header", f"f.gor:{i}")
    log.add("tcp flow", "f.mitm:3", n=2)
    assert log.total == 10
    assert log.examples["bad record header"] == [f"f.gor:{i}" for i in range(5)]
    assert log.summary().startswith("bad record header x8 (f.gor:0, ")
