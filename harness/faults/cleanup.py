"""Leave nothing behind: reset the proxies a run owns, and turn signals into an orderly revert.

A run calls :func:`reset_owned` before its first fault, so whatever an earlier run killed with
SIGKILL left applied (a disabled proxy, toxics) does not outlive the next start. Only the
proxies named are touched: other proxies on a shared toxiproxy are not this run's business.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterable, Iterator
from types import FrameType

from harness.errors import Interrupted
from harness.faults.kinds import remove_toxic, toxic_names
from harness.stack.toxiproxy import ToxiproxyClient


def reset_owned(client: ToxiproxyClient, proxy_names: Iterable[str]) -> list[str]:
    """Enable each proxy and remove all its toxics; returns what was changed, for the log.

    A proxy that does not exist is an error (:class:`~harness.errors.ToxiproxyError`): the
    run expected to own it.
    """
    changed: list[str] = []
    for name in proxy_names:
        proxy = client.get_proxy(name)
        for toxic in sorted(toxic_names(proxy)):
            remove_toxic(client, name, toxic)
            changed.append(f"{name}: removed toxic {toxic}")
        if not proxy.enabled:
            client.enable(name)
            changed.append(f"{name}: enabled")
    return changed


@contextlib.contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Inside the block, SIGINT and SIGTERM raise :class:`Interrupted` (exit 130 / 143) in the
    main thread, so ``finally`` blocks and context managers (the fault timeline) revert.

    The CLI's ``main`` already does this for SIGTERM; this is for library callers and workers.
    A no-op outside the main thread (Python delivers signals to the main thread only).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(f"interrupted by {signal.Signals(signum).name}", signum=signum)

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
