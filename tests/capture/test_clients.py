"""Sessions by credential: logins join their token's requests, weak values never merge clients."""

from __future__ import annotations

from harness.capture.clients import (
    BY_CONNECTION,
    BY_DELIVERED,
    BY_KNOWN,
    BY_NEW,
    SessionTracker,
    gor_connection,
    head_credentials,
)
from harness.capture.config import SessionConfig
from harness.capture.record import Exchange
from harness.capture.sessions import SessionKeyer

TOKEN_A = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnQQ"
TOKEN_B = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiIn0.c2lnQg"


def _ex(head: str, client: str = "10.0.0.1:5000", n: int = 0) -> Exchange:
    return Exchange(0, "GET", "http", "h", "/", "HTTP/1.1", head, b"", f"f:{n}", client=client)


def _tracker() -> SessionTracker:
    return SessionTracker(SessionKeyer(SessionConfig(salt="s")))


def test_credentials_strongest_first_and_weak_values_ignored() -> None:
    head = (
        "Cookie: lang=en; theme=dark; _ga=GA1.2.1234567.89; sessionid=k2j3h4g5f6d7s8a9\n"
        f"Authorization: Bearer {TOKEN_A}\nX-Api-Key: 3f9a8c7d6e5b\nUser-Agent: x"
    )
    assert head_credentials(head) == [
        (0, TOKEN_A),
        (1, "3f9a8c7d6e5b"),
        (2, "k2j3h4g5f6d7s8a9"),
        (3, "GA1.2.1234567.89"),
    ]
    assert head_credentials("Authorization: Bearer null\nCookie: lang=en; consent=true") == []


def test_a_login_and_the_requests_that_use_its_token_are_one_session() -> None:
    tracker = _tracker()
    login = tracker.session(_ex("Content-Type: application/json", client="10.0.0.1:5000"))
    tracker.delivered(login, [TOKEN_A])
    # later requests come on other connections (new ports): the token decides
    first = tracker.session(_ex(f"Authorization: Token {TOKEN_A}", client="10.0.0.1:5001"))
    again = tracker.session(_ex(f"Authorization: Token {TOKEN_A}", client="10.0.0.1:5002"))
    other = tracker.session(_ex(f"Authorization: Token {TOKEN_B}", client="10.0.0.1:5003"))
    assert first == login == again
    assert other != login
    report = tracker.finish()
    assert report.found_by == "credential"
    assert report.requests_by == {BY_CONNECTION: 1, BY_DELIVERED: 1, BY_KNOWN: 1, BY_NEW: 1}


def test_low_entropy_cookies_do_not_merge_clients() -> None:
    tracker = _tracker()
    a = tracker.session(_ex("Cookie: lang=en; sid=a1b2c3d4e5f6", client="1.1.1.1:1"))
    b = tracker.session(_ex("Cookie: lang=en; sid=f6e5d4c3b2a1", client="2.2.2.2:1"))
    anonymous = tracker.session(_ex("Cookie: lang=en", client="3.3.3.3:1"))
    assert len({a, b, anonymous}) == 3


def test_a_credential_in_two_sessions_is_shared_and_decides_nothing() -> None:
    tracker = _tracker()
    shared = "app-key-0123456789"
    a = tracker.session(_ex(f"Authorization: Bearer {TOKEN_A}\nX-Api-Key: {shared}"))
    b = tracker.session(_ex(f"Authorization: Bearer {TOKEN_B}\nX-Api-Key: {shared}"))
    # an anonymous request with only the app's key is not put in a's (or b's) session
    c = tracker.session(_ex(f"X-Api-Key: {shared}", client="9.9.9.9:9"))
    assert a != b and c not in (a, b)
    assert tracker.finish().shared_credentials == 1


def test_requests_without_credentials_go_by_connection() -> None:
    tracker = _tracker()
    one = tracker.session(_ex("", client="10.0.0.1:5000", n=1))
    same = tracker.session(_ex("", client="10.0.0.1:5000", n=2))
    other = tracker.session(_ex("", client="10.0.0.1:5001", n=3))
    assert one == same != other


def test_gor_connection_part_of_an_id() -> None:
    # GoReplay 1.3: client port, server port, client IPv4, then the message's sequence number
    assert gor_connection("d0d057f97f000001f47c3d60") == "d0d057f97f000001"
    assert gor_connection("d0d057f97f00000165e42ac9") == "d0d057f97f000001"
    assert gor_connection("b33c9c1a2bae6636d5389a1a47035170c58d367e") == (
        "b33c9c1a2bae6636d5389a1a47035170c58d367e"
    )
    assert gor_connection("zz0057f97f000001f47c3d60") == "zz0057f97f000001f47c3d60"


def test_a_configured_key_decides_alone() -> None:
    tracker = SessionTracker(SessionKeyer(SessionConfig(header="X-Client", salt="s")))
    a = tracker.session(_ex(f"X-Client: c1\nAuthorization: Bearer {TOKEN_A}"))
    b = tracker.session(_ex(f"X-Client: c1\nAuthorization: Bearer {TOKEN_B}"))
    assert a == b and tracker.finish().found_by == "header X-Client"
