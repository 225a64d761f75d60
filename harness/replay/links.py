"""Session links on replay: what each target delivered, and where later requests send it.

Pure. The capture stores on each request the links whose values it sends (``links`` column,
:mod:`harness.capture.schema`). On replay, for each target separately:

1. when the reply to an exchange that is a link's source arrives, :meth:`LinkState.record`
   reads the values later requests need from it (:func:`harness.replay.sources.extract`);
2. before a request with links leaves, :meth:`LinkState.apply` writes the values that the same
   target delivered where the captured ones stood (:func:`harness.replay.substitute.substitute`).

A link whose source reply failed, did not come, or lacked the value leaves the captured value in
place; the request's ``link`` outcome is then ``missing`` (else ``ok``; ``none`` without links).

:func:`check_links` is the validation the orchestrator runs before any traffic: every locator
parses, every source is an earlier request of the capture (else :class:`CaptureError` naming the
file and the row, exit 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.capture.linkspec import Locator, LocatorError, parse_source, parse_target
from harness.errors import CaptureError
from harness.replay.sources import Reply, extract
from harness.replay.substitute import Outgoing, substitute

#: values of the ``link`` column of requests.parquet
LINK_NONE, LINK_OK, LINK_MISSING = "none", "ok", "missing"


@dataclass(frozen=True)
class Link:
    """One parsed link of a request: the source (exchange and place) and where it is sent."""

    src_idx: int
    src: Locator
    dst: Locator
    value: str
    encoding: str
    kind: str
    key: tuple[int, str] = (0, "")
    """what the value is stored under: the source exchange and the source locator's text"""


def parse_links(raw: Iterable[Mapping[str, Any]] | None) -> tuple[Link, ...]:
    """The links of one capture row (as read from Parquet); :class:`LocatorError` if bad."""
    links = []
    for item in raw or ():
        src_idx, src = int(item["src_idx"]), parse_source(str(item["src"]))
        links.append(
            Link(
                src_idx=src_idx,
                src=src,
                dst=parse_target(str(item["dst"])),
                value=str(item["value"]),
                encoding=str(item["encoding"] or "raw"),
                kind=str(item["kind"] or "value"),
                key=(src_idx, str(src)),
            )
        )
    return tuple(links)


def sources_needed(links_by_row: Iterable[Sequence[Link]]) -> dict[int, list[Locator]]:
    """``src_idx`` -> the distinct source locators later requests read from that reply."""
    needed: dict[int, dict[str, Locator]] = {}
    for links in links_by_row:
        for link in links:
            needed.setdefault(link.src_idx, {})[link.key[1]] = link.src
    return {idx: list(locators.values()) for idx, locators in needed.items()}


class LinkState:
    """The values one target delivered for the links of one worker's requests.

    ``needed`` (from :func:`sources_needed`) says which replies to read and where; a looped
    capture reads a source again on each pass, so the newest value always wins.
    """

    def __init__(self, needed: Mapping[int, Sequence[Locator]]) -> None:
        self._needed = {idx: [(str(src), src) for src in srcs] for idx, srcs in needed.items()}
        self._values: dict[tuple[int, str], str | None] = {}

    def wants(self, idx: int) -> bool:
        """Whether the reply to exchange ``idx`` is a link source."""
        return idx in self._needed

    def record(self, idx: int, reply: Reply | None) -> None:
        """Read the values later requests need from the reply to ``idx`` (None: it failed)."""
        for text, src in self._needed.get(idx, ()):
            self._values[(idx, text)] = extract(src, reply) if reply is not None else None

    def apply(self, req: Outgoing, links: Sequence[Link]) -> str:
        """Write this target's values into ``req``; the row's ``link`` outcome."""
        if not links:
            return LINK_NONE
        outcome = LINK_OK
        for link in links:
            live = self._values.get(link.key)
            if live is None:
                outcome = LINK_MISSING
                continue
            if live == link.value and link.encoding == "raw":
                continue  # the target delivered what the capture holds: nothing to write
            if not substitute(req, link.dst, link.value, live, link.encoding):
                outcome = LINK_MISSING
        return outcome


def check_links(
    path: Path, idxs: Sequence[int], links: Sequence[Sequence[Mapping[str, Any]] | None],
    sources: Sequence[str | None],
) -> int:  # fmt: skip
    """Check every link of a capture; the number of links. :class:`CaptureError` (exit 3)
    names the file and the row (``idx`` and its ``source`` record) of the first bad one."""
    seen: set[int] = set()
    order = sorted(range(len(idxs)), key=lambda i: idxs[i])
    count = 0
    for i in order:
        idx = idxs[i]
        for item in links[i] or ():
            where = f"{path}: row idx {idx}" + (f" ({sources[i]})" if sources[i] else "")
            try:
                link = parse_links([item])[0]
            except (LocatorError, KeyError, TypeError, ValueError) as exc:
                raise CaptureError(f"{where}: bad link: {exc}") from None
            if link.src_idx not in seen:
                raise CaptureError(
                    f"{where}: link {link.dst} takes its value from idx {link.src_idx}, "
                    "which is not an earlier request of this capture"
                )
            count += 1
        seen.add(idx)
    return count
