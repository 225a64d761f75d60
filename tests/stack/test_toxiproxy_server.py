"""The toxiproxy-server manager: a real server started, checked and stopped; its failure modes.

Most tests start their own real ``toxiproxy-server``. A few use tiny stand-in programs to
reproduce failures a healthy binary does not show on demand (exits at once, never answers,
ignores SIGTERM); those are in addition to the real-server tests, not instead of them.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness.errors import ToxiproxyError
from harness.stack.ports import ephemeral_port_range, free_port
from harness.stack.toxiproxy_server import (
    ToxiproxyServer,
    count_accepted_connections,
    find_toxiproxy_server,
)

REAL_BINARY = find_toxiproxy_server()


def gone(pid: int) -> bool:
    """Whether no process with ``pid`` exists (the manager reaps its child, so no zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def no_url_environ() -> dict[str, str]:
    """The environment without TOXIPROXY_URL, so the manager starts its own server."""
    return {k: v for k, v in os.environ.items() if k != "TOXIPROXY_URL"}


def stand_in(tmp_path: Path, body: str) -> Path:
    """An executable Python script standing in for toxiproxy-server (it gets -host/-port)."""
    script = tmp_path / "toxiproxy-server"
    script.write_text(f"#!{sys.executable}\nimport sys, time, signal\n{body}\n")
    script.chmod(0o755)
    return script


@pytest.fixture
def server(tmp_path: Path) -> ToxiproxyServer:
    return ToxiproxyServer(log_path=tmp_path / "toxiproxy.log", environ=no_url_environ())


def test_real_binary_is_available() -> None:
    assert REAL_BINARY is not None, "toxiproxy-server missing: run `make setup`"


def test_starts_answers_and_stops_leaving_no_process(server: ToxiproxyServer) -> None:
    with server:
        assert server.version == "2.12.0"
        assert server.port is not None
        assert server.url == f"http://127.0.0.1:{server.port}"
        ephemeral = ephemeral_port_range()
        if ephemeral is not None:
            assert not ephemeral[0] <= server.port <= ephemeral[1]
        assert server.running() and not server.external
        with server.client() as client:
            assert client.version() == "2.12.0"
        pid = server.pid
        assert pid is not None
    assert not server.running()
    assert gone(pid)
    assert server.log_path is not None
    assert "Starting Toxiproxy" in server.log_path.read_text()
    with pytest.raises(ToxiproxyError, match="not started"):
        _ = server.url


def test_default_log_goes_to_a_temporary_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # so the test leaves nothing in /tmp
    with ToxiproxyServer(environ=no_url_environ()) as server:
        assert server.log_path is not None and server.log_path.exists()
        assert server.log_path.parent.parent == tmp_path
        pid = server.pid
    assert pid is not None and gone(pid)


def test_counts_accepted_connections_from_the_real_log(server: ToxiproxyServer) -> None:
    upstream = socket.create_server(("127.0.0.1", 0))
    with upstream, server, server.client() as client:
        address = f"127.0.0.1:{upstream.getsockname()[1]}"
        proxy = client.create_proxy("payments_db", f"127.0.0.1:{free_port()}", address)
        client.create_proxy("other", f"127.0.0.1:{free_port()}", "127.0.0.1:1")
        for _ in range(3):
            socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=1).close()
        # The log line is written by the server just after accepting: poll briefly for it.
        deadline = time.monotonic() + 5
        while server.accepted_connections().get("payments_db", 0) < 3:
            assert time.monotonic() < deadline, server.log_text()[-2000:]
            time.sleep(0.02)
        assert server.accepted_connections() == {"payments_db": 3}
        assert count_accepted_connections(server.log_text()) == {"payments_db": 3}


def test_missing_binary_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Neither on PATH nor beside the running Python.
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    manager = ToxiproxyServer(log_path=tmp_path / "log", environ={"PATH": str(tmp_path)})
    with pytest.raises(ToxiproxyError) as caught:
        manager.start()
    message = str(caught.value)
    assert "toxiproxy-server not found" in message
    assert "make setup" in message and "TOXIPROXY_URL" in message
    assert "\n" not in message
    assert manager.pid is None


def test_missing_explicit_binary(tmp_path: Path) -> None:
    manager = ToxiproxyServer(binary=tmp_path / "nope", environ={})
    with pytest.raises(ToxiproxyError, match=r"toxiproxy-server not found in .*nope: run `make"):
        manager.start()


def test_found_beside_python_when_not_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    assert REAL_BINARY is not None
    monkeypatch.setattr(sys, "executable", str(REAL_BINARY.parent / "python"))
    assert find_toxiproxy_server({"PATH": ""}) == REAL_BINARY.parent / "toxiproxy-server"


