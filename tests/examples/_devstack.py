"""Stand-in fixture: a real toxiproxy-server, until tests/plugins/toxiproxy.py lands."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DevToxiproxy:
    url: str

    def create(self, name: str, listen: str, upstream: str) -> None:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        httpx.post(f"{self.url}/proxies", json=body, timeout=5).raise_for_status()

    def set_enabled(self, name: str, enabled: bool) -> None:
        r = httpx.post(f"{self.url}/proxies/{name}", json={"enabled": enabled}, timeout=5)
        r.raise_for_status()

    def partition(self, name: str) -> None:
        for stream in ("upstream", "downstream"):
            toxic = {"name": f"cut_{stream}", "type": "timeout", "stream": stream}
            toxic["attributes"] = {"timeout": 0}
            r = httpx.post(f"{self.url}/proxies/{name}/toxics", json=toxic, timeout=5)
            r.raise_for_status()

    def heal(self, name: str) -> None:
        for stream in ("upstream", "downstream"):
            httpx.delete(f"{self.url}/proxies/{name}/toxics/cut_{stream}", timeout=5)

    def delete(self, name: str) -> None:
        httpx.delete(f"{self.url}/proxies/{name}", timeout=5)


@pytest.fixture(scope="session")
def dev_toxiproxy() -> Iterator[DevToxiproxy]:
    port = free_port()
    exe = shutil.which("toxiproxy-server") or "/work/main/.venv/bin/toxiproxy-server"
    proc = subprocess.Popen(
        [exe, "-host", "127.0.0.1", "-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/version", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield DevToxiproxy(url)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
