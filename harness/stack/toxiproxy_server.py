"""Run ``toxiproxy-server`` for the harness, or use the one ``TOXIPROXY_URL`` points to.

>>> with ToxiproxyServer(log_path=Path("runs/x/toxiproxy.log")) as server:  # doctest: +SKIP
...     with server.client() as toxiproxy:
...         toxiproxy.create_proxy("postgres", "127.0.0.1:25432", "127.0.0.1:5432")
...     accepted = server.accepted_connections()   # {"postgres": 12}

The server is started on 127.0.0.1 and a free port outside the ephemeral range, with its log at
level ``info``: that level logs one ``Accepted client`` line per connection a proxy accepts,
which :func:`count_accepted_connections` turns into a per-proxy counter (a probe of how often a
target reached for its database).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from harness.errors import ToxiproxyError
from harness.stack import processes
from harness.stack.lifetime import die_with_parent
from harness.stack.ports import free_port, port_in_use
from harness.stack.toxiproxy import DEFAULT_TIMEOUT, ToxiproxyClient

BINARY = "toxiproxy-server"
URL_VARIABLE = "TOXIPROXY_URL"
HOW_TO_GET = (
    "run `make setup` (it installs toxiproxy-server 2.12.0 into .venv/bin), "
    f"or set {URL_VARIABLE} to a running server"
)

# What toxiproxy 2.12 logs when its API cannot listen; the process then keeps running idle.
_LISTEN_FAILED = "Server finished with error"
_ADDRESS_IN_USE = "address already in use"
_ACCEPTED = "Accepted client"
# logrus key=value pairs, as written by toxiproxy before 2.6 (zerolog JSON since).
_LOGFMT_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def find_toxiproxy_server(environ: Mapping[str, str] | None = None) -> Path | None:
    """``toxiproxy-server`` on PATH, else beside the running Python (the project's .venv/bin)."""
    env = os.environ if environ is None else environ
    found = shutil.which(BINARY, path=env.get("PATH", os.defpath))
    if found:
        return Path(found)
    beside_python = Path(sys.executable).parent / BINARY
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    return None


def _log_fields(line: str) -> dict[str, str]:
    """The fields of one log line, JSON (zerolog) or key=value (logrus); ``{}`` if neither."""
    line = line.strip()
    if line.startswith("{"):
        try:
            data = json.loads(line)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    fields = {key: value.strip('"') for key, value in _LOGFMT_PAIR.findall(line)}
    if "msg" in fields:
        fields.setdefault("message", fields["msg"])
    return fields


def count_accepted_connections(log_text: str) -> dict[str, int]:
    """Connections each proxy accepted, by proxy name, from toxiproxy's log text.

    Counts the ``Accepted client`` lines; a connection is counted even when the upstream then
    refuses it (it is still an attempt to reach the dependency).
    """
    counts: Counter[str] = Counter()
    for line in log_text.splitlines():
        if _ACCEPTED not in line:
            continue
        fields = _log_fields(line)
        if fields.get("message") == _ACCEPTED and fields.get("name"):
            counts[fields["name"]] += 1
    return dict(counts)


def _shorten(line: str) -> str:
    """A JSON log line as ``level: message (error)``; other lines as they are."""
    fields = _log_fields(line)
    if "message" not in fields:
        return line
    extra = f" ({fields['error']})" if "error" in fields else ""
    return f"{fields.get('level', '?')}: {fields['message']}{extra}"


def log_tail(path: Path, lines: int = 5, limit: int = 600) -> str:
    """The last ``lines`` log lines as one line (JSON lines shortened to level and message)."""
    return processes.log_tail(path, lines, limit, clean=_shorten)


class ToxiproxyServer:
    """A toxiproxy server for one run: started here, or an existing one at ``TOXIPROXY_URL``.

    ``url`` (or ``TOXIPROXY_URL`` in ``environ``) selects an existing server, which is only
    checked, never started or stopped. Otherwise ``toxiproxy-server`` (``binary``, else found by
    :func:`find_toxiproxy_server`) is started on ``host:port`` (a free port when ``port`` is
    None), its output kept in ``log_path`` (overwritten; a temporary directory by default) at
    ``log_level``; :meth:`stop` sends SIGTERM, then SIGKILL after
    ``stop_grace`` seconds. A context manager.
    """

    def __init__(
        self,
        *,
        log_path: Path | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        binary: Path | None = None,
        url: str | None = None,
        environ: Mapping[str, str] | None = None,
        start_timeout: float = 10.0,
        stop_grace: float = 5.0,
        client_timeout: float = DEFAULT_TIMEOUT,
        log_level: str = "info",
    ) -> None:
        self._environ = dict(os.environ if environ is None else environ)
        self._external_url = url or self._environ.get(URL_VARIABLE) or None
        self.host = host
        self.port = port
        self.binary = binary
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self.client_timeout = client_timeout
        self.log_level = log_level
        self.version: str | None = None
        self.pid: int | None = None
        self._url: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def external(self) -> bool:
        """True when the server is someone else's (``TOXIPROXY_URL``): never started or stopped."""
        return self._external_url is not None

    @property
    def url(self) -> str:
        """The API URL, e.g. ``http://127.0.0.1:24871``."""
        if self._url is None:
            raise ToxiproxyError("toxiproxy server is not started")
        return self._url

    def client(self, timeout: float | None = None) -> ToxiproxyClient:
        """A new client for this server (close it, or use it as a context manager)."""
        return ToxiproxyClient(self.url, timeout=timeout or self.client_timeout)

    def running(self) -> bool:
        """Whether the process started here is still alive (False for an external server)."""
        return self._process is not None and self._process.poll() is None

    # --- start ----------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the server (or check the external one) and wait until it answers."""
        if self._url is not None:
            return self
        if self._external_url is not None:
            self._check_external(self._external_url.rstrip("/"))
            return self
        try:
            self._launch()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _check_external(self, url: str) -> None:
        with ToxiproxyClient(url, timeout=self.client_timeout) as client:
            try:
                self.version = client.version()
            except ToxiproxyError as exc:
                raise ToxiproxyError(f"{exc} (from {URL_VARIABLE})", exc.status) from exc
        self._url = url

    def _launch(self) -> None:
        binary = self.binary or find_toxiproxy_server(self._environ)
        if binary is None or not binary.is_file():
            where = binary or f"PATH or {Path(sys.executable).parent}"
            raise ToxiproxyError(f"{BINARY} not found in {where}: {HOW_TO_GET}")
        port = self.port or free_port(self.host)
        if port_in_use(self.host, port):
            raise ToxiproxyError(
                f"port {port} on {self.host} is already in use: {BINARY} cannot listen there"
            )
        self.port = port
        if self.log_path is None:
            self.log_path = Path(tempfile.mkdtemp(prefix="harness-toxiproxy-")) / "toxiproxy.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("wb")
        env = {**self._environ, "LOG_LEVEL": self.log_level}
        try:
            # A session of its own: a Ctrl-C on the terminal reaches the harness, which then
            # stops the stack in order, instead of killing toxiproxy under a running fault.
            self._process = subprocess.Popen(
                [str(binary), "-host", self.host, "-port", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent(),  # noqa: PLW1509 (only prctl runs in the child)
            )
        except OSError as exc:
            raise ToxiproxyError(f"cannot run {binary}: {exc.strerror or exc}") from exc
        self.pid = self._process.pid
        self._url = f"http://{self.host}:{port}"

    def _failure(self, what: str) -> ToxiproxyError:
        assert self.log_path is not None
        tail = log_tail(self.log_path)
        if _ADDRESS_IN_USE in tail:
            return ToxiproxyError(
                f"port {self.port} on {self.host} is already in use: {BINARY} cannot listen "
                f"there; log: {tail}"
            )
        return ToxiproxyError(f"{BINARY} on {self._url} {what}; log ({self.log_path}): {tail}")

    def _listen_failed(self) -> bool:
        assert self.log_path is not None
        try:
            return _LISTEN_FAILED in self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False

    def _wait_ready(self) -> None:
        assert self._process is not None and self._url is not None
        deadline = time.monotonic() + self.start_timeout
        with ToxiproxyClient(self._url, timeout=min(1.0, self.start_timeout)) as client:
            while True:
                code = self._process.poll()
                if code is not None:
                    raise self._failure(f"exited with code {code} before answering")
                # 2.12 does not exit when its API cannot listen: it logs the error and idles.
                if self._listen_failed():
                    raise self._failure("could not listen")
                if time.monotonic() >= deadline:
                    raise self._failure(f"did not answer within {self.start_timeout:g} s")
                try:
                    self.version = client.version()
                except ToxiproxyError:
                    time.sleep(0.05)
                    continue
                break
        # Whoever answered, make sure it was not another server holding the port.
        if self._listen_failed():
            raise self._failure("could not listen")

    # --- stop -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop a server started here (SIGTERM, then SIGKILL); an external one is left alone."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.stop_grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self._url = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- log ------------------------------------------------------------------------------

    def log_text(self) -> str:
        """The server's log so far ("" for an external server, whose log is elsewhere)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def accepted_connections(self) -> dict[str, int]:
        """Connections accepted so far per proxy name (see :func:`count_accepted_connections`)."""
        return count_accepted_connections(self.log_text())
