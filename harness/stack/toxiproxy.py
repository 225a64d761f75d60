"""A typed client for the toxiproxy 2.12 HTTP API, with a timeout on every call.

Every failure becomes a :class:`~harness.errors.ToxiproxyError` with a one-line message that
names the server: a refused call carries the server's own error text and HTTP status; a
server that cannot be reached or does not answer in time says so.

>>> with ToxiproxyClient("http://127.0.0.1:8474", timeout=2.0) as toxiproxy:  # doctest: +SKIP
...     toxiproxy.create_proxy("postgres", "127.0.0.1:25432", "127.0.0.1:5432")
...     toxiproxy.create_toxic("postgres", Latency(latency=400, jitter=100))
...     toxiproxy.partition("postgres")
...     toxiproxy.reset()

Unit tests pass an ``httpx.MockTransport`` as ``transport``; the same client is tested against
a real ``toxiproxy-server``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from harness.errors import ToxiproxyError
from harness.stack.toxics import (
    AnyAttributes,
    Proxy,
    ProxyConfig,
    Stream,
    Timeout,
    Toxic,
    ToxicAttributes,
)

DEFAULT_URL = "http://127.0.0.1:8474"
DEFAULT_TIMEOUT = 5.0

#: The toxics :meth:`ToxiproxyClient.partition` adds: a black hole on each stream.
PARTITION_TOXICS = {stream: f"partition_{stream.value}" for stream in Stream}

_Model = TypeVar("_Model", bound=BaseModel)

_ERRNO_PREFIX = re.compile(r"^\[Errno -?\d+\]\s*")


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _reason(exc: httpx.HTTPError) -> str:
    """``connection refused`` from ``[Errno 111] Connection refused``."""
    text = _ERRNO_PREFIX.sub("", _one_line(str(exc))) or type(exc).__name__
    return text[0].lower() + text[1:]


class ToxiproxyClient:
    """Talks to one toxiproxy server; a context manager that closes its HTTP client.

    ``timeout`` (seconds) bounds every call: connect, send and read. ``transport`` replaces the
    network (tests pass ``httpx.MockTransport``).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        # trust_env=False: an HTTP_PROXY in the environment must not capture loopback calls.
        self._http = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            trust_env=False,
            headers={"User-Agent": "replay-harness"},
        )

    def close(self) -> None:
        """Close the underlying HTTP client."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ToxiproxyClient({self.url!r}, timeout={self.timeout:g})"

    # --- plumbing -------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: object = None) -> httpx.Response:
        call = f"{method} {path}"
        try:
            if body is None:
                response = self._http.request(method, path)
            else:
                response = self._http.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            raise ToxiproxyError(
                f"toxiproxy at {self.url} did not answer {call} within {self.timeout:g} s"
            ) from exc
        except httpx.ConnectError as exc:
            raise ToxiproxyError(f"toxiproxy at {self.url} is unreachable: {_reason(exc)}") from exc
        except httpx.HTTPError as exc:
            raise ToxiproxyError(
                f"toxiproxy at {self.url} failed on {call}: {_reason(exc)}"
            ) from exc
        return response

    def _request(self, method: str, path: str, body: object = None) -> httpx.Response:
        response = self._send(method, path, body)
        if response.status_code >= 400:
            raise self._refusal(method, path, response)
        return response

    def _update(self, path: str, body: object) -> httpx.Response:
        # 2.12 deprecates POST for updates in favour of PATCH; servers before 2.6 only know POST.
        response = self._send("PATCH", path, body)
        if response.status_code == 405:
            response = self._send("POST", path, body)
        if response.status_code >= 400:
            raise self._refusal(response.request.method, path, response)
        return response

    def _refusal(self, method: str, path: str, response: httpx.Response) -> ToxiproxyError:
        status = response.status_code
        message = response.text.strip() or response.reason_phrase
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("error"), str):
            message = payload["error"]
        return ToxiproxyError(
            f"toxiproxy at {self.url} refused {method} {path}: {_one_line(message)} "
            f"(HTTP {status})",
            status=status,
        )

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            request = response.request
            raise ToxiproxyError(
                f"toxiproxy at {self.url} answered {request.method} {request.url.path} "
                f"with invalid JSON: {_one_line(response.text, 80)!r}"
            ) from exc

    def _parse(self, model: type[_Model], data: Any, what: str) -> _Model:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "answer"
            raise ToxiproxyError(
                f"toxiproxy at {self.url} sent an unexpected {what}: {where}: {first['msg']}"
            ) from exc

    @staticmethod
    def _proxy_path(proxy: str) -> str:
        return f"/proxies/{quote(proxy, safe='')}"

    def _toxic_path(self, proxy: str, toxic: str | None = None) -> str:
        path = f"{self._proxy_path(proxy)}/toxics"
        return path if toxic is None else f"{path}/{quote(toxic, safe='')}"

    # --- server ---------------------------------------------------------------------------

    def version(self) -> str:
        """The server's version, e.g. ``"2.12.0"``.

        2.12 answers ``{"version": "2.12.0"}``; older servers answer the bare text.
        """
        text = self._request("GET", "/version").text.strip()
        try:
            payload = json.loads(text)
        except ValueError:
            return text
        if isinstance(payload, dict) and isinstance(payload.get("version"), str):
            return str(payload["version"])
        return text

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (``POST /reset``)."""
        self._request("POST", "/reset")

    # --- proxies --------------------------------------------------------------------------

    def list_proxies(self) -> dict[str, Proxy]:
        """Every proxy on the server, by name."""
        data = self._json(self._request("GET", "/proxies"))
        if not isinstance(data, dict):
            raise ToxiproxyError(f"toxiproxy at {self.url} sent an unexpected proxy list")
        return {name: self._parse(Proxy, item, "proxy") for name, item in data.items()}

    def create_proxy(self, name: str, listen: str, upstream: str, *, enabled: bool = True) -> Proxy:
        """Create a proxy listening on ``listen`` (``host:port``) that forwards to ``upstream``."""
        config = ProxyConfig(name=name, listen=listen, upstream=upstream, enabled=enabled)
        data = self._json(self._request("POST", "/proxies", config.model_dump()))
        return self._parse(Proxy, data, "proxy")

    def get_proxy(self, name: str) -> Proxy:
        """One proxy with its toxics."""
        data = self._json(self._request("GET", self._proxy_path(name)))
        return self._parse(Proxy, data, "proxy")

    def update_proxy(
        self,
        name: str,
        *,
        listen: str | None = None,
        upstream: str | None = None,
        enabled: bool | None = None,
    ) -> Proxy:
        """Change a proxy's listen address, upstream or enabled state; ``None`` keeps a value."""
        changes = {"listen": listen, "upstream": upstream, "enabled": enabled}
        body = {key: value for key, value in changes.items() if value is not None}
        data = self._json(self._update(self._proxy_path(name), body))
        return self._parse(Proxy, data, "proxy")

    def delete_proxy(self, name: str) -> None:
        """Delete a proxy; its connections are closed."""
        self._request("DELETE", self._proxy_path(name))

    def populate(self, proxies: Sequence[ProxyConfig]) -> list[Proxy]:
        """Create the given proxies (``POST /populate``); proxies that already exist are kept.

        Returns the proxies the server reports for the call.
        """
        body = [config.model_dump() for config in proxies]
        data = self._json(self._request("POST", "/populate", body))
        items = data.get("proxies") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ToxiproxyError(f"toxiproxy at {self.url} sent an unexpected populate answer")
        return [self._parse(Proxy, item, "proxy") for item in items]

    def enable(self, name: str) -> Proxy:
        """Enable a proxy: it listens and accepts connections again."""
        return self.update_proxy(name, enabled=True)

    def disable(self, name: str) -> Proxy:
        """Disable a proxy: its connections are closed and new ones refused."""
        return self.update_proxy(name, enabled=False)

    def delete_all_proxies(self) -> None:
        """Delete every proxy on the server."""
        for name in self.list_proxies():
            self.delete_proxy(name)

    # --- toxics ---------------------------------------------------------------------------

    def list_toxics(self, proxy: str) -> list[Toxic]:
        """The toxics of one proxy."""
        data = self._json(self._request("GET", self._toxic_path(proxy)))
        if not isinstance(data, list):
            raise ToxiproxyError(f"toxiproxy at {self.url} sent an unexpected toxic list")
        return [self._parse(Toxic, item, "toxic") for item in data]

    def create_toxic(
        self,
        proxy: str,
        attributes: AnyAttributes,
        *,
        name: str | None = None,
        stream: Stream = Stream.DOWNSTREAM,
        toxicity: float = 1.0,
    ) -> Toxic:
        """Add a toxic; its type follows from ``attributes`` (e.g. ``Latency(latency=100)``).

        Without ``name`` the server names it ``<type>_<stream>``. ``toxicity`` is the share of
        connections it applies to (0 to 1).
        """
        if not attributes.toxic_type:
            raise ValueError("create_toxic needs the attributes of a known toxic type")
        _check_toxicity(toxicity)
        body: dict[str, object] = {
            "type": attributes.toxic_type,
            "stream": Stream(stream).value,
            "toxicity": toxicity,
            "attributes": attributes.model_dump(),
        }
        if name is not None:
            body["name"] = name
        data = self._json(self._request("POST", self._toxic_path(proxy), body))
        return self._parse(Toxic, data, "toxic")

    def get_toxic(self, proxy: str, name: str) -> Toxic:
        """One toxic of a proxy."""
        data = self._json(self._request("GET", self._toxic_path(proxy, name)))
        return self._parse(Toxic, data, "toxic")

    def update_toxic(
        self,
        proxy: str,
        name: str,
        *,
        attributes: ToxicAttributes | None = None,
        toxicity: float | None = None,
    ) -> Toxic:
        """Change a toxic's attributes and/or toxicity (its type and stream are fixed)."""
        body: dict[str, object] = {}
        if attributes is not None:
            body["attributes"] = attributes.model_dump()
        if toxicity is not None:
            _check_toxicity(toxicity)
            body["toxicity"] = toxicity
        data = self._json(self._update(self._toxic_path(proxy, name), body))
        return self._parse(Toxic, data, "toxic")

    def delete_toxic(self, proxy: str, name: str) -> None:
        """Remove one toxic from a proxy."""
        self._request("DELETE", self._toxic_path(proxy, name))

    def delete_all_toxics(self, proxy: str) -> None:
        """Remove every toxic of one proxy."""
        for toxic in self.list_toxics(proxy):
            self.delete_toxic(proxy, toxic.name)

    def reset_proxy(self, proxy: str) -> Proxy:
        """What :meth:`reset` does, for one proxy only: remove its toxics and enable it."""
        self.delete_all_toxics(proxy)
        return self.enable(proxy)

    # --- fault shapes (DESIGN section 4) --------------------------------------------------

    def down(self, proxy: str) -> Proxy:
        """Kill the dependency: disable the proxy (connections closed, new ones refused)."""
        return self.disable(proxy)

    def up(self, proxy: str) -> Proxy:
        """Undo :meth:`down`."""
        return self.enable(proxy)

    def partition(self, proxy: str) -> list[Toxic]:
        """Black-hole the proxy both ways: a ``timeout`` toxic with timeout 0 on each stream.

        Connections stay open but no byte passes, until :meth:`heal` removes the toxics.
        """
        return [
            self.create_toxic(proxy, Timeout(timeout=0), name=name, stream=stream)
            for stream, name in PARTITION_TOXICS.items()
        ]

    def heal(self, proxy: str) -> None:
        """Undo :meth:`partition`: remove its toxics (those already gone are fine)."""
        present = {toxic.name for toxic in self.list_toxics(proxy)}
        for name in PARTITION_TOXICS.values():
            if name in present:
                self.delete_toxic(proxy, name)


def _check_toxicity(toxicity: float) -> None:
    if not 0.0 <= toxicity <= 1.0:
        raise ValueError(f"toxicity must be between 0 and 1, got {toxicity}")
