"""The live replay display shared by ``harness replay``, ``run``, ``validate`` and ``demo``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table

    from harness.replay.model import ReplayProgress


class ReplayDisplay:
    """Live progress on stderr: sent/total, rate, errors and send-lag p99 per target.

    Shown from the first progress report on, so an early error is not drawn over an empty table.
    """

    def __init__(self, names: list[str] | None = None, title: str = "replay") -> None:
        from rich.console import Console
        from rich.live import Live

        self._names = list(names or [])
        self._title = title
        self._latest: ReplayProgress | None = None
        self._started = False
        self._live = Live(console=Console(stderr=True), refresh_per_second=4, transient=False)

    def update(self, progress: ReplayProgress) -> None:
        self._latest = progress
        for name in progress.targets:
            if name not in self._names:
                self._names.append(name)
        if not self._started:
            self._started = True
            self._live.start()
        self._live.update(self.render())

    def stop(self) -> None:
        if self._started:
            self._live.update(self.render())
            self._live.stop()
            self._started = False

    def render(self) -> Table:
        from rich.table import Table

        progress = self._latest
        title = f"{self._title}: starting workers"
        if progress is not None:
            title = f"{self._title}: {progress.elapsed_s:.0f}s, {progress.workers} worker(s)"
        table = Table(title=title, title_justify="left")
        for column in ("target", "sent/total", "req/s", "errors", "lag p99 (ms)"):
            table.add_column(column, justify="left" if column == "target" else "right")
        total = progress.total if progress is not None else 0
        for name in self._names:
            t = progress.targets.get(name) if progress is not None else None
            if t is None:
                table.add_row(name, f"0/{total}", "-", "-", "-")
            else:
                table.add_row(
                    name,
                    f"{t.sent}/{total}",
                    f"{t.rate_per_s:.0f}",
                    str(t.errors),
                    f"{t.lag_p99_ms:.2f}",
                )
        return table


def print_cleanup(line: str) -> None:
    """One thing cleaned up after a killed run, on stderr even with ``--quiet`` (it is news)."""
    print(f"harness: cleaned up: {line}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def live_progress(
    quiet: bool, names: list[str] | None = None, title: str = "replay"
) -> Iterator[Callable[[ReplayProgress], None] | None]:
    """The ``on_progress`` callback of a live display (None when quiet); stopped on exit."""
    if quiet:
        yield None
        return
    display = ReplayDisplay(names, title=title)
    try:
        yield display.update
    finally:
        display.stop()
