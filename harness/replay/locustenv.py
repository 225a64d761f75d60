"""The Locust side of a replay process: environment, user's locustfile, web UI, CSV and HTML.

Every replay process that runs Locust (the single local process, a master, a worker) builds its
``Environment`` here, the way ``locust`` itself does: on Locust's global ``events`` (so
listeners registered by the user's locustfile or a plugin at import time fire), with
``parsed_options`` from Locust's own parser (plugins' options come from ``LOCUST_*`` environment
variables), and ``events.init`` fired with the runner and the web UI.

The process that aggregates the stats (the single local process, or the master) may also serve
Locust's web UI (:class:`LocustOutputs`): its charts and tables show the replay live, but the
controls that would change the load (start, stop, user count, reset) answer with an error: the
capture's schedule decides the load, and Ctrl-C in harness's terminal stops a replay so that
faults are reverted. It writes Locust's CSV files (``--csv PREFIX``) and HTML report
(``--html FILE``) at the end, after the last worker's final stats arrived.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gevent
import locust
from locust.env import Environment

from harness.errors import ReplayError
from harness.replay.model import LocustOptions

#: the web UI's endpoints that change the load; the replay refuses them
_CONTROLS = frozenset({"/swarm", "/stop", "/user", "/stats/reset"})
_REFUSAL = (
    "this replay follows the capture's schedule: harness sets the load (Ctrl-C in its terminal "
    "stops it and reverts the faults)"
)


def add_arguments(parser: Any) -> None:
    """The options :meth:`LocustOptions.args` writes, for a process's argument parser."""
    parser.add_argument("--locustfile", default=None)
    parser.add_argument("--web", default=None)
    parser.add_argument("--csv", dest="csv_prefix", default=None)
    parser.add_argument("--html", default=None)


def settings_from(args: Any) -> LocustOptions:
    """:class:`LocustOptions` from parsed :func:`add_arguments` options."""
    return LocustOptions(args.locustfile, args.web, args.csv_prefix, args.html)


def import_locustfile(path: str) -> None:
    """Import the user's locustfile (its listeners register on Locust's global events)."""
    file = Path(path)
    try:
        spec = importlib.util.spec_from_file_location(f"harness_locustfile_{file.stem}", file)
        if spec is None or spec.loader is None:
            raise ImportError("not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ReplayError(f"locustfile {path}: {type(exc).__name__}: {exc}") from None


def parsed_options(settings: LocustOptions) -> Any:
    """Locust's options as ``locust`` would parse them for this replay (plugins' options
    included, from ``LOCUST_*`` environment variables)."""
    from locust.argument_parser import get_parser

    args = ["--locustfile", settings.locustfile or "harness"]
    args += ["--web-port", settings.web.rpartition(":")[2]] if settings.web else ["--headless"]
    args += ["--csv", settings.csv_prefix] if settings.csv_prefix else []
    args += ["--html", settings.html] if settings.html else []
    try:
        return get_parser(default_config_files=[]).parse_args(args=args)
    except SystemExit:
        raise ReplayError(
            "Locust could not parse its options (check the LOCUST_* environment variables)"
        ) from None


def environment(user_classes: Sequence[type[Any]], settings: LocustOptions) -> Environment:
    """A Locust environment for a replay process (the locustfile imported first); Locust logs
    at INFO on stderr (the process's log file in the run's work folder)."""
    from locust import log

    setup_logging: Any = log.setup_logging  # untyped in Locust
    setup_logging("INFO")
    # Locust's web UI parses sys.argv for its own options: it must not see this process's
    sys.argv[1:] = []
    if settings.locustfile:
        import_locustfile(settings.locustfile)
    return Environment(
        user_classes=list(user_classes),
        events=locust.events,
        parsed_options=parsed_options(settings),
        locustfile=settings.locustfile,
    )


def fire_init(env: Environment, web_ui: Any = None) -> None:
    """Fire ``events.init`` as ``locust`` does once the runner (and web UI) exist."""
    events: Any = env.events
    events.init.fire(environment=env, runner=env.runner, web_ui=web_ui)


class LocustOutputs:
    """The aggregating process's web UI, stats history, CSV files and HTML report."""

    def __init__(self, env: Environment, settings: LocustOptions) -> None:
        from locust import stats

        self.env = env
        self.settings = settings
        self.web_ui: Any = None
        self.csv: Any = None
        self._greenlets: list[gevent.Greenlet] = []
        if settings.csv_prefix:
            Path(settings.csv_prefix).parent.mkdir(parents=True, exist_ok=True)
            self.csv = stats.StatsCSVFileWriter(
                env, stats.PERCENTILES_TO_REPORT, settings.csv_prefix, False
            )
        if settings.web:
            host, _, port = settings.web.rpartition(":")
            _check_listen(host or "127.0.0.1", int(port))
            self.web_ui = env.create_web_ui(
                host=host or "127.0.0.1",
                port=int(port),
                delayed_start=True,
                stats_csv_writer=self.csv,
            )
            self.web_ui.app.before_request(_refuse_controls)

    def start(self) -> None:
        """Serve the web UI, record the stats history, write the CSV files as Locust does."""
        from locust import stats

        if self.web_ui is not None:
            self.web_ui.start()
        assert self.env.runner is not None
        self._greenlets.append(gevent.spawn(stats.stats_history, self.env.runner))
        if self.csv is not None:
            self._greenlets.append(gevent.spawn(self.csv.stats_writer))

    def finish(self) -> None:
        """Write the final CSV rows and the HTML report; stop the web UI."""
        for greenlet in self._greenlets:
            greenlet.kill(block=True)
        if self.csv is not None:
            _final_csv(self.csv)
        if self.settings.html:
            from locust import html

            report: Any = html.get_html_report  # untyped in Locust
            path = Path(self.settings.html)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(report(self.env, show_download_link=False), encoding="utf-8")
        if self.web_ui is not None and getattr(self.web_ui, "server", None) is not None:
            self.web_ui.stop()


def _check_listen(host: str, port: int) -> None:
    """Fail early, in one line, when the web UI's address cannot be listened on."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise ReplayError(f"--web {host}:{port}: cannot listen there: {exc.strerror}") from None


def _refuse_controls() -> Any:
    from flask import jsonify, request

    path = request.path.rstrip("/")
    if request.method == "POST" and any(path.endswith(c) for c in _CONTROLS):
        return jsonify({"success": False, "message": _REFUSAL}), 409
    return None


def _final_csv(writer: Any) -> None:
    """Rewrite the requests, failures and exceptions files with the final stats, append the
    last history row, close the files (the writer's loop may have stopped a second early)."""
    files = (
        (writer.requests_csv_filehandle, writer.requests_csv_writer, writer.requests_csv_columns,
         writer._requests_data_rows),
        (writer.failures_csv_filehandle, writer.failures_csv_writer, writer.failures_columns,
         writer._failures_data_rows),
        (writer.exceptions_csv_filehandle, writer.exceptions_csv_writer,
         writer.exceptions_columns, writer._exceptions_data_rows),
    )  # fmt: skip
    for handle, csv_writer, columns, rows in files:
        handle.seek(0)
        handle.truncate()
        csv_writer.writerow(columns)
        rows(csv_writer)
    if writer.stats_history_csv_filehandle.tell() == 0:  # the loop never ran: no header yet
        writer.stats_history_csv_writer.writerow(writer.stats_history_csv_columns)
    writer._stats_history_data_rows(writer.stats_history_csv_writer, time.time())
    writer.close_files()
