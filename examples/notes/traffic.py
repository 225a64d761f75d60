"""Drive the notes service the way its users do: API writers, browser users, anonymous readers.

Each user runs in its own thread with its own ``httpx.Client`` (its own keep-alive connection
and, for browser users, its own cookie jar), waits for every answer before the next request and
thinks between actions. Every identity is made up here; nobody logs in with a seeded account:

- an **API writer** registers (``POST /api/users``), logs in (``POST /api/users/login``: the
  token comes back in the JSON body and goes into ``Authorization: Token ...``), reads its
  profile, then keeps creating notes (the server assigns id and slug), reading, editing and
  commenting on them by slug, deleting its own comments by id, and now and then a note;
- a **browser user** signs up and signs in through the HTML forms (a cookie session, a CSRF
  token parsed from each form and posted back), creates notes (302 to the new note's page,
  followed), comments, deletes, and signs out at the end; like a browser, it sends the page it
  is on as ``Referer`` and, on each form POST, the site as ``Origin``;
- an **anonymous reader** lists notes, reads seeded ones, the tags, and tries its profile
  without a token (401).

:func:`run_users` runs them for a while against a base URL (the service, or a recording proxy in
front of it) and returns how many answers of each status came back.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_WORDS = ("retry", "budget", "breaker", "postgres", "incident", "deploy", "replay", "latency")


@dataclass
class Tally:
    """Answers per status code (or error name), shared by the user threads."""

    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1


class User:
    """One simulated user: a client, a random stream and a deadline."""

    def __init__(self, url: str, n: int, stop_at: float, tally: Tally, think_s: float) -> None:
        self.rng = random.Random(n)
        self.n = n
        self.stop_at = stop_at
        self.tally = tally
        self.think_s = think_s
        self.http = httpx.Client(base_url=url, timeout=10.0, follow_redirects=False)
        self.http.headers["User-Agent"] = f"notes-traffic/{type(self).__name__.lower()}-{n}"
        self.tag = uuid.UUID(int=self.rng.getrandbits(128)).hex[:8]

    def call(self, method: str, path: str, **kw: object) -> httpx.Response | None:
        try:
            response = self.http.request(method, path, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self.tally.add(type(exc).__name__)
            return None
        self.tally.add(str(response.status_code))
        return response

    def think(self) -> bool:
        """Sleep a random think time; false when the user's time is up."""
        time.sleep(self.rng.expovariate(1 / self.think_s))
        return time.monotonic() < self.stop_at

    def title(self) -> str:
        first, second = self.rng.choice(_WORDS).title(), self.rng.choice(_WORDS)
        return f"{first} {second} {self.rng.randint(1, 999)}"

    def run(self) -> None:
        raise NotImplementedError


class ApiWriter(User):
    """Registers, logs in and works on its notes through the JSON API."""

    def run(self) -> None:
        name = f"writer-{self.n:02d}-{self.tag}"
        account = {"username": name, "email": f"{name}@mail.notes-demo.org",
                   "password": f"pw-{self.tag}-{self.rng.getrandbits(32):08x}"}  # fmt: skip
        if self.call("POST", "/api/users", json={"user": account}) is None or not self.think():
            return
        login = {"email": account["email"], "password": account["password"]}
        answer = self.call("POST", "/api/users/login", json={"user": login})
        if answer is None or answer.status_code != 200:
            return
        self.http.headers["Authorization"] = "Token " + answer.json()["user"]["token"]
        self.call("GET", "/api/user")
        mine: list[str] = []
        comments: list[tuple[str, int]] = []
        while self.think():
            pick = self.rng.random()
            if pick < 0.22 or not mine:
                body = {"note": {"title": self.title(), "body": "Written by the API writer."}}
                created = self.call("POST", "/api/notes", json=body)
                if created is not None and created.status_code == 201:
                    mine.append(created.json()["note"]["slug"])
                    self.call("GET", created.headers["Location"])
            elif pick < 0.42:
                slug = self.rng.choice(mine)
                text = f"note to self {self.rng.randint(1, 99)}"
                added = self.call(
                    "POST", f"/api/notes/{slug}/comments", json={"comment": {"body": text}}
                )
                if added is not None and added.status_code == 201:
                    comments.append((slug, added.json()["comment"]["id"]))
            elif pick < 0.55:
                self.call("GET", f"/api/notes/{self.rng.choice(mine)}/comments")
            elif pick < 0.65 and comments:
                slug, comment_id = comments.pop(self.rng.randrange(len(comments)))
                self.call("DELETE", f"/api/notes/{slug}/comments/{comment_id}")
            elif pick < 0.75:
                body = {"note": {"title": self.title(), "body": "Edited."}}
                self.call("PUT", f"/api/notes/{self.rng.choice(mine)}", json=body)
            elif pick < 0.80 and len(mine) > 2:
                slug = mine.pop(0)
                comments = [c for c in comments if c[0] != slug]
                self.call("DELETE", f"/api/notes/{slug}")
            elif pick < 0.90:
                self.call("GET", "/api/notes", params={"author": name, "limit": "10"})
            else:
                self.call("GET", "/api/user")


