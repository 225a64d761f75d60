"""The toxiproxy client's parsing and error mapping, with httpx.MockTransport.

These complement test_toxiproxy.py (the same client against a real server): they cover answers
a 2.12 server does not give (older servers' plain-text version, malformed answers) and failures
that are hard to provoke for real.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from harness.errors import ToxiproxyError
from harness.stack.toxics import (
    Latency,
    OtherAttributes,
    ProxyConfig,
    ResetPeer,
    Stream,
    Timeout,
    Toxic,
)
from harness.stack.toxiproxy import ToxiproxyClient

URL = "http://toxiproxy.test:8474"
PROXY = {"name": "db", "listen": "127.0.0.1:25432", "upstream": "127.0.0.1:5432", "enabled": True}

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler, timeout: float = 5.0) -> ToxiproxyClient:
    return ToxiproxyClient(URL, timeout=timeout, transport=httpx.MockTransport(handler))


def toxic_json(kind: str, attributes: dict[str, int]) -> dict[str, object]:
    return {
        "name": "t",
        "type": kind,
        "stream": "upstream",
        "toxicity": 1,
        "attributes": attributes,
    }


def answer(status: int, body: object = None, text: str | None = None) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text)
        return httpx.Response(status, json=body)

    return handle


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"version": "2.12.0"}', "2.12.0"),
        ("2.1.4\n", "2.1.4"),  # servers before 2.6 answer plain text
        ("git-4c1e0b3", "git-4c1e0b3"),
    ],
)
def test_version_json_and_plain_text(body: str, expected: str) -> None:
    with client_for(answer(200, text=body)) as client:
        assert client.version() == expected


def test_server_error_carries_message_and_status() -> None:
    handler = answer(409, {"error": "proxy already exists", "status": 409})
    with client_for(handler) as client, pytest.raises(ToxiproxyError) as caught:
        client.create_proxy("db", "127.0.0.1:25432", "127.0.0.1:5432")
    assert caught.value.status == 409
    assert str(caught.value) == (
        f"toxiproxy at {URL} refused POST /proxies: proxy already exists (HTTP 409)"
    )


def test_plain_text_and_empty_errors() -> None:
    with (
        client_for(answer(404, text="404 page not found\n")) as client,
        pytest.raises(ToxiproxyError, match=r"404 page not found \(HTTP 404\)$"),
    ):
        client.list_proxies()
    with (
        client_for(answer(502, text="")) as client,
        pytest.raises(ToxiproxyError, match=r"Bad Gateway \(HTTP 502\)$") as caught,
    ):
        client.reset()
    assert caught.value.status == 502


def test_multi_line_server_message_becomes_one_line() -> None:
    handler = answer(500, {"error": "first\nsecond", "status": 500})
    with client_for(handler) as client, pytest.raises(ToxiproxyError) as caught:
        client.reset()
    assert "first second" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_connection_refused_and_timeout_name_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with client_for(refuse) as client, pytest.raises(ToxiproxyError) as refused:
        client.list_proxies()
    assert str(refused.value) == f"toxiproxy at {URL} is unreachable: connection refused"
    with client_for(stall, timeout=0.25) as client, pytest.raises(ToxiproxyError) as stalled:
        client.get_proxy("db")
    assert str(stalled.value) == f"toxiproxy at {URL} did not answer GET /proxies/db within 0.25 s"


def test_every_call_carries_the_timeout() -> None:
    seen: list[dict[str, float | None]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(204)

    with client_for(handle, timeout=1.5) as client:
        client.reset()
        client.delete_proxy("db")
    assert seen == [{"connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5}] * 2


def test_invalid_json_and_unexpected_shapes() -> None:
    with (
        client_for(answer(200, text="<html>")) as client,
        pytest.raises(ToxiproxyError, match="invalid JSON"),
    ):
        client.get_proxy("db")
    with (
        client_for(answer(200, {"name": "db"})) as client,
        pytest.raises(ToxiproxyError, match="unexpected proxy: listen: Field required"),
    ):
        client.get_proxy("db")
    with (
        client_for(answer(200, [1, 2])) as client,
        pytest.raises(ToxiproxyError, match="unexpected proxy list"),
    ):
        client.list_proxies()


def test_update_uses_patch_and_sends_only_given_fields() -> None:
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={**PROXY, "enabled": False})

    with client_for(handle) as client:
        proxy = client.disable("db")
    assert not proxy.enabled
    assert [(r.method, r.url.path) for r in requests] == [("PATCH", "/proxies/db")]
    assert json.loads(requests[0].content) == {"enabled": False}


def test_update_falls_back_to_post_on_old_servers() -> None:
    methods: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        if request.method == "PATCH":
            return httpx.Response(405, text="")
        return httpx.Response(200, json=PROXY)

    with client_for(handle) as client:
        assert client.update_proxy("db", upstream="127.0.0.1:5432").name == "db"
    assert methods == ["PATCH", "POST"]


def test_names_are_quoted_in_paths() -> None:
    paths: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(204)

    with client_for(handle) as client:
        client.delete_toxic("a/b", "c d")
    assert paths == ["/proxies/a%2Fb/toxics/c%20d"]


def test_create_toxic_sends_type_stream_toxicity_attributes() -> None:
    bodies: list[object] = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        return httpx.Response(200, json={**body, "name": "slow"})

    with client_for(handle) as client:
        toxic = client.create_toxic(
            "db", Latency(latency=400, jitter=100), name="slow", stream=Stream.UPSTREAM
        )
    assert bodies == [
        {
            "type": "latency",
            "stream": "upstream",
            "toxicity": 1.0,
            "attributes": {"latency": 400, "jitter": 100},
            "name": "slow",
        }
    ]
    assert toxic.attributes == Latency(latency=400, jitter=100)


def test_toxicity_outside_zero_to_one_is_refused_before_sending() -> None:
    with client_for(answer(500)) as client, pytest.raises(ValueError, match="toxicity"):
        client.create_toxic("db", Latency(latency=1), toxicity=1.5)


def test_attributes_follow_the_toxic_type() -> None:
    # reset_peer and timeout share the attribute name "timeout": the type decides the model.
    reset = Toxic.model_validate(toxic_json("reset_peer", {"timeout": 0}))
    assert type(reset.attributes) is ResetPeer
    timeout = Toxic.model_validate(toxic_json("timeout", {"timeout": 0}))
    assert type(timeout.attributes) is Timeout


def test_unknown_toxic_type_keeps_its_attributes() -> None:
    toxic = Toxic.model_validate(toxic_json("custom", {"knob": 3}))
    assert isinstance(toxic.attributes, OtherAttributes)
    assert toxic.attributes.model_extra == {"knob": 3}


@pytest.mark.parametrize(
    "body", [{"proxies": [PROXY]}, [PROXY]], ids=["2.12-object", "list"]
)  # fmt: skip
def test_populate_answers(body: object) -> None:
    with client_for(answer(201, body)) as client:
        created = client.populate([ProxyConfig(**PROXY)])  # type: ignore[arg-type]
    assert [p.name for p in created] == ["db"]


def test_context_manager_closes_the_http_client() -> None:
    with client_for(answer(204)) as client:
        client.reset()
    with pytest.raises(RuntimeError, match="client has been closed"):
        client.reset()


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout"):
        ToxiproxyClient(URL, timeout=0)
