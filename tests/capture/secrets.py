"""A capture seeded with secrets in every place the redaction must reach (GoReplay, mitm, HAR)."""

from __future__ import annotations

import json
from pathlib import Path

from mitmproxy import io
from mitmproxy.test import tflow

from tests.capture.gorfiles import GorRecord, request, response, write_gor

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWVkZWQtdXNlci0xMjMifQ.c2VlZGVkLXNpZ25hdHVyZS1zZWNyZXQ"
# every value below must be gone from the capture file and from `inspect`
SECRETS = [
    JWT,
    "SEEDEDCOOKIE9f8e7d",
    "APIKEY-SEEDED-777",
    "seed.user@example.com",
    "seed.person@example.com",
    "4012888888881881",
    "5555 5555 5555 4444",
    "Pa55w0rd-SEEDED",
    "FormPass-SEEDED",
    "basicSEEDEDcreds",
    "EMP-424242",
]
T0 = 1_700_000_000_000_000_000


def write_seeded(folder: Path) -> list[Path]:
    """Write one .gor, one .mitm and one .har file that carry every secret of :data:`SECRETS`."""
    body = json.dumps(
        {
            "email": "seed.person@example.com",
            "card_number": "5555 5555 5555 4444",
            "password": "Pa55w0rd-SEEDED",
            "note": "EMP-424242",
        }
    ).encode()
    headers = {
        "Authorization": f"Bearer {JWT}",
        "Cookie": "sid=SEEDEDCOOKIE9f8e7d; lang=en",
        "X-Api-Key": "APIKEY-SEEDED-777",
        "Content-Type": "application/json",
    }
    gor = write_gor(
        folder / "seeded.gor",
        [
            GorRecord(
                1,
                "a1",
                T0,
                request(
                    "/payments/77?email=seed.user%40example.com&card=4012888888881881",
                    "POST",
                    headers,
                    body,
                ),
            ),
            GorRecord(2, "a1", T0 + 5_000_000, response(201)),
            GorRecord(
                1,
                "b2",
                T0 + 10_000_000,
                request(
                    "/login",
                    "POST",
                    {"Authorization": "Basic basicSEEDEDcreds"},
                    b"user=seed.user%40example.com&password=FormPass-SEEDED",
                ),
            ),
        ],
    )

    flow = tflow.tflow(resp=True)
    flow.request.path = f"/payments/78?token={JWT}"
    flow.request.headers["Cookie"] = "sid=SEEDEDCOOKIE9f8e7d"
    flow.request.headers["X-Contact"] = "seed.user@example.com"
    flow.request.content = body
    mitm = folder / "seeded.mitm"
    with mitm.open("wb") as fo:
        io.FlowWriter(fo).add(flow)

    har = folder / "seeded.har"
    har.write_text(
        json.dumps(
            {
                "log": {
                    "entries": [
                        {
                            "startedDateTime": "2023-11-14T22:13:20.100Z",
                            "time": 3,
                            "request": {
                                "method": "POST",
                                "url": "https://pay.example/payments?card=4012888888881881",
                                "httpVersion": "h2",
                                "headers": [
                                    {"name": ":authority", "value": "pay.example"},
                                    {"name": "x-api-key", "value": "APIKEY-SEEDED-777"},
                                    {"name": "authorization", "value": f"Bearer {JWT}"},
                                ],
                                "postData": {"mimeType": "application/json", "text": body.decode()},
                            },
                            "response": {"status": 200, "content": {"text": "ok"}},
                        }
                    ]
                }
            }
        )
    )
    return [gor, mitm, har]