def test_port_in_use_is_a_one_line_error_naming_the_port(tmp_path: Path) -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        manager = ToxiproxyServer(log_path=tmp_path / "log", port=port, environ=no_url_environ())
        with pytest.raises(ToxiproxyError) as caught:
            manager.start()
    assert str(caught.value) == (
        f"port {port} on 127.0.0.1 is already in use: toxiproxy-server cannot listen there"
    )
    assert manager.pid is None


def test_port_taken_after_the_check_is_caught_from_the_log(tmp_path: Path) -> None:
    # What the real 2.12 binary does when its port is taken: it logs the error and keeps
    # running. Reproduced here because the race (port taken between check and start) cannot be
    # forced with the real binary.
    script = stand_in(
        tmp_path,
        'print(\'{"level":"error","error":"listen tcp 127.0.0.1:1: bind: address already in '
        'use","message":"Server finished with error"}\', flush=True)\ntime.sleep(30)',
    )
    manager = ToxiproxyServer(log_path=tmp_path / "log", binary=script, environ={})
    with pytest.raises(ToxiproxyError) as caught:
        manager.start()
    message = str(caught.value)
    assert message.startswith(f"port {manager.port} on 127.0.0.1 is already in use")
    assert "error: Server finished with error (listen tcp" in message
    assert "\n" not in message
    assert manager.pid is not None and gone(manager.pid)


def test_early_exit_shows_the_log_tail(tmp_path: Path) -> None:
    script = stand_in(tmp_path, 'print("flag provided but not defined: -host")\nsys.exit(2)')
    manager = ToxiproxyServer(log_path=tmp_path / "log", binary=script, environ={})
    with pytest.raises(ToxiproxyError) as caught:
        manager.start()
    message = str(caught.value)
    assert "exited with code 2 before answering" in message
    assert "flag provided but not defined: -host" in message
    assert manager.pid is not None and gone(manager.pid)


def test_never_answering_is_bounded_and_killed(tmp_path: Path) -> None:
    script = stand_in(tmp_path, "time.sleep(30)")
    manager = ToxiproxyServer(
        log_path=tmp_path / "log", binary=script, environ={}, start_timeout=0.5
    )
    started = time.monotonic()
    with pytest.raises(
        ToxiproxyError, match=r"did not answer within 0.5 s; log .*: \(log is empty\)"
    ):
        manager.start()
    assert time.monotonic() - started < 5
    assert manager.pid is not None and gone(manager.pid)


def test_sigkill_after_the_grace_period(tmp_path: Path) -> None:
    # A server that answers /version but ignores SIGTERM must still be gone after stop().
    script = stand_in(
        tmp_path,
        "from http.server import BaseHTTPRequestHandler, HTTPServer\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "class H(BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers(); self.wfile.write(b'9.9.9')\n"
        "HTTPServer(('127.0.0.1', int(sys.argv[4])), H).serve_forever()",
    )
    manager = ToxiproxyServer(log_path=tmp_path / "log", binary=script, environ={}, stop_grace=0.3)
    with manager:
        assert manager.version == "9.9.9"
        pid = manager.pid
    assert pid is not None and gone(pid)


def test_toxiproxy_url_uses_the_existing_server(toxiproxy_server: ToxiproxyServer) -> None:
    external = ToxiproxyServer(environ={"TOXIPROXY_URL": toxiproxy_server.url + "/"})
    with external:
        assert external.external
        assert external.url == toxiproxy_server.url
        assert external.version == "2.12.0"
        assert external.pid is None and external.log_text() == ""
    # Leaving the context did not stop the server it was pointed at.
    with toxiproxy_server.client() as client:
        assert client.version() == "2.12.0"


def test_unreachable_toxiproxy_url_is_an_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ToxiproxyError) as caught:
        ToxiproxyServer(environ={"TOXIPROXY_URL": url}).start()
    assert str(caught.value) == (
        f"toxiproxy at {url} is unreachable: connection refused (from TOXIPROXY_URL)"
    )


def test_count_accepted_connections_reads_json_and_logfmt_lines() -> None:
    log = "\n".join(
        [
            '{"level":"info","name":"pg","client":"127.0.0.1:1","message":"Accepted client"}',
            '{"level":"info","name":"pg","client":"127.0.0.1:2","message":"Accepted client"}',
            '{"level":"error","name":"pg","message":"Unable to open connection to upstream"}',
            '{"level":"info","name":"redis","message":"Accepted client"}',
            # toxiproxy before 2.6 logged with logrus, as key=value pairs
            'time="2020-01-01T00:00:00Z" level=info msg="Accepted client" client=127.0.0.1:3 '
            "name=pg proxy=127.0.0.1:25432 upstream=127.0.0.1:5432",
            "not a log line mentioning Accepted client",
            "{broken json Accepted client",
        ]
    )
    assert count_accepted_connections(log) == {"pg": 3, "redis": 1}
    assert count_accepted_connections("") == {}
