"""Captures seeded with secrets in every place redaction must reach (GoReplay, mitmproxy, HAR).

:func:`write_seeded` writes the same requests three ways: a ``.gor`` file in GoReplay's byte
layout, a mitmproxy flow file written by mitmproxy's own ``FlowWriter``, and a HAR document.
Every string of :data:`SECRETS` must be gone from the capture file (cells, bodies decoded from
their content coding, metadata) and from ``capture inspect``; :data:`PLACES` names where each
one sits. :func:`decoded_cells` reads a capture back the way a checker must: bodies decompressed.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import brotli
import pyarrow.parquet as pq
import zstandard
from mitmproxy import connection, http, io

from harness.capture.contentcoding import codings_of, decode_body
from harness.capture.store import read_capture
from tests.capture.gorfiles import GorRecord, response, write_gor

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWVkZWQtdXNlci0xMjMifQ.c2VlZGVkLXNpZ25hdHVyZS1zZWNyZXQ"
PATH_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwYXRoLXVzZXItOTkifQ.cGF0aC1zaWduYXR1cmUtc2VjcmV0"
PEM_BODY = "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6PpySEEDEDpemLINE1f9Cnzj4p4WGeKLs1Pt8Qu"
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"
ENTROPY = "Q2VlZGVkUmFuZG9tSGVhZGVyVmFsdWUx9Zk3"
BASIC_PASSWORD = "SEEDED-basic-pw"
BASIC = base64.b64encode(f"seed-basic-user:{BASIC_PASSWORD}".encode()).decode()

#: where each secret sits (the places of issue 10, item 2); every one must vanish
PLACES: dict[str, str] = {
    JWT: "Authorization: Bearer, JSON body, mitm query",
    "SEEDEDCOOKIE9f8e7d": "Cookie",
    "APIKEY-SEEDED-777": "X-Api-Key",
    "seed.user@example.com": "query (percent-encoded), form body, X-Contact header",
    "seed.person@example.com": "JSON body",
    "4012888888881881": "query",
    "5555 5555 5555 4444": "JSON body (card with blanks)",
    "5105-1051-0510-5100": "text body (card with dashes)",
    "Pa55w0rd-SEEDED": "JSON password",
    "FormPass-SEEDED": "form password",
    BASIC: "Authorization: Basic (base64 of user:password)",
    "EMP-424242": "configured pattern",
    "SEEDEDqueryAccessTok9": "query access_token",
    "SEEDEDcustomAuth42": "X-Custom-Auth header (name variant)",
    ENTROPY: "unknown header with a random-looking value",
    "SEEDEDsignatureValue": "configured header X-Internal-Signature",
    "SEEDEDaccessTokenCamel": "JSON accessToken",
    "SEEDEDnewPassword": "JSON new_password",
    "SEEDEDxApiKey": "JSON x_api_key",
    "SEEDEDnestedSecret": "object under a secret key",
    "SEEDEDarrayToken1": "array under a secret key",
    "SEEDEDarrayToken2": "array under a secret key",
    PEM_BODY: "PEM private key in JSON (escaped line breaks) and in a multipart file",
    "AKIASEEDED0EXAMPLE12": "AWS access key id in a JSON note and a multipart file",
    "seed.path@example.com": "path segment (e-mail)",
    PATH_JWT: "path segment (JWT)",
    "SEEDEDresetTOKEN12345678": "path segment after password-reset",
    "SEEDEDrefererToken77": "Referer path after reset",
    "SEEDEDrefQueryTok": "Referer query token",
    "SEEDEDjsession1234": "path parameter ;jsessionid=",
    "SEEDEDmultipartPW": "multipart field password",
    "SEEDEDmultipartTok": "multipart field api_token",
    "SEEDEDxmlPW": "XML element <password>",
    "SEEDEDsoapPW": "XML element <wsse:Password>",
    "SEEDEDxmlAttrKey": "XML attribute apiKey",
    "SEEDEDgzipPW": "gzip-compressed JSON body",
    "seed.gzip@example.com": "gzip-compressed JSON body (e-mail)",
    "SEEDEDdeflatePW": "deflate-compressed form body",
    "SEEDEDbrotliPW": "br-compressed JSON body",
    "SEEDEDzstdPW": "zstd-compressed JSON body",
    "SEEDEDuserinfoPW": "URL user info (host column)",
    "SEEDEDsetHeaderTok": "--set-header value (added by the CLI tests)",
    "seed.loc@example.com": "a response's Location (orig_location_route)",
    "SEEDEDlocResetTok77": "a response's Location after /reset/",
}
SECRETS = list(PLACES)
T0 = 1_700_000_000_000_000_000
HOST = "pay.example"


@dataclass
class Seeded:
    """One request of the corpus, written the same way in every format."""

    method: str
    target: str  # origin-form path, or an absolute URL
    headers: list[tuple[str, str]]
    body: bytes = b""
    host: str = HOST
    #: the Location of the captured response (a 302), if any
    location: str | None = None


def _json(data: object) -> bytes:
    return json.dumps(data).encode()


def _multipart() -> tuple[str, bytes]:
    boundary = "SeedBoundary7MA4YWxkTrZu0gW"
    parts = [
        ('name="password"', b"SEEDEDmultipartPW"),
        ('name="api_token"', b"SEEDEDmultipartTok"),
        ('name="title"', b"quarterly report"),
        (
            'name="upload"; filename="creds.txt"\r\nContent-Type: text/plain',
            f"aws AKIASEEDED0EXAMPLE12\n{PEM}\n".encode(),
        ),
    ]
    body = b"".join(
        f"--{boundary}\r\nContent-Disposition: form-data; {head}\r\n\r\n".encode() + data + b"\r\n"
        for head, data in parts
    )
    return boundary, body + f"--{boundary}--\r\n".encode()


def corpus() -> list[Seeded]:
    """The seeded requests (see :data:`PLACES`)."""
    body = _json(
        {
            "email": "seed.person@example.com",
            "card_number": "5555 5555 5555 4444",
            "password": "Pa55w0rd-SEEDED",
            "note": "EMP-424242 asked for AKIASEEDED0EXAMPLE12",
            "accessToken": "SEEDEDaccessTokenCamel",
            "new_password": "SEEDEDnewPassword",
            "x_api_key": "SEEDEDxApiKey",
            "credentials": {"user": "seed-nested-user", "secret": "SEEDEDnestedSecret", "n": 7},
            "tokens": ["SEEDEDarrayToken1", "SEEDEDarrayToken2"],
            "private_key_pem": PEM,
            "session_jwt": JWT,
        }
    )
    boundary, multipart = _multipart()
    xml = (
        b'<?xml version="1.0"?><soap:Envelope xmlns:soap="s" xmlns:wsse="w"><soap:Header>'
        b"<wsse:Security><wsse:Username>seed-soap-user</wsse:Username>"
        b'<wsse:Password Type="PasswordText">SEEDEDsoapPW</wsse:Password></wsse:Security>'
        b'</soap:Header><soap:Body><login apiKey="SEEDEDxmlAttrKey"><user>u</user>'
        b"<password>SEEDEDxmlPW</password></login></soap:Body></soap:Envelope>"
    )
    deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    deflated = deflate.compress(b"password=SEEDEDdeflatePW&keep=1") + deflate.flush()
    json_type = ("Content-Type", "application/json")
    return [
        Seeded(
            "POST",
            "/payments/77?email=seed.user%40example.com&card=4012888888881881"
            "&access_token=SEEDEDqueryAccessTok9",
            [
                ("Authorization", f"Bearer {JWT}"),
                ("Cookie", "sid=SEEDEDCOOKIE9f8e7d; lang=en"),
                ("X-Api-Key", "APIKEY-SEEDED-777"),
                ("X-Custom-Auth", "SEEDEDcustomAuth42"),
                ("X-Partner-Sig", ENTROPY),
                ("X-Internal-Signature", "SEEDEDsignatureValue"),
                ("X-Contact", "seed.user@example.com"),
                json_type,
            ],
            body,
        ),
        Seeded(
            "POST",
            "/login",
            [
                ("Authorization", f"Basic {BASIC}"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            b"user=seed.user%40example.com&password=FormPass-SEEDED&remember=1",
            location="/users/seed.loc@example.com/welcome?token=SEEDEDlocToken",
        ),
        Seeded(
            "GET",
            "/users/seed.path@example.com/profile",
            [
                (
                    "Referer",
                    "https://shop.example/reset/SEEDEDrefererToken77?token=SEEDEDrefQueryTok",
                )
            ],
        ),
        Seeded("GET", f"/magic/{PATH_JWT}", [], location="/reset/SEEDEDlocResetTok77"),
        Seeded("GET", "/password-reset/Mg/SEEDEDresetTOKEN12345678", []),
        Seeded("GET", "/shop;jsessionid=SEEDEDjsession1234", []),
        Seeded(
            "POST",
            "/upload",
            [("Content-Type", f"multipart/form-data; boundary={boundary}")],
            multipart,
        ),
        Seeded("POST", "/soap", [("Content-Type", "text/xml; charset=utf-8")], xml),
        Seeded(
            "POST",
            "/gz",
            [json_type, ("Content-Encoding", "gzip")],
            gzip.compress(_json({"password": "SEEDEDgzipPW", "email": "seed.gzip@example.com"})),
        ),
        Seeded(
            "POST",
            "/deflate",
            [
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Encoding", "deflate"),
            ],
            deflated,
        ),
        Seeded(
            "POST",
            "/br",
            [json_type, ("Content-Encoding", "br")],
            brotli.compress(_json({"password": "SEEDEDbrotliPW"})),
        ),
        Seeded(
            "POST",
            "/zstd",
            [json_type, ("Content-Encoding", "zstd")],
            zstandard.ZstdCompressor().compress(_json({"password": "SEEDEDzstdPW"})),
        ),
        Seeded(
            "POST",
            "/cards",
            [("Content-Type", "text/plain")],
            b"pay with 5105-1051-0510-5100 please",
        ),
        Seeded("GET", "/x", [], host="seeduser:SEEDEDuserinfoPW@pay.example"),
    ]


def write_seeded(folder: Path) -> list[Path]:
    """Write the corpus as one .gor, one .mitm and one .har file; returns their paths."""
    return [_gor(folder / "seeded.gor"), _mitm(folder / "seeded.mitm"), _har(folder / "seeded.har")]


def _raw(req: Seeded) -> bytes:
    # a host with user info is sent as an absolute target (a client talking to a proxy)
    target = f"http://{req.host}{req.target}" if "@" in req.host else req.target
    lines = [f"{req.method} {target} HTTP/1.1", f"Host: {req.host.rpartition('@')[2]}"]
    lines += [f"{k}: {v}" for k, v in req.headers]
    if req.body:
        lines.append(f"Content-Length: {len(req.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + req.body


def _response(req: Seeded) -> bytes:
    if req.location is None:
        return response(200)
    return f"HTTP/1.1 302 Found\r\nLocation: {req.location}\r\nContent-Length: 0\r\n\r\n".encode()


def _gor(path: Path) -> Path:
    records = []
    for i, req in enumerate(corpus()):
        ts = T0 + i * 10_000_000
        records.append(GorRecord(1, f"s{i}", ts, _raw(req)))
        records.append(GorRecord(2, f"s{i}", ts + 1_000_000, _response(req)))
    return write_gor(path, records)


def _mitm(path: Path) -> Path:
    with path.open("wb") as fo:
        writer = io.FlowWriter(fo)
        for i, req in enumerate(corpus()):
            ts = (T0 + i * 10_000_000) / 1e9
            host_header = req.host
            headers = http.Headers([(b"Host", host_header.encode())])
            for k, v in req.headers:
                headers.add(k, v)
            if req.body:
                headers["Content-Length"] = str(len(req.body))
            request = http.Request(
                req.host.rpartition("@")[2], 80, req.method.encode(), b"http",
                b"", req.target.encode(), b"HTTP/1.1", headers, req.body, None, ts, ts + 0.001,
            )  # fmt: skip
            client = connection.Client(
                peername=("10.0.0.9", 40000 + i), sockname=("10.0.0.2", 80), timestamp_start=ts
            )
            flow = http.HTTPFlow(client, connection.Server(address=(HOST, 80)))
            flow.request = request
            if req.location is None:
                flow.response = http.Response.make(200, b"ok")
            else:
                flow.response = http.Response.make(302, b"", {"Location": req.location})
            flow.response.timestamp_start = flow.response.timestamp_end = ts + 0.002
            writer.add(flow)
    return path


def _har(path: Path) -> Path:
    entries = []
    for i, req in enumerate(corpus()):
        started = f"2023-11-14T22:13:{20 + i:02d}.100Z"
        post = None
        if req.body:
            try:
                post = {
                    "mimeType": dict(req.headers).get("Content-Type", ""),
                    "text": req.body.decode(),
                }
            except UnicodeDecodeError:  # compressed: HAR carries bytes as base64
                post = {
                    "mimeType": dict(req.headers).get("Content-Type", ""),
                    "text": base64.b64encode(req.body).decode(),
                    "encoding": "base64",
                }
        entry = {
            "startedDateTime": started,
            "time": 3,
            "request": {
                "method": req.method,
                "url": f"https://{quote(req.host, safe='@:.')}{req.target}",
                "httpVersion": "HTTP/1.1",
                "headers": [{"name": k, "value": v} for k, v in req.headers],
                **({"postData": post} if post else {}),
            },
            "response": (
                {"status": 200, "content": {"text": "ok"}}
                if req.location is None
                else {
                    "status": 302,
                    "headers": [{"name": "Location", "value": req.location}],
                    "redirectURL": req.location,
                    "content": {"text": ""},
                }
            ),
        }
        entries.append(entry)
    path.write_text(json.dumps({"log": {"entries": entries}}))
    return path


def decoded_cells(path: Path) -> bytes:
    """Every cell of a capture as bytes, bodies also decoded from their content coding, and
    every key and value of the file's metadata: what must hold no secret."""
    table = read_capture(path)
    out = [repr(v).encode() for column in table.columns for v in column.to_pylist()]
    for row in table.select(["headers", "body"]).to_pylist():
        body = row["body"] or b""
        out.append(body)
        codings = [h["value"] for h in row["headers"] if h["name"].lower() == "content-encoding"]
        if codings and body:
            out.append(decode_body(body, codings_of(codings[0]))[0])
    metadata = pq.ParquetFile(path).metadata.metadata or {}
    out += [k + b"=" + v for k, v in metadata.items()]
    return b"\n".join(out)


def variants(secret: str) -> set[str]:
    """The ways a secret may be written: as is, percent-encoded, JSON-escaped."""
    return {secret, quote(secret, safe=""), json.dumps(secret)[1:-1], secret.replace("@", "%40")}
