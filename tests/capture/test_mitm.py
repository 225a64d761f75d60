"""mitmproxy reader: every real flow file, and flow kinds written here with mitmproxy itself."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from mitmproxy import http, io
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
    # each response's latency and body hash as mitmproxy's own reader gives them
    assert sorted(
        (e.ts_ns, e.orig_status, e.orig_latency_ns, e.orig_body_sha256)
        for e in exchanges
        if e.orig_status is not None
    ) == sorted(_responses(DATA / name))


def _responses(path: Path) -> list[tuple[int, int, int, str]]:
    """(request start ns, status, response end minus request start in ns, body SHA-256) of
    every HTTP flow with a response, read by mitmproxy's FlowReader."""
    found = []
    with path.open("rb") as fh:
        for flow in io.FlowReader(fh).stream():
            if not isinstance(flow, http.HTTPFlow) or flow.response is None:
                continue
            start = flow.request.timestamp_start
            end = flow.response.timestamp_end or flow.response.timestamp_start or start
            latency = round(max(end - start, 0) * 1e9)
            sha = hashlib.sha256(flow.response.raw_content or b"").hexdigest()
            found.append((round(start * 1e9), flow.response.status_code, latency, sha))
    return found


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


# --- odd, old and hostile flow files: each bad flow skipped and counted, never a crash ----------


def _states() -> list[dict[str, object]]:
    from mitmproxy.io import tnetstring

    view = memoryview((DATA / "flows-successful_log.mitm").read_bytes())
    states = []
    while view:
        value, view = tnetstring.pop(view)
        states.append(value)
    return states  # type: ignore[return-value]


def _write(path: Path, *values: object, raw: bytes = b"") -> Path:
    from mitmproxy.io import tnetstring

    path.write_bytes(raw + b"".join(tnetstring.dumps(v) for v in values))  # type: ignore[arg-type]
    return path


def _changed(change: object) -> dict[str, object]:
    import copy

    state = copy.deepcopy(_states()[0])
    change(state)  # type: ignore[operator]
    return state


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s: s.pop("type"), "invalid mitmproxy flow (KeyError 'type')"),
        (lambda s: s.pop("request"), "invalid mitmproxy flow (KeyError 'request')"),
        (lambda s: s.__setitem__("request", [1, 2]), "invalid mitmproxy flow"),
        (
            lambda s: s.__setitem__("version", "x"),
            "invalid mitmproxy flow (flow format version refused)",
        ),
        (
            lambda s: s["response"].__setitem__("status_code", 99999999999),
            "mitmproxy flow with values out of range",
        ),
        (
            lambda s: s["request"].__setitem__("timestamp_start", float("nan")),
            "mitmproxy flow with values out of range",
        ),
        (
            lambda s: s["request"].__setitem__("timestamp_start", 1e30),
            "mitmproxy flow with values out of range",
        ),
        (
            lambda s: s["request"].__setitem__("path", b"/a\nb"),
            "mitmproxy flow with values out of range",
        ),
        (lambda s: s["request"].__setitem__("timestamp_start", b"x"), "invalid mitmproxy flow"),
    ],
)
def test_a_flow_of_odd_shape_is_skipped_and_the_rest_kept(
    tmp_path: Path, change: object, reason: str
) -> None:
    good = _states()[1]
    exchanges, skips = read(_write(tmp_path / "odd.mitm", _changed(change), good))
    assert len(exchanges) == 1
    assert skips.total == 1
    (found,) = skips.counts
    assert found.startswith(reason)
    assert skips.examples[found] == ["odd.mitm:1"]


@pytest.mark.parametrize("value", [5, [1, 2, 3], b"just bytes", None])
def test_a_flow_that_is_not_a_mapping(tmp_path: Path, value: object) -> None:
    exchanges, skips = read(_write(tmp_path / "v.mitm", value, _states()[1]))
    assert len(exchanges) == 1
    assert skips.counts == {"invalid mitmproxy flow (not a mapping)": 1}


