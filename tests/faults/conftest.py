"""Fixtures of the fault tests: a real toxiproxy-server, a real TCP upstream, a proxy between."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness.errors import ToxiproxyError
from harness.faults.kinds import ProxyInfo, Toxic


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HttpProxies:
    """A minimal ProxyAPI over toxiproxy's HTTP API (stand-in until the stack client lands)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client = httpx.Client(base_url=url, timeout=5)

    @property
    def host(self) -> str:
        return httpx.URL(self.url).host

    def _call(self, method: str, path: str, json: object = None) -> httpx.Response:
        try:
            response = self._client.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise ToxiproxyError(f"{self.url}{path}: {exc}") from None
        if response.status_code >= 400:
            raise ToxiproxyError(f"{self.url}{path}: {response.text}", response.status_code)
        return response

    def proxy_info(self, name: str) -> ProxyInfo:
        data = self._call("GET", f"/proxies/{name}").json()
        return ProxyInfo(
            data["name"],
            data["listen"],
            data["upstream"],
            data["enabled"],
            frozenset(t["name"] for t in data["toxics"]),
        )

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._call("POST", f"/proxies/{name}", {"enabled": enabled})

    def add_toxic(self, proxy: str, toxic: Toxic) -> None:
        body = {
            "name": toxic.name,
            "type": toxic.type,
            "stream": toxic.stream,
            "toxicity": toxic.toxicity,
            "attributes": toxic.attributes,
        }
        self._call("POST", f"/proxies/{proxy}/toxics", body)

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        try:
            self._call("DELETE", f"/proxies/{proxy}/toxics/{toxic}")
        except ToxiproxyError as exc:
            if exc.status != 404:
                raise

    def create(self, name: str, upstream: str) -> str:
        self._call(
            "POST", "/proxies", {"name": name, "listen": "127.0.0.1:0", "upstream": upstream}
        )
        return self.proxy_info(name).listen

    def delete(self, name: str) -> None:
        self._client.delete(f"/proxies/{name}")

    def close(self) -> None:
        self._client.close()


@dataclass
class Toxiproxy:
    url: str
    log: Path
    api: HttpProxies


@pytest.fixture
def toxiproxy_real(tmp_path: Path) -> Iterator[Toxiproxy]:
    """A toxiproxy-server of this test (or the one at TOXIPROXY_URL)."""
    external = os.environ.get("TOXIPROXY_URL")
    if external:
        api = HttpProxies(external)
        yield Toxiproxy(external, tmp_path / "none.log", api)
        api.close()
        return
    binary = shutil.which("toxiproxy-server") or str(
        Path(__file__).parents[2] / ".venv" / "bin" / "toxiproxy-server"
    )
    port = _free_port()
    log = tmp_path / "toxiproxy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "-host", "127.0.0.1", "-port", str(port)], stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    api = HttpProxies(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"{url}/version", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield Toxiproxy(url, log, api)
    finally:
        api.close()
        process.terminate()
        process.wait(timeout=10)


class Upstream:
    """A TCP server that answers every 8-byte request with one byte ``N`` (like PostgreSQL
    answering an SSLRequest) and keeps the connection open for more."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(0.5)
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(8)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(b"N")

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Proxied:
    """Two proxies (targets ``baseline`` and ``candidate``) in front of one upstream."""

    toxiproxy: Toxiproxy
    proxies: dict[str, str]  # target -> proxy name


@pytest.fixture
def proxied(
    request: pytest.FixtureRequest, toxiproxy_real: Toxiproxy, upstream: Upstream
) -> Iterator[Proxied]:
    stem = request.node.name.replace("[", "_").replace("]", "")[:40]
    proxies = {t: f"faults_{stem}_{t}" for t in ("baseline", "candidate")}
    for name in proxies.values():
        toxiproxy_real.api.delete(name)
        toxiproxy_real.api.create(name, upstream.address)
    try:
        yield Proxied(toxiproxy_real, proxies)
    finally:
        for name in proxies.values():
            toxiproxy_real.api.delete(name)
