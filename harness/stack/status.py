"""The status of a running stack, from its state file and live checks of toxiproxy and targets."""

from __future__ import annotations

import httpx

from harness.errors import ToxiproxyError
from harness.stack.toxiproxy import ToxiproxyClient


def stack_status(state: dict[str, object], timeout: float = 2.0) -> dict[str, object]:
    """``{"targets": {NAME: {"url", "healthy", ...}}, "proxies": {NAME: {"listen", ...}}}``.

    Health is checked now (GET of the target's own health path, ``health`` in the stack file
    or its ``defaults``, recorded in the state); proxies are read from toxiproxy now,
    so a proxy left disabled or with toxics shows up as such.
    """
    targets_state = state.get("targets")
    targets: dict[str, object] = {}
    if isinstance(targets_state, dict):
        with httpx.Client(timeout=timeout) as http:
            for name, info in targets_state.items():
                url = str(info.get("url", ""))
                # the target's own health path, from the stack file (state of older versions
                # has none: /health was the only choice then)
                health = str(info.get("health") or "/health")
                targets[name] = {**info, "health": health, "healthy": _healthy(http, url + health)}
    proxies: dict[str, object] = {}
    toxiproxy_url = state.get("toxiproxy")
    wanted = state.get("proxies")
    if isinstance(toxiproxy_url, str) and isinstance(wanted, dict):
        try:
            with ToxiproxyClient(toxiproxy_url, timeout=timeout) as client:
                live = client.list_proxies()
        except ToxiproxyError as exc:
            live = {}
            proxies["_error"] = str(exc)
        for name, info in wanted.items():
            proxy = live.get(name)
            proxies[name] = {
                **(info if isinstance(info, dict) else {}),
                "listen": proxy.listen if proxy else None,
                "upstream": proxy.upstream if proxy else None,
                "enabled": proxy.enabled if proxy else False,
                "toxics": [t.name for t in proxy.toxics] if proxy else [],
                "exists": proxy is not None,
            }
    return {
        "stack": state.get("stack"),
        "toxiproxy": toxiproxy_url,
        "postgres": state.get("postgres"),
        "targets": targets,
        "proxies": proxies,
    }


def _healthy(http: httpx.Client, url: str) -> bool:
    try:
        return 200 <= http.get(url).status_code < 300
    except httpx.HTTPError:
        return False
