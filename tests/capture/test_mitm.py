"""mitmproxy reader: every real flow file, and flow kinds written here with mitmproxy itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from mitmproxy import io
from mitmproxy.test import tflow

from harness.capture.mitm import read_mitm
from harness.capture.record import Exchange, SkipLog
from harness.errors import CaptureError

DATA = Path(__file__).parent / "data"

# file -> (HTTP flows, flows with a response, websocket messages skipped)
EXPECTED = {
    "dumpfile-011.mitm": (1, 1, 0),
    "dumpfile-018.mitm": (1, 1, 0),
    "dumpfile-019.mitm": (1, 0, 0),
    "dumpfile-10.mitm": (1, 0, 0),
    "dumpfile-19.mitm": (1, 1, 0),
    "dumpfile-7.mitm": (2, 2, 0),
    "dumpfile-7-websocket.mitm": (6, 5, 6),
    "flows-successful_log.mitm": (2, 2, 0),
    "flows-incomplete_log.mitm": (4, 0, 0),
    "flows-websocket.mitm": (3, 3, 5),
    "flows-corrupted_gzip_body.mitm": (1, 1, 0),
}


def read(path: Path) -> tuple[list[Exchange], SkipLog]:
    skips = SkipLog()
    return list(read_mitm(path, skips)), skips


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_flow_files(name: str) -> None:
    flows, with_response, ws_messages = EXPECTED[name]
    exchanges, skips = read(DATA / name)
    assert len(exchanges) == flows
    assert sum(e.orig_status is not None for e in exchanges) == with_response
    assert skips.counts.get("websocket message", 0) == ws_messages
    assert skips.total == ws_messages
    for ex in exchanges:
        assert ex.method and ex.path.startswith("/") and ex.host
        assert ex.source.startswith(name + ":")
        assert not any(line.startswith(":") for line in ex.head.split("\n"))
        if ex.orig_status is not None:
            assert ex.orig_latency_ns is not None and ex.orig_latency_ns >= 0
            assert ex.orig_body_sha256 is not None and len(ex.orig_body_sha256) == 64


def test_refused_format_version_names_file_and_version() -> None:
    with pytest.raises(CaptureError) as err:
        read(DATA / "dumpfile-010.mitm")
    message = str(err.value)
    assert "dumpfile-010.mitm" in message
    assert "(0, 10)" in message
    assert "\n" not in message


def test_client_address_is_kept_for_sessions() -> None:
    exchanges, _ = read(DATA / "dumpfile-7.mitm")
    assert [e.client for e in exchanges] == ["127.0.0.1:64276", "127.0.0.1:64278"]


def test_tcp_udp_dns_flows_are_skipped_with_reasons(tmp_path: Path) -> None:
    path = tmp_path / "mixed.mitm"
    http = tflow.tflow(resp=True)
    with path.open("wb") as fo:
        writer = io.FlowWriter(fo)
        for flow in (
            http,
            tflow.ttcpflow(),
            tflow.tudpflow(),
            tflow.tdnsflow(),
            tflow.twebsocketflow(),
        ):
            writer.add(flow)
    exchanges, skips = read(path)
    assert len(exchanges) == 2  # the plain HTTP flow and the websocket's upgrade request
    assert skips.counts["tcp flow"] == 1
    assert skips.counts["udp flow"] == 1
    assert skips.counts["dns flow"] == 1
    assert skips.counts["websocket message"] == len(tflow.twebsocketflow().websocket.messages)
    assert skips.examples["tcp flow"] == ["mixed.mitm:2"]


def test_data_broken_after_some_flows_keeps_them(tmp_path: Path) -> None:
    good = (DATA / "dumpfile-7.mitm").read_bytes()
    path = tmp_path / "broken.mitm"
    path.write_bytes(good + b"123:this is not a tnetstring")
    exchanges, skips = read(path)
    assert len(exchanges) == 2
    assert skips.counts["truncated input"] == 1


def test_random_bytes_are_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "noise.mitm"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CaptureError, match=r"noise\.mitm"):
        read(path)