def test_length_prefix_of_a_terabyte_is_refused_without_allocating(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "huge.mitm"
    path.write_bytes(b"999999999999:" + b"x" * 1000)
    tracemalloc.start()
    try:
        with pytest.raises(CaptureError) as err:
            read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(err.value) == (
        f"{path}: byte 0: not a mitmproxy flow file (cut off by the end of the file)"
    )
    assert peak < 4 << 20


def test_good_flows_then_a_cut_frame_keep_the_good_ones(tmp_path: Path) -> None:
    states = _states()
    exchanges, skips = read(_write(tmp_path / "cut.mitm", *states, raw=b""))
    assert len(exchanges) == 2
    path = tmp_path / "cut.mitm"
    path.write_bytes(path.read_bytes() + b"999999999999:xx")
    exchanges, skips = read(path)
    assert len(exchanges) == 2
    assert skips.examples == {"truncated input": ["cut.mitm:3"]}


def test_a_frame_over_the_size_limit_is_read_past(tmp_path: Path) -> None:
    from harness.capture.limits import InputLimits

    big = _changed(lambda s: s["request"].__setitem__("content", b"x" * (3 << 20)))  # type: ignore[index]
    path = _write(tmp_path / "big.mitm", big, _states()[1])
    skips = SkipLog()
    exchanges = list(read_mitm(path, skips, limits=InputLimits(max_record_bytes=1 << 20)))
    assert len(exchanges) == 1
    assert skips.examples == {"record larger than the size limit": ["big.mitm:1"]}


def test_deep_nesting_is_measured_before_it_is_parsed(tmp_path: Path) -> None:
    from mitmproxy.io import tnetstring

    nest = b"0:~"
    for _ in range(5000):
        nest = b"%d:%s]" % (len(nest), nest)
    inner = tnetstring.dumps("type") + tnetstring.dumps("http") + tnetstring.dumps("x") + nest
    path = tmp_path / "deep.mitm"
    path.write_bytes(b"%d:%s}" % (len(inner), inner) + tnetstring.dumps(_states()[1]))  # type: ignore[arg-type]
    exchanges, skips = read(path)
    assert len(exchanges) == 1
    assert skips.counts == {"invalid mitmproxy flow (nested more than 100 levels deep)": 1}


def test_nesting_depth_scan() -> None:
    from harness.capture.flowfile import nesting_within

    nest = b"0:~"
    for _ in range(30):
        nest = b"%d:%s]" % (len(nest), nest)
    assert nesting_within(memoryview(nest[nest.index(b":") + 1 : -1]), 31)
    assert not nesting_within(memoryview(nest[nest.index(b":") + 1 : -1]), 29)
    real = (DATA / "flows-successful_log.mitm").read_bytes()
    colon = real.index(b":")
    payload = memoryview(real[colon + 1 : colon + 1 + int(real[:colon])])
    assert nesting_within(payload, 6)  # a real flow: dict, request, headers, pair, value
    assert not nesting_within(payload, 2)


def test_not_a_flow_file_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "text.mitm"
    path.write_bytes(b"hello, not a flow file")
    with pytest.raises(CaptureError) as err:
        read(path)
    assert (
        str(err.value)
        == f"{path}: byte 0: not a mitmproxy flow file (not a tnetstring (no length prefix))"
    )


def test_gzip_compressed_flow_file(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "f.mitm.gz"
    path.write_bytes(gzip.compress((DATA / "flows-successful_log.mitm").read_bytes()))
    exchanges, skips = read(path)
    assert len(exchanges) == 2 and skips.total == 0


def test_undecodable_host_bytes_skip_the_flow(tmp_path: Path) -> None:
    # found by the long fuzz run: mitmproxy keeps such bytes as surrogate escapes, which the
    # capture file's string columns cannot hold (was exit 70 from Arrow)
    def change(state: dict[str, object]) -> None:
        request = state["request"]
        assert isinstance(request, dict)
        request["authority"] = b"caf\xe9.example"

    exchanges, skips = read(_write(tmp_path / "h.mitm", _changed(change), _states()[1]))
    assert len(exchanges) == 1
    assert skips.examples == {"mitmproxy flow with values out of range": ["h.mitm:1"]}
