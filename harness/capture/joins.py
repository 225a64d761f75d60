"""Sessions joined by value: a request without a known credential joins the session it belongs to.

A register or login request carries no credential (or only a per-request nonce header such as
``Postman-Token``), so by credentials alone it starts a session of its own, and the session
that uses the token its response hands out is another: on replay the login may overtake its
registration. It does send something that ties it to an earlier exchange: the e-mail address
the registration sent, a refresh token or an OAuth ``state`` an earlier response delivered.

:class:`SessionJoiner` remembers, for a bounded time and number of values, which session sent
or received each *distinctive* value (:func:`joinable`), and answers :meth:`~SessionJoiner.join`
for a request that would otherwise start a new session or fall back to its connection
(:mod:`harness.capture.clients`). The rules, documented in docs/capture.md ("Sessions joined by
value"):

- what joins: whole values of the request's query parameters and JSON, form and multipart body
  fields (never path segments: they address resources anyone may read, nor headers);
- what may join: an e-mail address; a value of 16+ characters with letters and digits and at
  least 8 distinct characters (a token, a UUID, a long id); a value of 6+ characters (4+
  distinct) in a field named like an identity (``email``, ``username``, ``login``,
  ``account``, ``phone``...) that is not an id field. Never a number, a date or time, a URL,
  a value with blanks, a common word, or a field named like a password;
- where it comes from: what an earlier request of the session sent at such a place, and the
  tokens and long ids a response of the session handed out (:mod:`harness.capture.linksources`;
  not an e-mail or user name a response showed, nor an item of a list: that is often someone
  else's public data, and the owner's own login must not join the reader who saw it);
- a value seen in two sessions never joins (an account two clients log in with, a token two
  clients were handed): it is marked shared and counted;
- a value last seen more than ``join_window_s`` before the request does not join (counted);
- values that point to two different sessions: no join (counted as ambiguous).

Memory is bounded: at most ``max_values`` values (hashed, least recently seen dropped first;
values older than the window go first).
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from collections.abc import Iterable
from typing import NamedTuple

from pydantic import BaseModel, Field

from harness.capture.linksources import Delivered
from harness.capture.linktargets import Place
from harness.capture.linkvalues import is_number

#: Values remembered at most (about 250 bytes each).
DEFAULT_MAX_VALUES = 50_000
#: Places whose labels are remembered at most.
_MAX_LABELS = 4096
#: Default of ``session.join_window_s``.
DEFAULT_WINDOW_S = 600.0

MIN_LENGTH = 6
MAX_LENGTH = 512
#: A value this long, with letters, digits and enough distinct characters, may join anywhere.
MIN_RANDOM_LENGTH = 16

_JOIN_PLACES = ("json:", "form:", "multipart:", "query:")
_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
    r"|-?\d+[.,]\d+(?:[eE][+-]?\d+)?"
)
_IDENTITY_NAME = re.compile(
    r"e.?mail|user(?!.?agent)|login|account|handle|phone|mobile|msisdn|nick|member|customer"
    r"|subscriber|principal|signin|sign_in",
    re.I,
)
_PASSWORD_NAME = re.compile(r"pass|pwd|secret|otp|pin$|^pin|cvv|cvc", re.I)
_ID_NAME = re.compile(r"(?:^|[_\-.])(?:id|ids|uuid|guid|pk)$|[a-z0-9](?:Id|ID|Uuid|UUID)$")
_COMMON = frozenset(
    {
        "undefined", "anonymous", "unknown", "default", "application/json", "en_us.utf-8",
        "success", "pending", "inactive", "enabled", "disabled", "password",
    }
)  # fmt: skip
_JSON_INDEX = re.compile(r"\[\d+\]")


class JoinReport(BaseModel):
    """What joining by value did (capture metadata ``sessions.joins``); counts only."""

    enabled: bool = False
    window_s: float = DEFAULT_WINDOW_S
    joined: int = Field(0, description="requests joined to an earlier exchange's session")
    by: dict[str, int] = Field(
        default_factory=dict, description="'<place> <- request|response <place>' -> requests"
    )
    ambiguous: int = Field(0, description="requests whose values point to several sessions")
    shared: int = Field(0, description="requests whose values were seen in several sessions")
    expired: int = Field(0, description="requests whose value was seen too long before")
    values_evicted: int = Field(0, description="values dropped to bound memory")


class _Seen(NamedTuple):
    """A value in the index: whose it is (``None``: shared), since and until when, from where."""

    session: str | None
    usable: int  # ns: a response's value is usable once the response ended
    last: int  # ns: last time the session sent or received it
    src: str  # "request json:$.user.email" / "response json:$.user.token"


def place_name(locator: str) -> str:
    """The field name a locator ends with: ``json:$.user.email`` -> ``email``."""
    rest = locator.partition(":")[2].partition("~")[0]
    rest = _JSON_INDEX.sub("", rest)
    return rest.rsplit(".", 1)[-1].strip("$[]'\"")


def joinable(value: str, name: str) -> bool:
    """Whether ``value``, held in a field called ``name``, may join a session.

    >>> joinable("u1796408665x0@mail.com", "email"), joinable("johnjacob", "username")
    (True, True)
    >>> joinable("password", "password"), joinable("2026-12-04T18:24:28Z", "since")
    (False, False)
    >>> joinable("1796402762985", "since"), joinable("how-to-train-your-dragon", "slug")
    (False, False)
    >>> joinable("07700406-8385-4321-9a3c-3f1e2d4c5b6a", "order_ref")
    True
    """
    n = len(value)
    if n < MIN_LENGTH or n > MAX_LENGTH or not value.isprintable() or " " in value:
        return False
    if name and _PASSWORD_NAME.search(name):
        return False  # many accounts share a password: it is no identity
    low = value.lower()
    if low in _COMMON or is_number(value) or _DATE.fullmatch(value):
        return False
    if "://" in value or value[0] == "/":
        return False  # an address of a resource, not of a client
    if "@" in value and _EMAIL.fullmatch(value):
        return True
    if random_looking(value):
        return True
    if name and _IDENTITY_NAME.search(name) and not _ID_NAME.search(name):
        return len(set(low)) >= 4
    return False


def random_looking(value: str) -> bool:
    """A token or long id: 16+ characters, letters and digits, 8+ distinct among the first 32
    (and no ``@``: an e-mail address is an identity, not a token)."""
    if len(value) < MIN_RANDOM_LENGTH or len(set(value[:32])) < 8 or "@" in value:
        return False
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def request_join_values(places: Iterable[Place]) -> list[tuple[str, str]]:
    """``(value, place)`` of a request's places that may join (see the module docstring)."""
    out = []
    for place in places:
        dst = place.dst
        if place.prefix or place.suffix or not dst.startswith(_JOIN_PLACES):
            continue  # a word of a longer text, a path segment, a header
        if joinable(place.value, place_name(dst)):
            out.append((place.value, dst))
    return out


