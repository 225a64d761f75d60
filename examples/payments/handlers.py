"""The HTTP routes of the payments service, on ``http.server.BaseHTTPRequestHandler``.

A handler answers exactly one request, read from bytes the server already framed, and writes
its answer into a buffer that the server sends; see :mod:`.server` for why.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeVar

from .metrics import Metrics
from .pool import DatabaseUnavailable
from .resilience import DatabaseCaller
from .store import Refused, create_payment, get_balance, get_payment

log = logging.getLogger("payments.http")

T = TypeVar("T")

_PAYMENT = re.compile(r"/payments/([^/]+)")
_BALANCE = re.compile(r"/accounts/([^/]+)/balance")
_MAX_ID = 2**63 - 1
_MAX_AMOUNT_CENTS = 10_000_000


@dataclass(frozen=True)
class App:
    """What every handler needs: the build's database caller, metrics and the catalog."""

    variant: str
    caller: DatabaseCaller
    metrics: Metrics
    catalog: bytes
    access_log: bool = False
    slowdown: float = 0.0  # extra share of each answer's time (hotfix-slower)
    balance_as_text: bool = False  # balance_cents as a string (hotfix-format)


class BadInput(Exception):
    """The request cannot be served as sent (answered 400)."""


class PaymentsHandler(BaseHTTPRequestHandler):
    """Answers one framed request; :meth:`answer` returns the bytes to send."""

    protocol_version = "HTTP/1.1"
    server_version = "payments"
    sys_version = ""

    def __init__(
        self, raw: bytes, client_address: tuple[str, int], app: App, *, overloaded: bool = False
    ) -> None:
        # Not calling the base __init__ on purpose: it would read from a socket and loop over
        # keep-alive requests, while the server hands us exactly one framed request.
        self.app = app
        self.client_address = client_address
        self.rfile = io.BytesIO(raw)
        self._out = io.BytesIO()
        self.wfile = self._out
        self.close_connection = True
        self.route = "other"
        self.status = 0
        self.overloaded = overloaded

    def answer(self) -> tuple[bytes, bool]:
        """Handle the request: the response bytes, and whether to close the connection."""
        self.handle_one_request()
        return self._out.getvalue(), self.close_connection

    # --- routes -------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self._route("/health", lambda: self._send(200, b"ok\n", "text/plain; charset=utf-8"))
        elif path == "/catalog":
            self._route("/catalog", self._get_catalog)
        elif path == "/metrics":
            self._route("/metrics", self._get_metrics)
        elif match := _PAYMENT.fullmatch(path):
            payment_id = match.group(1)
            self._route("/payments/{id}", lambda: self._get_payment(payment_id))
        elif match := _BALANCE.fullmatch(path):
            account_id = match.group(1)
            self._route("/accounts/{id}/balance", lambda: self._get_balance(account_id))
        else:
            self._json(404, {"error": f"no route for GET {path}"})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/payments":
            self._route("/payments", self._post_payment)
        else:
            self._json(404, {"error": f"no route for POST {path}"})

    def _route(self, route: str, serve: Callable[[], None]) -> None:
        self.route = route
        if self.overloaded:
            self._json(503, {"error": "server overloaded", "reason": "queue_full"}, retry=True)
            return
        try:
            serve()
        except BadInput as exc:
            self._json(400, {"error": str(exc)})
        except DatabaseUnavailable as exc:
            self._json(503, {"error": "database unavailable", "reason": exc.reason}, retry=True)

    def _get_catalog(self) -> None:
        self._send(200, self.app.catalog, "application/json", cache="public, max-age=60")

    def _get_metrics(self) -> None:
        self._send(200, self.app.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")

    def _get_payment(self, raw_id: str) -> None:
        payment_id = _parse_id(raw_id, "payment")
        payment = self._db(lambda conn: get_payment(conn, payment_id))
        if payment is None:
            self._json(404, {"error": f"payment {payment_id} not found"})
        else:
            self._json(200, payment.to_json())

    def _get_balance(self, raw_id: str) -> None:
        account_id = _parse_id(raw_id, "account")
        balance = self._db(lambda conn: get_balance(conn, account_id))
        if balance is None:
            self._json(404, {"error": f"account {account_id} not found"})
            return
        document = balance.to_json()
        if self.app.balance_as_text:
            document["balance_cents"] = str(document["balance_cents"])
        self._json(200, document)

    def _post_payment(self) -> None:
        account_id, amount, currency = _parse_payment(self._body())
        result = self._db(lambda conn: create_payment(conn, account_id, amount, currency))
        if isinstance(result, Refused):
            self._json(result.status, {"error": result.message})
        else:
            self._json(201, result.to_json(), location=f"/payments/{result.id}")

    # --- helpers ------------------------------------------------------------------------
    def _db(self, work: Callable[[Any], T]) -> T:
        return self.app.caller.run(work)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length)

    def _json(self, status: int, body: object, **extra: Any) -> None:
        data = json.dumps(body, separators=(",", ":")).encode() + b"\n"
        self._send(status, data, "application/json", **extra)

    def _send(
        self,
        status: int,
        data: bytes,
        content_type: str,
        *,
        cache: str | None = None,
        location: str | None = None,
        retry: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if cache:
            self.send_header("Cache-Control", cache)
        if location:
            self.send_header("Location", location)
        if retry:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(data)

    def send_response(self, code: int, message: str | None = None) -> None:
        self.status = code
        super().send_response(code, message)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.app.access_log:
            log.info('%s "%s" %s', self.client_address[0], self.requestline, code)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.client_address[0], format % args)


def _parse_id(raw: str, what: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise BadInput(f"{what} id must be a positive integer, got {raw!r}")
    value = int(raw)
    # Ids past bigint cannot exist; answering 404 keeps them away from the database.
    return min(value, _MAX_ID)


def _parse_payment(body: bytes) -> tuple[int, int, str]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadInput("body must be a JSON object")
    account_id, amount, currency = (data.get(k) for k in ("account_id", "amount_cents", "currency"))
    if type(account_id) is not int or not 1 <= account_id <= 2**31 - 1:
        raise BadInput("account_id must be a positive integer")
    if type(amount) is not int or not 1 <= amount <= _MAX_AMOUNT_CENTS:
        raise BadInput(f"amount_cents must be an integer from 1 to {_MAX_AMOUNT_CENTS}")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise BadInput("currency must be a three-letter ISO code such as USD")
    return account_id, amount, currency


def timed_answer(
    raw: bytes, client: tuple[str, int], app: App, received: float, *, overloaded: bool = False
) -> tuple[bytes, bool]:
    """Answer one request and record it in the metrics (latency counted from ``received``).

    ``overloaded``: the worker queue is full; the request is answered 503 at once.
    """
    handler = PaymentsHandler(raw, client, app, overloaded=overloaded)
    data, close = handler.answer()
    if app.slowdown > 0 and not overloaded:
        time.sleep((time.monotonic() - received) * app.slowdown)
    app.metrics.requests.labels(route=handler.route, status=str(handler.status)).inc()
    app.metrics.latency.labels(route=handler.route).observe(time.monotonic() - received)
    return data, close
