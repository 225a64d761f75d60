"""Sessions by credential: which requests belong to one client when no session key is configured.

A client is known by the credentials it sends, not by its connection (every new connection has
a new port). :class:`SessionTracker` decides each request's session when the request is
written, in capture order, without a second pass:

1. a credential seen before (``Authorization``, an API-key or token header, a session-like
   cookie) puts the request in that credential's session;
2. else a credential that an earlier response *delivered* (a login's token, a ``Set-Cookie``)
   puts it in the session of the request that received that response, so a login and the
   requests that use its token are one session;
3. else, when a joiner is given (:mod:`harness.capture.joins`), a distinctive value the request
   sends (an e-mail, a token) that an earlier exchange of one session sent or received puts it
   in that session: a registration and the login that sends its e-mail are one session;
4. else a new credential starts a session of its own;
5. a request without any credential belongs to its connection (mitmproxy: client address and
   port; GoReplay: the connection part of the record id) - the only thing left to go by.

The strongest kind of credential a request carries decides (``Authorization``, then token
headers, then cookies named like a session, then other cookies): of that kind, a value seen
before, else one delivered before; else a cookie seen or delivered before (a cookie jar is one
client's); else the strongest value starts a new session. Values that cannot tell clients
apart (``lang=en``, ``Bearer null``: see :func:`~harness.capture.linkvalues.identity_value`)
are never credentials; a credential that turns up in two sessions (a cookie every client gets,
an API key an app ships with) is marked shared and no longer decides anything. Maps are
bounded (least recently used entries dropped first), so memory does not grow with the capture.

A configured session header or cookie (``--session-header`` / ``--session-cookie``) replaces all
of this with that one value, as before.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence

from pydantic import BaseModel, Field

from harness.capture.joins import JoinReport
from harness.capture.linkvalues import identity_value, is_token_name
from harness.capture.record import Exchange, split_headers
from harness.capture.sessions import SessionKeyer

#: Entries kept in each credential map (known, delivered) at most.
DEFAULT_MAX_CREDENTIALS = 50_000
#: Distinct header lines whose credentials are remembered (the cache is emptied when full).
_LINE_CACHE = 8192

BY_KNOWN = "credential seen before"
BY_DELIVERED = "credential an earlier response delivered"
BY_NEW = "new credential"
BY_JOINED = "joined by a value"
BY_CONNECTION = "no credential: connection"
BY_KEY = "configured key"

#: (priority, value): lower priorities decide first
Credential = tuple[int, str]
#: Asked for the session a request joins by value when no credential decides (see joins.py).
Join = Callable[[], str | None]
#: Priorities of cookies (2: named like a session, 3: other cookies); 0 and 1 are headers.
COOKIE = 2


class SessionReport(BaseModel):
    """How sessions were found (capture metadata ``sessions``); counts only."""

    found_by: str = Field(
        description="'credential', or the configured 'header NAME' / 'cookie NAME'"
    )
    requests_by: dict[str, int] = Field(default_factory=dict, description="how each was decided")
    shared_credentials: int = Field(0, description="credentials seen in several sessions")
    joins: JoinReport | None = Field(
        None, description="requests joined by value (None: not tried, or a file from before)"
    )


def line_credentials(name: str, value: str) -> list[Credential]:
    """The credentials one request header line carries (``name`` lower case, trimmed)."""
    if name == "cookie":
        out = []
        for part in value.split(";"):
            cname, eq, cvalue = part.strip().partition("=")
            if eq and identity_value(cvalue):
                out.append((COOKIE if is_token_name(cname) else COOKIE + 1, cvalue))
        return out
    if name in ("authorization", "proxy-authorization"):
        words = value.split()
        token = words[-1] if words else ""
        return [(0, token)] if identity_value(token) else []
    if is_token_name(name) and identity_value(value.strip()):
        return [(1, value.strip())]
    return []


def _first(credential: Credential) -> int:
    return credential[0]


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def header_key(name: str) -> str:
    """A header name as credentials are looked up: blanks around it cut, ASCII lower case.

    (The batch path computes the same in Arrow: ``ascii_lower(ascii_trim(name, " \t"))``.)
    """
    return name.strip(" \t").translate(_ASCII_LOWER)


def is_credential_header(key: str) -> bool:
    """Whether a header (its :func:`header_key`) may carry a credential."""
    return key in ("cookie", "authorization", "proxy-authorization") or is_token_name(key)


def head_credentials(
    head: str, line: Callable[[str, str], Sequence[Credential]] = line_credentials
) -> list[Credential]:
    """The credentials of a request's header lines (read by ``line``), strongest first."""
    out: list[Credential] = []
    for name, value in split_headers(head):
        key = header_key(name)
        if is_credential_header(key):
            out += line(key, value)
    out.sort(key=lambda c: c[0])
    return out


def connection_identity(exchange: Exchange) -> str:
    """What stands for the client when a request carries no credential: its connection."""
    if exchange.client:
        return "a\0" + exchange.client
    if exchange.conn:
        return "r\0" + gor_connection(exchange.conn)
    return "r\0" + exchange.source