class SessionJoiner:
    """Remembers distinctive values by session and joins requests by them (module docstring)."""

    def __init__(
        self,
        window_s: float = DEFAULT_WINDOW_S,
        *,
        max_values: int = DEFAULT_MAX_VALUES,
    ) -> None:
        self._window_s = window_s
        self._window = int(window_s * 1e9)
        self._max = max_values
        self._index: OrderedDict[int, _Seen] = OrderedDict()
        self._n: Counter[str] = Counter()
        self._by: Counter[str] = Counter()
        self._labels: dict[str, str] = {}  # place -> its label in the report (one string each)

    def join(self, ts: int, values: Iterable[tuple[str, str]]) -> str | None:
        """The session a request sent at ``ts`` with ``values`` (``(value, place)``) joins.

        ``None`` (and the reason counted) when no value is known, a value is shared, seen too
        long ago, or the values point to more than one session.
        """
        found: dict[str, str] = {}
        shared = expired = False
        index = self._index
        for value, dst in values:
            seen = index.get(hash(value))
            if seen is None:
                continue
            if seen.session is None:
                shared = True
            elif seen.usable > ts:
                continue  # sent before the response that delivered it had ended
            elif ts - seen.last > self._window:
                expired = True
            elif seen.session not in found:
                found[seen.session] = f"{dst} <- {seen.src}"
        if len(found) == 1:
            ((session, how),) = found.items()
            self._n["joined"] += 1
            self._by[how] += 1
            return session
        if found:
            self._n["ambiguous"] += 1
        elif shared:
            self._n["shared"] += 1
        elif expired:
            self._n["expired"] += 1
        return None

    def sent(self, session: str, ts: int, values: Iterable[tuple[str, str]]) -> None:
        """Note the join values (``(value, place)``) a request of ``session`` sent at ``ts``."""
        labels = self._labels
        for value, dst in values:
            label = labels.get(dst)
            if label is None:
                label = labels[dst] = "request " + dst
            self._note(value, _Seen(session, ts, ts, label))

    def delivered(self, session: str, end: int, values: Iterable[Delivered]) -> None:
        """Note what a response of ``session`` delivered (usable from ``end``, when it ended).

        Only what the response *handed out* is noted: a token or long id, not an item of a
        list. An e-mail or a user name in a response is often someone else's public data (an
        author, a profile): the owner's own login must not join the reader who saw it.
        """
        labels = self._labels
        for d in values:
            value = d[0]
            if len(value) < MIN_RANDOM_LENGTH:
                continue  # the usual value: not a token (cheapest test first, per JSON leaf)
            src = d[1]
            label = labels.get(src)
            if label is None:
                # per place: a list item, a password field never join ("" marks them)
                name = place_name(src)
                listed = src.startswith("json:") and "[" in src
                refused = listed or bool(name and _PASSWORD_NAME.search(name))
                label = labels[src] = "" if refused else "response " + src
                if len(labels) > _MAX_LABELS:
                    labels.clear()
            if label and random_looking(value) and joinable(value, ""):
                self._note(value, _Seen(session, end, end, label))

    def _note(self, value: str, new: _Seen) -> None:
        index = self._index
        key = hash(value)
        old = index.get(key)
        if old is not None and new.last - old.last > self._window:
            old = None  # forgotten: past the window, as if dropped already
            del index[key]
        if old is not None:
            if old.session is None or old.session != new.session:
                new = _Seen(None, 0, max(old.last, new.last), "")  # seen in two: shared
            else:
                new = new._replace(usable=min(old.usable, new.usable))
            index[key] = new
            index.move_to_end(key)
        else:
            index[key] = new
        self._evict(new.last)

    def _evict(self, now: int) -> None:
        """Drop values past the window (oldest first), then any beyond ``max_values``."""
        index = self._index
        horizon = now - self._window
        while index:
            key = next(iter(index))
            over = len(index) > self._max
            if not over and index[key].last >= horizon:
                break
            del index[key]
            if over:
                self._n["values_evicted"] += 1

    def finish(self) -> JoinReport:
        """The report, with every count so far."""
        return JoinReport(
            enabled=True, window_s=self._window_s, by=dict(self._by.most_common()), **self._n
        )