class BrowserUser(User):
    """Signs up and in through the forms (cookie session, CSRF tokens) and keeps notes."""

    page: str | None = None
    """the URL of the page the user is on (a browser's ``Referer``)"""

    def _referer(self) -> dict[str, str]:
        return {"Referer": self.page} if self.page else {}

    def form(self, path: str) -> str | None:
        """GET a page and return the CSRF token of its form (None when the page failed)."""
        page = self.call("GET", path, headers=self._referer())
        if page is None or page.status_code != 200:
            return None
        self.page = str(page.url)
        found = _CSRF.search(page.text)
        return found.group(1) if found else None

    def post(self, path: str, token: str, fields: dict[str, str]) -> httpx.Response | None:
        origin = str(self.http.base_url).rstrip("/")
        headers = {"Origin": origin, **self._referer()}
        data = {"csrfmiddlewaretoken": token, **fields}
        return self.call("POST", path, data=data, headers=headers)

    def follow(self, answer: httpx.Response | None) -> str | None:
        """Follow a redirect like a browser; the CSRF token of the page it lands on."""
        if answer is None or answer.status_code != 302:
            return None
        return self.form(answer.headers["Location"])

    def run(self) -> None:
        name = f"reader-{self.n:02d}-{self.tag}"
        password = f"pw-{self.tag}-{self.rng.getrandbits(32):08x}"
        token = self.form("/signup")
        if token is None:
            return
        fields = {"username": name, "email": f"{name}@mail.notes-demo.org", "password": password}
        token = self.follow(self.post("/signup", token, fields))
        if token is None or not self.think():
            return
        answer = self.post("/login", token, {"username": name, "password": password,
                                             "next": "/notes"})  # fmt: skip
        token = self.follow(answer)
        if token is None:
            return
        mine: list[str] = []
        while self.think():
            pick = self.rng.random()
            if pick < 0.30 or not mine:
                answer = self.post("/notes", token, {"title": self.title(), "body": "From a form."})
                if answer is not None and answer.status_code == 302:
                    mine.append(answer.headers["Location"])
                token = self.follow(answer) or token
            elif pick < 0.55:
                path = self.rng.choice(mine)
                answer = self.post(f"{path}/comments", token, {"body": "Looks right."})
                token = self.follow(answer) or token
            elif pick < 0.75:
                token = self.form(self.rng.choice(mine)) or token
            elif pick < 0.82 and len(mine) > 2:
                path = mine.pop(0)
                token = self.follow(self.post(f"{path}/delete", token, {})) or token
            else:
                token = self.form("/notes") or token
        self.post("/logout", token, {})


class AnonymousReader(User):
    """Reads public things without logging in; its profile answers 401."""

    def run(self) -> None:
        while self.think():
            pick = self.rng.random()
            if pick < 0.35:
                self.call("GET", f"/api/notes/welcome-note-{self.rng.randint(1, 100):03d}")
            elif pick < 0.55:
                self.call("GET", "/api/notes", params={"limit": "20"})
            elif pick < 0.70:
                self.call("GET", f"/api/notes/welcome-note-{self.rng.randint(1, 100):03d}/comments")
            elif pick < 0.85:
                self.call("GET", "/api/tags")
            elif pick < 0.95:
                self.call("GET", "/health")
            else:
                self.call("GET", "/api/user")


@dataclass(frozen=True)
class Mix:
    """How many users of each kind, and their mean think time in seconds."""

    writers: int = 6
    browsers: int = 4
    readers: int = 2
    think_s: float = 1.0


def run_users(url: str, seconds: float, mix: Mix = Mix(), seed: int = 0) -> Counter[str]:
    """Run the users of ``mix`` against ``url`` for ``seconds``; answers per status."""
    tally = Tally()
    stop_at = time.monotonic() + seconds
    kinds: list[Callable[[str, int, float, Tally, float], User]] = (
        [ApiWriter] * mix.writers + [BrowserUser] * mix.browsers + [AnonymousReader] * mix.readers
    )
    users = [
        kind(url, seed * 1000 + n, stop_at, tally, mix.think_s) for n, kind in enumerate(kinds)
    ]
    threads = [threading.Thread(target=_run, args=(u,), name=f"user-{u.n}") for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally.counts


def _run(user: User) -> None:
    try:
        user.run()
    finally:
        user.http.close()
