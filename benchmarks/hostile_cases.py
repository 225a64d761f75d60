"""The malformed inputs of the hostile-input campaign (``benchmarks/hostile_inputs.py``).

Every case is a file (or a few) written into a folder and the ``harness`` command that reads
it. The captures start from real recordings (``captures/payments-demo.gor`` and ``.mitm``,
the HAR exports and mitmproxy flow files of ``tests/capture/data``) and break them the ways
real files break or hostile files are made: cut, corrupted, re-encoded, oversized, nested,
out of range, of other shapes. The scenario, stack and capture-config cases break a valid
scenario of the demo in the same spirit. ``expect`` says what a correct harness does:
``"3"`` (refused, one line naming a place), ``"0"`` (imported or clean, damage counted) or
``"0|3"`` (either is fine: the case is about never crashing).
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "capture" / "data"
DEMO_GOR = ROOT / "captures" / "payments-demo.gor"
DEMO_MITM = ROOT / "captures" / "payments-demo.mitm"
MONKEYS = "🐵🙈🙉".encode()
SEP = b"\n" + MONKEYS + b"\n"
MiB = 1 << 20

Content = bytes | Callable[[Path], None]


@dataclass
class Case:
    """One hostile input: ``files`` (name -> bytes, or a writer for large ones) and the
    ``harness`` arguments that read it (``{dir}`` is the case's folder)."""

    name: str
    kind: str
    files: dict[str, Content]
    argv: list[str]
    expect: str = "0|3"
    #: a text the output (stdout and stderr) must hold for the case to count as expected
    mentions: list[str] = field(default_factory=list)
    bomb: bool = False


def _import(name: str, *extra: str) -> list[str]:
    return ["capture", "import", f"{{dir}}/{name}", "-o", "{dir}/out.capture.parquet", *extra]


# --- GoReplay ---------------------------------------------------------------------------------


def gor_records(limit: int = 40) -> list[bytes]:
    """The first ``limit`` records of the demo's GoReplay file (requests and responses)."""
    parts = DEMO_GOR.read_bytes().split(SEP)
    return [p for p in parts if p.strip()][:limit]


def gor_file(records: list[bytes], sep: bytes = SEP) -> bytes:
    return b"".join(r + sep for r in records)


def _replace_header(record: bytes, fields: bytes) -> bytes:
    _, _, payload = record.partition(b"\n")
    return fields + b"\n" + payload


def _gor_cases() -> list[Case]:
    recs = gor_records()
    good = gor_file(recs)
    req = recs[0]
    resp = next(r for r in recs if r.startswith(b"2 "))
    rid = req.split()[1]
    ts = int(req.split()[2])
    payload = req.partition(b"\n")[2]
    cases: list[Case] = []

    def gor(name: str, data: bytes, expect: str = "0|3", *mentions: str) -> None:
        cases.append(Case(name, "gor", {"in.gor": data}, _import("in.gor"), expect, list(mentions)))

    def with_first(fields: bytes, name: str, expect: str = "0", *mentions: str) -> None:
        gor(name, gor_file([_replace_header(req, fields), *recs[1:]]), expect, *mentions)

    with_first(b"1 " + rid + b" " + b"9" * 30, "gor: 30-digit timestamp", "0", "skipped")
    with_first(b"1 " + rid + b" 9999999999999999999", "gor: timestamp past int64", "0", "skipped")
    with_first(b"1 " + rid + b" -5", "gor: negative timestamp", "0", "skipped")
    with_first(b"1 " + rid + b" +5", "gor: timestamp with plus sign", "0", "skipped")
    with_first(b"1 " + rid + b" 1_000", "gor: timestamp with underscore", "0", "skipped")
    with_first(b"1 " + rid + b" 12ab", "gor: timestamp with letters", "0", "skipped")
    with_first(b"1 " + rid, "gor: header without timestamp", "0", "skipped")
    with_first(b"4 " + rid + b" " + str(ts).encode(), "gor: record type 4", "0", "skipped")
    with_first(b"x " + rid + b" " + str(ts).encode(), "gor: record type x", "0", "skipped")
    with_first(b"1 a b c d e", "gor: six header fields", "0", "skipped")
    with_first(b"1 " + rid + b" " + str(ts).encode() + b" " + b"9" * 40, "gor: 40-digit latency")
    with_first(b"1 " + b"\xff\xfe" * 20 + b" " + str(ts).encode(), "gor: binary request id")
    with_first(b"1 " + rid + b" 0", "gor: timestamp zero (1970)")
    bad_status = [
        (b"HTTP/1.1 99999999999 OK", "gor: status 99999999999"),
        (b"HTTP/1.1 abc OK", "gor: status abc"),
        (b"HTTP/1.1 000 Zero", "gor: status 000"),
        (b"HTTP/1.1 2000 Big", "gor: status 2000"),
        (b"NOTHTTP 200 OK", "gor: response line not HTTP"),
        (b"", "gor: empty response"),
    ]
    for line, name in bad_status:
        head, _, rest = resp.partition(b"\n")
        body = rest.partition(b"\n")[2] if line else b""
        broken = head + b"\n" + line + (b"\n" + body if line else b"")
        gor(name, gor_file([broken if r is resp else r for r in recs]), "0", "skipped")
    gor("gor: responses only", gor_file([r for r in recs if r.startswith(b"2 ")]), "3")
    replayed = [b"3" + r[1:] for r in recs if r.startswith(b"2 ")]
    gor("gor: replayed responses only", gor_file(replayed), "3", "replayed")
    bad_lines = [
        (b"GARBAGE", "gor: request line garbage"),
        (b"GET", "gor: request line of one word"),
        (b"G@T / HTTP/1.1", "gor: method not a token"),
        (b"GET / HTTP/9.9", "gor: HTTP/9.9"),
        (b"GET /a\x00b HTTP/1.1", "gor: NUL in target"),
        (b"GET " + b"/x" * 100_000 + b" HTTP/1.1", "gor: 200 kB target"),
        (b"GET http://[::1/x HTTP/1.1", "gor: broken IPv6 absolute target"),
    ]
    for line, name in bad_lines:
        rest = payload.partition(b"\n")[2]
        broken = req.partition(b"\n")[0] + b"\n" + line + b"\n" + rest
        gor(name, gor_file([broken, *recs[1:]]), "0")
    crlf = gor_file(recs, b"\r\n" + MONKEYS + b"\r\n")
    gor("gor: CRLF separators", crlf, "0", "19 requests")
    mixed = b"".join(
        r + (SEP if i % 2 else b"\r\n" + MONKEYS + b"\r\n") for i, r in enumerate(recs)
    )
    gor("gor: mixed LF and CRLF separators", mixed, "0", "19 requests")
    gor("gor: unix2dos on the whole file", good.replace(b"\n", b"\r\n"), "0", "19 requests")
    gor("gor: byte-order mark", b"\xef\xbb\xbf" + good, "0", "19 requests")
    gor("gor: byte-order mark and CRLF", b"\xef\xbb\xbf" + crlf, "0", "19 requests")
    gor("gor: no trailing separator", good[: -len(SEP)], "0", "19 requests")
    gor("gor: cut in the middle", good[: len(good) // 2], "0")
    gor("gor: cut inside a header line", good[: good.index(b"\n", 10) - 3], "0|3")
    gor("gor: only separators", SEP * 100, "3")
    gor("gor: only header lines", gor_file([r.partition(b"\n")[0] for r in recs]), "3")
    gor("gor: empty file", b"", "3", "empty")
    gor("gor: whitespace only", b" \n\r\n\t\n" * 100, "3")
    rng = random.Random(14)
    gor("gor: random bytes", bytes(rng.getrandbits(8) for _ in range(200_000)), "3")
    gor("gor: NUL bytes", b"\0" * MiB, "3")
    big_header = payload.replace(b"\r\n", b"\r\nX-Big: " + b"v" * 1_000_000 + b"\r\n", 1)
    gor("gor: 1 MB header value", gor_file([req.partition(b"\n")[0] + b"\n" + big_header]), "0")
    over = req + b"\r\n" + b"B" * (17 * MiB)
    gor(
        "gor: 17 MiB record among good ones",
        gor_file([recs[2], over, *recs[3:]]),
        "0",
        "size limit",
    )
    gor("gor: records in reverse order", gor_file(list(reversed(recs))), "0", "19 requests")
    gor(
        "gor: every request with one id",
        gor_file(
            [_replace_header(r, b" ".join([r.split()[0], b"same", r.split()[2]])) for r in recs]
        ),
        "0",
    )
    huge_host = payload.replace(b"Host: ", b"Host: " + b"h" * 100_000, 1)
    gor("gor: 100 kB Host header", gor_file([req.partition(b"\n")[0] + b"\n" + huge_host]), "0")
    gor("gor: emoji separator inside a body", gor_file([req + MONKEYS * 3, *recs[1:]]), "0")
    # gzip variants
    gz = gzip.compress(good)
    cases += [
        Case(
            "gor.gz: cut in the middle",
            "gor",
            {"in.gor.gz": gz[: len(gz) // 2]},
            _import("in.gor.gz"),
            "0",
            ["truncated"],
        ),
        Case(
            "gor.gz: corrupt second member",
            "gor",
            {"in.gor.gz": gz + b"\x1f\x8b\x08\x00" + b"\xff" * 200},
            _import("in.gor.gz"),
            "0",
            ["19 requests", "corrupt gzip"],
        ),
        Case(
            "gor.gz: corrupt bytes mid-member",
            "gor",
            {"in.gor.gz": gz[:200] + b"\xff" * 64 + gz[264:]},
            _import("in.gor.gz"),
            "0|3",
        ),
        Case(
            "gor.gz: good, corrupt, good members",
            "gor",
            {
                "in.gor.gz": gzip.compress(gor_file(recs[:10]))
                + b"\x1f\x8b\x08\x00garbage"
                + gzip.compress(gor_file(recs[10:]))
            },
            _import("in.gor.gz"),
            "0",
            ["corrupt gzip"],
        ),
        Case(
            "gor.gz: trailing garbage",
            "gor",
            {"in.gor.gz": gz + b"trailing junk"},
            _import("in.gor.gz"),
            "0",
            ["19 requests"],
        ),
        Case(
            "gor.gz: NUL padding",
            "gor",
            {"in.gor.gz": gz + b"\0" * 4096},
            _import("in.gor.gz"),
            "0",
            ["19 requests"],
        ),
        Case(
            "gor.gz: empty gzip",
            "gor",
            {"in.gor.gz": gzip.compress(b"")},
            _import("in.gor.gz"),
            "3",
        ),
        Case("gor.gz: gzip header only", "gor", {"in.gor.gz": gz[:10]}, _import("in.gor.gz"), "3"),
        Case(
            "gor.gz: magic then junk",
            "gor",
            {"in.gor.gz": b"\x1f\x8b" + b"junk" * 100},
            _import("in.gor.gz"),
            "3",
        ),
    ]
    cases.append(
        Case(
            "gor: a good file and a garbage one",
            "gor",
            {"a.gor": good, "b.gor": b"1 x y\nnot a request" + SEP},
            ["capture", "import", "{dir}/a.gor", "{dir}/b.gor", "-o", "{dir}/out.capture.parquet"],
            "0",
            ["skipped"],
        )
    )
    cases.append(
        Case(
            "gor: file name with a newline",
            "gor",
            {"bad\nname.gor": b"junk"},
            _import("bad\nname.gor"),
            "3",
        )
    )
    cases.append(
        Case(
            "gor: --format gor on a HAR",
            "gor",
            {"x.har": (DATA / "chrome.har").read_bytes()},
            _import("x.har", "--format", "gor"),
            "3",
        )
    )
    return cases


# --- mitmproxy --------------------------------------------------------------------------------


def _flows() -> list[dict[str, object]]:
    from mitmproxy.io import tnetstring

    data = (DATA / "flows-successful_log.mitm").read_bytes()
    out = []
    view = memoryview(data)
    while view:
        value, view = tnetstring.pop(view)
        out.append(value)
    return out  # type: ignore[return-value]


def _dump(*values: object) -> bytes:
    from mitmproxy.io import tnetstring

    return b"".join(tnetstring.dumps(v) for v in values)  # type: ignore[arg-type]


def _mitm_cases() -> list[Case]:
    import copy

    flows = _flows()
    good = _dump(*flows)
    flow = flows[0]
    cases: list[Case] = []

    def mitm(name: str, data: bytes, expect: str = "0|3", *mentions: str) -> None:
        cases.append(
            Case(
                name,
                "mitm",
                {"in.mitm": data},
                _import("in.mitm", "--format", "mitm"),
                expect,
                list(mentions),
            )
        )

    def changed(
        name: str, change: Callable[[dict[str, object]], None], expect: str = "0", *mentions: str
    ) -> None:
        f = copy.deepcopy(flow)
        change(f)
        mitm(name, _dump(f, *flows[1:]), expect, *mentions)

    demo = DEMO_MITM.read_bytes()
    mitm("mitm: cut in the middle", demo[: len(demo) // 2], "0", "truncated")
    mitm("mitm: length prefix 999999999999", b"999999999999:" + b"x" * 100, "3")
    mitm("mitm: good flows then prefix 999999999999", good + b"999999999999:xx", "0", "truncated")
    mitm("mitm: 13-digit length prefix", b"1234567890123:xx", "3")
    mitm("mitm: length longer than the data", b"500:" + good[:100], "3")
    mitm("mitm: not a tnetstring", b"hello world, this is not a flow file\n" * 10, "3")
    mitm("mitm: garbage after good flows", good + b"garbage!" * 50, "0", "truncated")
    nest = b"0:~"
    for _ in range(5000):
        nest = b"%d:%s]" % (len(nest), nest)
    mitm("mitm: list nested 5000 deep", nest, "3")
    inner = _dump("type", "http", "nest") + nest
    mitm("mitm: deep list inside a flow", b"%d:%s}" % (len(inner), inner) + good, "0", "nested")
    mitm("mitm: a flow that is an int", _dump(5) + good, "0", "not a mapping")
    mitm("mitm: a flow that is a list", _dump([1, 2, 3]) + good, "0", "not a mapping")
    mitm("mitm: a flow that is text", _dump(b"just bytes") + good, "0", "not a mapping")
    changed("mitm: flow without type", lambda f: f.pop("type"), "0", "invalid mitmproxy flow")
    changed("mitm: flow without request", lambda f: f.pop("request"), "0", "invalid mitmproxy flow")
    changed("mitm: flow without version", lambda f: f.pop("version"), "0", "invalid mitmproxy flow")
    changed(
        "mitm: version as text", lambda f: f.__setitem__("version", "x"), "0", "flow format version"
    )
    changed("mitm: version 9999", lambda f: f.__setitem__("version", 9999), "0|3")
    changed(
        "mitm: request as a list",
        lambda f: f.__setitem__("request", [1, 2]),
        "0",
        "invalid mitmproxy flow",
    )
    changed("mitm: request method as int", lambda f: f["request"].__setitem__("method", 5), "0")  # type: ignore[index]
    changed(
        "mitm: status 99999999999",
        lambda f: f["response"].__setitem__("status_code", 99999999999),
        "0",
        "skipped",
    )  # type: ignore[index]
    changed("mitm: status as text", lambda f: f["response"].__setitem__("status_code", b"abc"), "0")  # type: ignore[index]
    changed(
        "mitm: timestamp NaN",
        lambda f: f["request"].__setitem__("timestamp_start", float("nan")),
        "0",
        "skipped",
    )  # type: ignore[index]
    changed(
        "mitm: timestamp 1e30",
        lambda f: f["request"].__setitem__("timestamp_start", 1e30),
        "0",
        "skipped",
    )  # type: ignore[index]
    changed(
        "mitm: timestamp as text", lambda f: f["request"].__setitem__("timestamp_start", b"x"), "0"
    )  # type: ignore[index]
    changed(
        "mitm: response end as text",
        lambda f: f["response"].__setitem__("timestamp_end", b"x"),
        "0",
    )  # type: ignore[index]
    changed(
        "mitm: headers as a dict", lambda f: f["request"].__setitem__("headers", {"a": "b"}), "0"
    )  # type: ignore[index]
    changed(
        "mitm: header pair of ints", lambda f: f["request"].__setitem__("headers", [[1, 2]]), "0"
    )  # type: ignore[index]
    changed(
        "mitm: path with a newline",
        lambda f: f["request"].__setitem__("path", b"/a\nb"),
        "0",
        "skipped",
    )  # type: ignore[index]
    changed("mitm: host with a space", lambda f: f["request"].__setitem__("host", "a b"), "0")  # type: ignore[index]
    changed(
        "mitm: 17 MiB body",
        lambda f: f["request"].__setitem__("content", b"x" * (17 * MiB)),
        "0",
        "size limit",
    )  # type: ignore[index]
    changed("mitm: client_conn missing", lambda f: f.pop("client_conn"), "0")
    mitm("mitm: unknown type tag", b"5:hello@" + good, "0")
    mitm("mitm: invalid boolean", b"4:trux!" + good, "0")
    mitm("mitm: invalid integer", b"2:xx#" + good, "0")
    mitm("mitm: 5000-digit integer", b"5000:" + b"9" * 5000 + b"#" + good, "0")
    mitm(
        "mitm: format refused (dumpfile-010)",
        (DATA / "dumpfile-010.mitm").read_bytes(),
        "3",
        "flow format version",
    )
    mitm("mitm: websocket flows", (DATA / "flows-websocket.mitm").read_bytes(), "0", "websocket")
    mitm("mitm: the same flow 2000 times", good * 1000, "0")
    rng = random.Random(21)
    for i in range(8):
        data = bytearray(good)
        for _ in range(3):
            data[rng.randrange(len(data))] = rng.getrandbits(8)
        mitm(f"mitm: three random bytes changed (#{i + 1})", bytes(data), "0|3")
    mitm("mitm: gzip-compressed flow file", gzip.compress(good), "0")
    return cases


# --- HAR --------------------------------------------------------------------------------------


def _har(entries: object) -> bytes:
    return json.dumps({"log": {"version": "1.2", "entries": entries}}).encode()


def _entry(**change: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "startedDateTime": "2024-05-01T10:00:00.000Z",
        "time": 12.5,
        "request": {
            "method": "GET",
            "url": "https://api.example/items?page=2",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Accept", "value": "application/json"}],
        },
        "response": {"status": 200, "content": {"text": "{}"}},
    }
    for key, value in change.items():
        if "." in key:
            outer, inner = key.split(".", 1)
            entry[outer] = {**entry[outer], inner: value}  # type: ignore[dict-item]
        else:
            entry[key] = value
    return entry


def _har_cases() -> list[Case]:
    cases: list[Case] = []
    ok = _entry()

    def har(name: str, data: bytes, expect: str = "0|3", *mentions: str) -> None:
        cases.append(Case(name, "har", {"in.har": data}, _import("in.har"), expect, list(mentions)))

    def entry(name: str, expect: str = "0", *mentions: str, **change: object) -> None:
        har(name, _har([_entry(**change), ok]), expect, *mentions)

    har("har: log is a list", b'{"log": []}', "3", "log.entries")
    har("har: entries is a mapping", b'{"log": {"entries": {}}}', "3", "log.entries")
    har("har: entries is text", b'{"log": {"entries": "x"}}', "3", "log.entries")
    har("har: top level is a list", b"[]", "3")
    har("har: top level is a number", b"42", "3")
    har("har: invalid JSON", _har([ok])[:-7], "3", "line 1")
    har("har: not UTF-8", b'{"log": {"entries": ["\xff\xfe"]}}', "3", "byte")
    har(
        "har: UTF-16 with BOM",
        "\ufeff".encode("utf-16-le") + _har([ok]).decode().encode("utf-16-le"),
        "0",
        "1 requests",
    )
    har("har: entries of other types", _har([1, "x", None, [], ok]), "0", "skipped")
    entry("har: request missing", "0", "skipped", request=None)
    entry("har: request is a list", "0", "skipped", request=[1, 2])
    entry("har: url missing", "0", "skipped", **{"request.url": None})
    entry("har: url http://[::1/x", "0", "skipped", **{"request.url": "http://[::1/x"})
    entry("har: url without scheme", "0", "skipped", **{"request.url": "/just/a/path"})
    entry("har: url with a space", "0", "skipped", **{"request.url": "http://h/a b"})
    entry("har: url with a lone surrogate", "0", "skipped", **{"request.url": "http://h/\ud800"})
    entry("har: method is a number", "0", "skipped", **{"request.method": 5})
    entry("har: method with a space", "0", "skipped", **{"request.method": "GET POST"})
    entry("har: headers is a mapping", "0", "skipped", **{"request.headers": {"a": "b"}})
    entry("har: header entry is text", "0", "skipped", **{"request.headers": ["Accept: x"]})
    entry(
        "har: header value is a list",
        "0",
        "skipped",
        **{"request.headers": [{"name": "A", "value": [1]}]},
    )
    entry(
        "har: header name with a newline",
        "0",
        "skipped",
        **{"request.headers": [{"name": "A\nB", "value": "v"}]},
    )
    entry("har: httpVersion is a number", "0", **{"request.httpVersion": 2})
    entry("har: status abc", "0", "invalid status", **{"response.status": "abc"})
    entry("har: status 99999999999", "0", "invalid status", **{"response.status": 99999999999})
    entry("har: status -1", "0", "invalid status", **{"response.status": -1})
    entry("har: status true", "0", "invalid status", **{"response.status": True})
    entry("har: response is a list", "0", response=[])
    har(
        "har: status 1e400",
        _har([_entry(), ok]).replace(b'"status": 200', b'"status": 1e400', 1),
        "0",
        "invalid status",
    )
    har(
        "har: time NaN",
        _har([_entry(), ok]).replace(b'"time": 12.5', b'"time": NaN', 1),
        "0",
        "invalid time",
    )
    har(
        "har: time Infinity",
        _har([_entry(), ok]).replace(b'"time": 12.5', b'"time": Infinity', 1),
        "0",
        "invalid time",
    )
    entry("har: time is text", "0", "invalid time", time="x")
    entry("har: time 1e300", "0", "invalid time", time=1e300)
    entry("har: time -5", "0", "invalid time", time=-5)
    entry("har: time a 400-digit integer", "0", "invalid time", time=10**400)
    entry("har: date in year 9999", "0", "startedDateTime", startedDateTime="9999-12-31T23:59:59Z")
    entry("har: date in year 0001", "0", "startedDateTime", startedDateTime="0001-01-01T00:00:00Z")
    entry("har: date 'yesterday'", "0", "startedDateTime", startedDateTime="yesterday")
    entry("har: date is a number", "0", "startedDateTime", startedDateTime=1714557600)
    entry("har: date of 10k characters", "0", "startedDateTime", startedDateTime="2" * 10_000)
    entry("har: postData text is a number", "0", **{"request.postData": {"text": 5}})
    entry("har: postData params is text", "0", **{"request.postData": {"params": "a=b"}})
    entry(
        "har: postData params nested",
        "0",
        **{"request.postData": {"params": [{"name": {"x": 1}, "value": [[]]}]}},
    )
    entry(
        "har: base64 that is not",
        "0",
        **{"response.content": {"text": "!!!", "encoding": "base64"}},
    )
    entry(
        "har: postData over the record limit",
        "0",
        "size limit",
        **{"request.postData": {"text": "x" * (17 * MiB)}},
    )
    har("har: byte-order mark", b"\xef\xbb\xbf" + _har([ok]), "0", "1 requests")
    har(
        "har: 5000-digit number",
        _har([ok]).replace(b'"time": 12.5', b'"time": ' + b"9" * 5000, 1),
        "0",
        "invalid time",
    )
    har("har: duplicate keys", _har([ok]).replace(b'"time": 12.5', b'"time": 1, "time": 2', 1), "0")
    har("har: empty file", b"", "3", "empty")
    har("har: gzip-compressed HAR", gzip.compress(_har([ok, ok])), "0", "2 requests")
    har("har: real export cut in half", (DATA / "firefox.har").read_bytes()[:100_000], "3", "line")
    return cases


# --- capture files (the normalised Parquet that lint, inspect and run read) -------------------


def _parquet(table: object, metadata: dict[bytes, bytes] | None) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    assert isinstance(table, pa.Table)
    sink = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(metadata), sink)
    return sink.getvalue()


def _capture_file_cases(capture: Path) -> list[Case]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = capture.read_bytes()
    table = pq.read_table(capture)
    meta = {b"harness.capture": pq.ParquetFile(capture).metadata.metadata[b"harness.capture"]}
    doc = json.loads(meta[b"harness.capture"])

    def column(name: str, values: object) -> object:
        return table.set_column(table.column_names.index(name), name, values)

    broken: list[tuple[str, bytes]] = [
        ("cut in half", raw[: len(raw) // 2]),
        ("Parquet magic around garbage", b"PAR1" + b"x" * 1000 + b"PAR1"),
        ("no capture metadata", _parquet(table, None)),
        ("metadata not JSON", _parquet(table, {b"harness.capture": b"{not json"})),
        (
            "metadata counts of the wrong type",
            _parquet(table, {b"harness.capture": json.dumps({**doc, "counts": "x"}).encode()}),
        ),
        (
            "format version 99",
            _parquet(
                table, {b"harness.capture": json.dumps({**doc, "format_version": 99}).encode()}
            ),
        ),
        ("a column missing", _parquet(table.drop_columns(["ts_ns"]), meta)),
        (
            "timestamps as text",
            _parquet(
                column("ts_ns", pa.array([str(v) for v in table.column("ts_ns").to_pylist()])), meta
            ),
        ),
        ("headers as text", _parquet(column("headers", pa.array(["x"] * len(table))), meta)),
        ("no rows", _parquet(table.slice(0, 0), meta)),
        ("empty file", b""),
    ]
    cases = [
        Case(
            f"capture file: {name}",
            "capture",
            {"x.capture.parquet": data},
            ["capture", "inspect", "{dir}/x.capture.parquet"],
            "0|3",
        )
        for name, data in broken
    ]
    cases += [
        Case(
            f"capture file via lint: {name}",
            "capture",
            {
                "capture.capture.parquet": data,
                "stack.yaml": STACK.encode(),
                "s.yaml": SCENARIO.encode(),
            },
            ["lint", "{dir}/s.yaml"],
            "0|3",
        )
        for name, data in broken[:6]
    ]
    return cases


# --- scenarios, stacks, capture configs -----------------------------------------------------------

STACK = """\
name: shop
builds:
  v1: "{python} -m http.server {port}"
targets:
  baseline: {build: v1}
  candidate: {build: v1}
"""

SCENARIO = """\
name: shop-kill
capture: capture.capture.parquet
stack: stack.yaml
speed: 2.0
duration: 30s
faults:
  - {at: 5s, for: 5s, dependency: postgres, kind: down}
  - {at: 15s, for: 5s, kind: latency, latency_ms: 300, jitter_ms: 50}
"""

BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def _lint(name: str = "s.yaml") -> list[str]:
    return ["lint", f"{{dir}}/{name}"]


def _yaml_cases(capture: Path) -> list[Case]:
    cases: list[Case] = []
    base = {"capture.capture.parquet": capture.read_bytes(), "stack.yaml": STACK.encode()}

    def scenario(
        name: str, text: str | bytes, expect: str = "3", *mentions: str, bomb: bool = False
    ) -> None:
        data = text.encode() if isinstance(text, str) else text
        cases.append(
            Case(name, "scenario", {**base, "s.yaml": data}, _lint(), expect, list(mentions), bomb)
        )

    def stack(
        name: str, text: str | bytes, expect: str = "3", *mentions: str, bomb: bool = False
    ) -> None:
        data = text.encode() if isinstance(text, str) else text
        cases.append(
            Case(
                name,
                "stack",
                {**base, "stack.yaml": data, "s.yaml": SCENARIO.encode()},
                _lint(),
                expect,
                list(mentions),
                bomb,
            )
        )

    def config(
        name: str, text: str | bytes, expect: str = "3", *mentions: str, file: str = "c.yaml"
    ) -> None:
        data = text.encode() if isinstance(text, str) else text
        argv = [
            "capture",
            "import",
            str(DEMO_GOR),
            "-o",
            "{dir}/out.capture.parquet",
            "--config",
            f"{{dir}}/{file}",
        ]
        cases.append(Case(name, "config", {file: data}, argv, expect, list(mentions)))

    scenario("scenario: the valid one", SCENARIO, "0")
    scenario("scenario: billion laughs", SCENARIO + BILLION_LAUGHS, "3", "alias", bomb=True)
    scenario("scenario: self-referencing alias", SCENARIO + "x: &x [1, *x]\n", "3", "recursive")
    scenario(
        "scenario: 5,000-deep nesting",
        SCENARIO + "x: " + "[" * 5000 + "]" * 5000 + "\n",
        "3",
        "nested",
        bomb=True,
    )
    scenario(
        "scenario: 1,000-deep block nesting",
        SCENARIO + "x:\n" + "".join(" " * i + "k:\n" for i in range(1, 1000)),
        "3",
        "nested",
        bomb=True,
    )
    scenario("scenario: at .nan", SCENARIO.replace("at: 5s", "at: .nan"), "3", "finite")
    scenario("scenario: at .inf", SCENARIO.replace("at: 5s", "at: .inf"), "3", "finite")
    scenario("scenario: at -.inf", SCENARIO.replace("at: 5s", "at: -.inf"), "3", "finite")
    scenario(
        "scenario: duration 1e400",
        SCENARIO.replace("duration: 30s", "duration: 1e400"),
        "3",
        "finite",
    )
    scenario(
        "scenario: duration 9000h",
        SCENARIO.replace("duration: 30s", "duration: 9000h"),
        "3",
        "week",
    )
    scenario(
        "scenario: latency_ms 1e29", SCENARIO.replace("latency_ms: 300", "latency_ms: 1.0e+29"), "3"
    )
    scenario(
        "scenario: latency_ms 10^29 as integer",
        SCENARIO.replace("latency_ms: 300", "latency_ms: 1" + "0" * 29),
        "3",
        "range",
    )
    scenario(
        "scenario: latency_ms of 5000 digits",
        SCENARIO.replace("latency_ms: 300", "latency_ms: " + "9" * 5000),
        "3",
    )
    scenario("scenario: speed twice", SCENARIO + "speed: 100\n", "3", "duplicate key")
    scenario(
        "scenario: at twice in a fault",
        SCENARIO.replace("{at: 5s,", "{at: 5s, at: 1s,"),
        "3",
        "duplicate key",
    )
    scenario("scenario: speed 1e9", SCENARIO.replace("speed: 2.0", "speed: 1e9"), "3")
    scenario(
        "scenario: speed 'nan' as text",
        SCENARIO.replace("speed: 2.0", "speed: 'nan'"),
        "3",
        "finite",
    )
    scenario("scenario: speed 0", SCENARIO.replace("speed: 2.0", "speed: 0"), "3")
    scenario(
        "scenario: toxicity .nan",
        SCENARIO.replace("jitter_ms: 50}", "jitter_ms: 50, toxicity: .nan}"),
        "3",
    )
    scenario("scenario: lag_bound_ms .inf", SCENARIO + "lag_bound_ms: .inf\n", "3", "finite")
    scenario(
        "scenario: gate max_ratio .nan",
        SCENARIO + "gates: {latency_p99: {max_ratio: .nan}}\n",
        "3",
        "finite",
    )
    scenario(
        "scenario: gate max_ratio 'inf' as text",
        SCENARIO + "gates: {latency_p99: {max_ratio: 'inf'}}\n",
        "3",
        "finite",
    )
    scenario("scenario: seed 2**64", SCENARIO + "seed: 18446744073709551616\n", "3", "range")
    scenario("scenario: not UTF-8", SCENARIO.encode() + b"# caf\xe9\n", "3", "UTF-8")
    scenario("scenario: empty", "", "3", "empty")
    scenario("scenario: only comments", "# nothing\n# here\n", "3", "empty")
    scenario("scenario: top-level scalar", "just a string\n", "3", "mapping")
    scenario("scenario: top-level list", "- a\n- b\n", "3", "mapping")
    scenario("scenario: NUL character", SCENARIO + "x: a\x00b\n", "3")
    scenario("scenario: tab indentation", SCENARIO.replace("  - {at: 5s", "\t- {at: 5s"), "3")
    scenario("scenario: two documents", SCENARIO + "---\nname: other\n", "3")
    scenario(
        "scenario: python object tag",
        SCENARIO + "x: !!python/object/apply:os.system ['true']\n",
        "3",
    )
    scenario("scenario: complex key", SCENARIO + "? [a, b]\n: c\n", "3")
    scenario("scenario: invalid date value", SCENARIO + "when: 2024-02-30\n", "3")
    scenario(
        "scenario: unknown fault kind",
        SCENARIO.replace("kind: down", "kind: meltdown"),
        "3",
        "unknown fault kind",
    )
    scenario("scenario: kind is a number", SCENARIO.replace("kind: down", "kind: 5"), "3")
    scenario(
        "scenario: faults is a mapping",
        SCENARIO.split("faults:", maxsplit=1)[0] + "faults: {a: 1}\n",
        "3",
    )
    scenario("scenario: negative at", SCENARIO.replace("at: 5s", "at: -5s"), "3")
    scenario("scenario: for 0", SCENARIO.replace("for: 5s, dependency", "for: 0s, dependency"), "3")
    scenario(
        "scenario: empty targets", SCENARIO.replace("kind: down}", "kind: down, targets: []}"), "3"
    )
    scenario(
        "scenario: unknown target",
        SCENARIO.replace("kind: down}", "kind: down, targets: [nobody]}"),
        "3",
        "no target",
    )
    scenario(
        "scenario: capture missing",
        SCENARIO.replace("capture.capture.parquet", "missing.parquet"),
        "3",
        "no such file",
    )
    scenario(
        "scenario: capture is the stack file",
        SCENARIO.replace("capture.capture.parquet", "stack.yaml"),
        "3",
        "parquet",
    )
    scenario(
        "scenario: stack is a directory", SCENARIO.replace("stack: stack.yaml", "stack: ."), "3"
    )
    scenario("scenario: 5 MB file", SCENARIO + "# " + "x" * (5 * MiB) + "\n", "3", "MiB", bomb=True)
    scenario(
        "scenario: action with unknown placeholder",
        SCENARIO + "  - {at: 7s, run: 'echo {nope}'}\n",
        "3",
        "unknown placeholder",
    )
    scenario(
        "scenario: probe with two sources",
        SCENARIO + "probes:\n  - {name: p, postgres: xact, toxiproxy: accepted_connections}\n",
        "3",
    )
    scenario(
        "scenario: name with a newline",
        SCENARIO.replace("name: shop-kill", 'name: "shop\\nkill"'),
        "3",
    )
    stack("stack: the valid one", STACK, "0")
    stack("stack: billion laughs", STACK + BILLION_LAUGHS, "3", "alias", bomb=True)
    stack("stack: self-referencing alias", STACK + "x: &x {a: *x}\n", "3", "recursive")
    stack(
        "stack: 5,000-deep nesting",
        STACK + "x: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",
        "3",
        "nested",
        bomb=True,
    )
    stack(
        "stack: target defined twice",
        STACK + "  candidate: {command: \"sh -c 'rm -rf /srv/data'\"}\n",
        "3",
        "duplicate key",
    )
    stack(
        "stack: build defined twice",
        STACK.replace("targets:", '  v1: "rm -rf {stack_dir}"\ntargets:'),
        "3",
        "duplicate key",
    )
    stack(
        "stack: unknown placeholder", STACK.replace("{port}", "{prot}"), "3", "unknown placeholder"
    )
    stack(
        "stack: unbalanced quote",
        STACK.replace('"{python} -m http.server {port}"', '"{python} -c \'print(1)"'),
        "3",
        "split",
    )
    stack(
        "stack: empty command",
        STACK.replace('"{python} -m http.server {port}"', '"  "'),
        "3",
        "empty",
    )
    stack(
        "stack: unset variable",
        STACK.replace("candidate: {build: v1}", "candidate: {build: '${HARNESS_CAMPAIGN_UNSET}'}"),
        "3",
        "not set",
    )
    stack(
        "stack: unset variable in url",
        STACK.replace(
            "candidate: {build: v1}", "candidate: {url: 'http://${HARNESS_CAMPAIGN_UNSET}/'}"
        ),
        "3",
        "not set",
    )
    stack(
        "stack: unset variable in dsn",
        STACK + "postgres: {dsn: 'postgresql://${HARNESS_CAMPAIGN_UNSET}/x'}\n",
        "3",
        "not set",
    )
    stack(
        "stack: startup_timeout .inf", STACK + "defaults: {startup_timeout: .inf}\n", "3", "finite"
    )
    stack("stack: not UTF-8", STACK.encode() + b"# \xff\n", "3", "UTF-8")
    stack("stack: empty", "", "3", "empty")
    stack("stack: top-level scalar", "42\n", "3", "mapping")
    stack("stack: no targets", STACK.split("targets:", maxsplit=1)[0] + "targets: {}\n", "3")
    stack(
        "stack: target with two sources",
        STACK.replace("baseline: {build: v1}", "baseline: {build: v1, url: 'http://x'}"),
        "3",
    )
    stack(
        "stack: init_sql missing", STACK + "postgres: {init_sql: nope.sql}\n", "3", "no such file"
    )
    stack("stack: unknown key", STACK + "bogus: 1\n", "3", "unknown key")
    config("config: the valid one", "filters: {deny_routes: [/health]}\n", "0")
    config("config: billion laughs", "filters: {}\n" + BILLION_LAUGHS, "3", "alias")
    config("config: duplicate key", "filters:\n  sample: 0.5\n  sample: 1\n", "3", "duplicate key")
    config("config: since_s .inf", "filters: {since_s: .inf}\n", "3", "finite")
    config("config: sample 'nan'", "filters: {sample: 'nan'}\n", "3")
    config(
        "config: invalid regex",
        "routes: {rules: [{pattern: '(', route: x}]}\n",
        "3",
        "regular expression",
    )
    config("config: not UTF-8", b"filters: {}\n# \xff\n", "3", "UTF-8")
    config("config: top-level list", "- a\n", "3", "mapping")
    config("config: max_record_bytes 'lots'", "limits: {max_record_bytes: lots}\n", "3", "size")
    config(
        "config: JSON with a trailing comma",
        '{"filters": {"sample": 0.5,}}\n',
        "3",
        "JSON",
        file="c.json",
    )
    config(
        "config: JSON duplicate key",
        '{"filters": {"sample": 0.5, "sample": 1}}\n',
        "3",
        "duplicate key",
        file="c.json",
    )
    config("config: JSON nested 100k deep", "[" * 100_000 + "]" * 100_000, "3", file="c.json")
    return cases


# --- bombs ------------------------------------------------------------------------------------


def _write_gzip_bomb(path: Path) -> None:
    """0.5 MiB of gzip that inflates to 512 MiB: a GoReplay header, then NUL bytes."""
    zeros = b"\0" * MiB
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b"1 abc 1700000000000000000\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        for _ in range(512):
            out.write(zeros)


def _write_record_bomb(path: Path) -> None:
    """Gzip of 600 valid records each with a 1 MiB body of one letter: ~600 MiB inflated."""
    body = b"a" * MiB
    with gzip.open(path, "wb", compresslevel=9) as out:
        for i in range(600):
            head = f"1 {i:x} {1_700_000_000_000_000_000 + i}\n".encode()
            out.write(
                head
                + b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n"
                + body
                + SEP
            )


def _write_long_line(path: Path) -> None:
    """A GoReplay request whose request line is 64 MiB long."""
    with path.open("wb") as out:
        out.write(b"1 abc 1700000000000000000\nGET /")
        chunk = b"a" * MiB
        for _ in range(64):
            out.write(chunk)
        out.write(b" HTTP/1.1\r\nHost: h\r\n\r\n" + SEP)


def _write_har_string(path: Path) -> None:
    """A HAR whose one entry holds a 50 MB response text."""
    entry = _entry()
    entry["response"] = {"status": 200, "content": {"text": "x" * 50_000_000}}
    path.write_bytes(_har([entry]))


def _write_deep_har(path: Path) -> None:
    path.write_bytes(b'{"log": {"entries": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}}")


def _bomb_cases() -> list[Case]:
    return [
        Case(
            "bomb: .gor.gz 0.5 MiB -> 512 MiB",
            "bomb",
            {"bomb.gor.gz": _write_gzip_bomb},
            _import("bomb.gor.gz"),
            "3",
            ["gzip bomb"],
            True,
        ),
        Case(
            "bomb: .gor.gz of 600 x 1 MiB records",
            "bomb",
            {"bomb.gor.gz": _write_record_bomb},
            _import("bomb.gor.gz"),
            "3",
            ["gzip bomb"],
            True,
        ),
        Case(
            "bomb: 64 MiB request line",
            "bomb",
            {"long.gor": _write_long_line},
            _import("long.gor"),
            "3",
            ["size limit"],
            True,
        ),
        Case(
            "bomb: HAR with a 50 MB string",
            "bomb",
            {"big.har": _write_har_string},
            _import("big.har"),
            "0",
            ["1 requests"],
            True,
        ),
        Case(
            "bomb: HAR nested 100,000 deep",
            "bomb",
            {"deep.har": _write_deep_har},
            _import("deep.har"),
            "3",
            ["deep"],
            True,
        ),
        Case(
            "bomb: mitm length prefix 999999999999",
            "bomb",
            {"m.mitm": b"999999999999:" + b"x" * 1000},
            _import("m.mitm"),
            "3",
            [],
            True,
        ),
    ]


def all_cases(capture: Path) -> list[Case]:
    """Every case; ``capture`` is a valid capture file for the scenario cases to name."""
    return [
        *_gor_cases(),
        *_mitm_cases(),
        *_har_cases(),
        *_capture_file_cases(capture),
        *_yaml_cases(capture),
        *_bomb_cases(),
    ]
