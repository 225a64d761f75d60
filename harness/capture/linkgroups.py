"""A capture's session links grouped for ``capture inspect``: by kind, source and target place.

One group is "the same kind of value, from the same place of the same endpoint's response,
into the same place of later requests", e.g.::

    token from POST /api/users/login body.user.token -> Authorization of 421 requests in 6 sessions
    id from POST /api/notes body.note.slug -> path of 263 requests in 6 sessions

The groups are computed by streaming the capture once (``idx``, ``method``, ``route``,
``session``, ``links``); a link's source row always comes before it, so its endpoint is known
when the link is read. Memory: four bytes per row, plus the groups. Never a value: only
locators (which hold names and route words) and counts.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from pathlib import Path

from harness.capture.store import iter_capture

_COLUMNS = ["idx", "method", "route", "session", "links"]


@dataclass
class LinkGroup:
    """Links of one kind from one source place of one endpoint into one target place."""

    kind: str
    source: str  # "METHOD /route" of the exchanges whose responses delivered the values
    src: str
    dst: str
    requests: int = 0
    sessions: set[str] = field(default_factory=set)

    def describe(self) -> str:
        """One line, e.g. ``token from POST /login body.token -> Authorization of 5 requests``."""
        return (
            f"{self.kind} from {self.source} {describe_source(self.src)} -> "
            f"{describe_target(self.dst)} of {self.requests:,} requests in "
            f"{len(self.sessions):,} sessions"
        )

    def to_json(self) -> dict[str, object]:
        """The group in ``inspect --json``."""
        return {
            "kind": self.kind,
            "from": self.source,
            "src": self.src,
            "dst": self.dst,
            "requests": self.requests,
            "sessions": len(self.sessions),
        }


def link_groups(path: Path) -> list[LinkGroup]:
    """The link groups of the capture ``path``, most requests first."""
    endpoints: dict[str, int] = {}
    names: list[str] = []
    endpoint_of = array("i")  # idx -> endpoint code, filled in row order
    groups: dict[tuple[str, int, str, str], LinkGroup] = {}
    for batch in iter_capture(path, _COLUMNS):
        data = batch.to_pydict()
        for idx, method, route, session, links in zip(
            data["idx"], data["method"], data["route"], data["session"], data["links"],
            strict=True,
        ):  # fmt: skip
            endpoint = f"{method} {route}"
            code = endpoints.get(endpoint)
            if code is None:
                code = endpoints[endpoint] = len(names)
                names.append(endpoint)
            while len(endpoint_of) < idx:
                endpoint_of.append(-1)
            endpoint_of.append(code)
            counted: set[tuple[str, int, str, str]] = set()
            for link in links:
                src_idx = link["src_idx"]
                source = endpoint_of[src_idx] if 0 <= src_idx < len(endpoint_of) else -1
                key = (link["kind"], source, link["src"], link["dst"])
                group = groups.get(key)
                if group is None:
                    label = names[source] if source >= 0 else "(unknown)"
                    group = groups[key] = LinkGroup(link["kind"], label, link["src"], link["dst"])
                if key not in counted:
                    counted.add(key)
                    group.requests += 1
                    group.sessions.add(session)
    return sorted(groups.values(), key=lambda g: (-g.requests, g.kind, g.source, g.src, g.dst))


def describe_source(src: str) -> str:
    """A source locator in words: ``json:$.user.token`` -> ``body.user.token``."""
    base, tilde, _ = src.partition("~")
    place, _, name = base.partition(":")
    if place == "json":
        text = "body" + name.removeprefix("$")
    elif place == "header":
        text = f"{name} header"
    elif place == "cookie":
        text = f"Set-Cookie {name}"
    elif place == "html":
        text = f"form field {name}"
    else:
        text = "body"
    return text + (" (part)" if tilde else "")


def describe_target(dst: str) -> str:
    """A target locator in words: ``header:Authorization`` -> ``Authorization``."""
    place, _, name = dst.partition(":")
    if place == "header":
        return name
    if place == "json":
        return "body" + name.removeprefix("$")
    if place in ("path", "body"):
        return place
    return f"{place} {name}"