def gor_connection(rid: str) -> str:
    """The connection part of a GoReplay record id.

    GoReplay 1.3 ids are 24 hex digits: client port, server port, client IPv4 address
    (16 digits), then the TCP sequence number of the message; the first 16 name the
    connection. Other ids (GoReplay 1.2 reuses one per connection) are kept whole.
    """
    if len(rid) == 24:
        try:
            int(rid, 16)
        except ValueError:
            return rid
        return rid[:16]
    return rid


class _Bounded(OrderedDict[str, str]):
    """A map that drops its least recently used entries beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def hit(self, key: str) -> str | None:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def put(self, key: str, value: str) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.limit:
            self.popitem(last=False)


class SessionTracker:
    """Gives each request its session key (16 hex digits), by credential or configured key."""

    def __init__(self, keyer: SessionKeyer, max_credentials: int = DEFAULT_MAX_CREDENTIALS) -> None:
        self.keyer = keyer
        self.configured = keyer.reads_headers
        self._known = _Bounded(max_credentials)
        self._delivered = _Bounded(max_credentials)
        self._shared = _Bounded(max_credentials)  # used as an ordered set
        self._by: Counter[str] = Counter()
        self._lines: dict[tuple[str, str], tuple[Credential, ...]] = {}

    def session(self, exchange: Exchange, join: Join | None = None) -> str:
        """The session of ``exchange`` (the per-record path); ``join`` as in :meth:`decide`."""
        if self.configured:
            self._by[BY_KEY] += 1
            return self.keyer.key(exchange)
        credentials = head_credentials(exchange.head, self.line)
        return self.decide(credentials, connection_identity(exchange), join)

    def line(self, name: str, value: str) -> tuple[Credential, ...]:
        """:func:`line_credentials` strongest first, remembered: a client sends the same lines
        again and again."""
        key = (name, value)
        found = self._lines.get(key)
        if found is None:
            if len(self._lines) >= _LINE_CACHE:
                self._lines.clear()
            found = self._lines[key] = tuple(sorted(line_credentials(name, value), key=_first))
        return found

    def decide(
        self, credentials: list[Credential], connection: str, join: Join | None = None
    ) -> str:
        """The session of a request with ``credentials`` (strongest first) on ``connection``.

        ``join`` is asked, when no credential was seen or delivered before, for the session the
        request joins by value (``None``: none); only then does a new credential start a
        session, or the connection decide.
        """
        session = self.by_credentials(credentials, join)
        if session is None and join is not None:
            session = self.by_join(join)
        return session if session is not None else self.by_connection(connection)

    def by_join(self, join: Join) -> str | None:
        """The session ``join`` names for a request without a usable credential (counted)."""
        session = join()
        if session is not None:
            self._by[BY_JOINED] += 1
        return session

    def by_connection(self, connection: str) -> str:
        """The session of a request without a usable credential: its connection's."""
        self._by[BY_CONNECTION] += 1
        return self.keyer.hash_identity(connection)

    def by_credentials(self, credentials: list[Credential], join: Join | None = None) -> str | None:
        """The session ``credentials`` (strongest first) decide, or ``None`` when none can.

        The strongest kind of credential the request carries decides (a user's token, not the
        API key every copy of an app sends): a value of that kind seen before, else delivered
        before. Failing that, a cookie seen or delivered before decides (a cookie jar belongs
        to one client: a new token sent with a known cookie is the same client's). Failing
        that, the session ``join`` names (a value the request sends ties it to an earlier
        exchange); failing that, the strongest value starts a new session. Weaker values follow
        the decision.
        """
        shared = self._shared
        usable = [c for c in credentials if c[1] not in shared] if shared else credentials
        if not usable:
            return None
        known = self._known
        top, first = usable[0]
        session = known.get(first)
        if session is not None:  # the usual case: the strongest value is known
            known.move_to_end(first)
            self._by[BY_KNOWN] += 1
            if len(usable) == 1:
                return session  # and it is the only one: nothing to note
        else:
            session = self._find([v for p, v in usable if p == top])
            if session is None and top < COOKIE:
                session = self._find([v for p, v in usable if p >= COOKIE])
            if session is None and join is not None:
                session = self.by_join(join)
            if session is None:
                session = self.keyer.hash_identity("c\0" + first)
                self._by[BY_NEW] += 1
        get = known.get
        for _, value in usable:
            owner = get(value)
            if owner is None:
                known.put(value, session)
            elif owner != session:
                # one value, two clients: it cannot tell them apart
                shared.put(value, "")
                del known[value]
        return session

    def _find(self, values: list[str]) -> str | None:
        """The session of the first of ``values`` seen before, else of the first delivered."""
        for value in values:
            session = self._known.hit(value)
            if session is not None:
                self._by[BY_KNOWN] += 1
                return session
        for value in values:
            session = self._delivered.hit(value)
            if session is not None:
                self._by[BY_DELIVERED] += 1
                return session
        return None

    def delivered(self, session: str, values: Iterable[str]) -> None:
        """Note credentials a response of ``session`` delivered (tokens, cookies)."""
        for value in values:
            if identity_value(value):
                self._delivered.put(value, session)

    def finish(self) -> SessionReport:
        """How the sessions were found."""
        c = self.keyer.config
        found_by = (
            f"header {c.header}" if c.header else f"cookie {c.cookie}" if c.cookie else "credential"
        )
        return SessionReport(
            found_by=found_by,
            requests_by=dict(self._by.most_common()),
            shared_credentials=len(self._shared),
        )
