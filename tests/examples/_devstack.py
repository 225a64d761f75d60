"""Stand-in fixtures (real PostgreSQL and real toxiproxy-server) until tests/plugins land."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

# Found without importing pgserver, whose import warns when XDG_RUNTIME_DIR is unset.
_SPEC = importlib.util.find_spec("pgserver")
assert _SPEC is not None and _SPEC.origin is not None
PG_BIN = Path(_SPEC.origin).parent / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DevPostgres:
    port: int

    def dsn(self, dbname: str, host: str = "127.0.0.1", port: int | None = None) -> str:
        return f"postgresql://postgres@{host}:{port or self.port}/{dbname}"


def _as_pg_user() -> dict[str, object]:
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam("pgserver")
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/bash", "pgserver"], check=True)
    return {"user": "pgserver"}


@pytest.fixture(scope="session")
def dev_postgres() -> Iterator[DevPostgres]:
    root = Path(tempfile.mkdtemp(prefix="payments-pg-"))
    root.chmod(0o777)
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    sock.chmod(0o777)
    user = _as_pg_user()
    port = free_port()
    subprocess.run(
        [PG_BIN / "initdb", "-D", data, "--auth=trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        **user,
    )
    opts = f"-h 127.0.0.1 -p {port} -k {sock}"
    subprocess.run(
        [PG_BIN / "pg_ctl", "-w", "-D", data, "-o", opts, "-l", root / "log", "start"],
        check=True,
        capture_output=True,
        **user,
    )
    try:
        yield DevPostgres(port)
    finally:
        subprocess.run(
            [PG_BIN / "pg_ctl", "-D", data, "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
            **user,
        )
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class DevToxiproxy:
    url: str

    def create(self, name: str, listen: str, upstream: str) -> None:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        httpx.post(f"{self.url}/proxies", json=body, timeout=5).raise_for_status()

    def set_enabled(self, name: str, enabled: bool) -> None:
        r = httpx.post(f"{self.url}/proxies/{name}", json={"enabled": enabled}, timeout=5)
        r.raise_for_status()

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
