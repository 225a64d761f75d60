"""The capture configuration a user writes (``--config FILE``, YAML or JSON), as typed models.

Example::

    session: {cookie: sessionid}          # or {header: X-Client-Id}; hashed before redaction
                                          # ({join: false}: no sessions joined by value)
    routes:
      rules:
        - {pattern: "/users/[^/]+/avatar", route: "/users/{user}/avatar"}
    redaction:
      headers: [X-Internal-Signature]      # more header names to blank out
      fields: [iban]                      # more JSON / form / query field names
      patterns:
        - {name: employee-id, pattern: "EMP-[0-9]{6}"}
    filters:
      deny_routes: ["/health", "/metrics"]
      methods: [GET, POST]
      since_s: 10
      until_s: 70
      sample: 0.25                        # keep a quarter of the sessions, always the same ones
      remove_headers: [X-Forwarded-For]
      set_headers: {X-Replay: "1"}
      host: staging.payments.internal
    links:                                # session links learned at import (on by default)
      add:                                # a link the learner cannot find by itself
        - {from: "POST /api/login", src: "json:$.data.key", dst: "header:X-Session", kind: token}
      exclude:                            # links never to store (any field may be a glob)
        - {dst: "query:page"}
        - {from: "GET /api/feed", src: "json:$.articles*"}
    limits:                               # see docs/capture.md; sizes take K, M, G
      max_record_bytes: 16M
      max_inflated_bytes: 64G
      max_ratio: 200
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.capture.limits import InputLimits
from harness.capture.linkspec import (
    SOURCE_PLACES,
    TARGET_PLACES,
    LocatorError,
    parse_source,
    parse_target,
)
from harness.errors import CaptureError, printable


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
    return value


class RouteRule(_Model):
    """A path (without query) that matches ``pattern`` (full match) gets the route ``route``."""

    pattern: str = Field(description="regular expression matched against the whole path")
    route: str = Field(description="the route template, e.g. /users/{user}/avatar")

    _valid = field_validator("pattern")(_check_regex)


def _check_templates(values: list[str]) -> list[str]:
    for value in values:
        if not value.startswith("/"):
            raise ValueError(f"a route template starts with '/', got {value!r}")
        if "?" in value or "#" in value:
            raise ValueError(f"a route template has no query or fragment, got {value!r}")
    return values


class RoutesConfig(_Model):
    """How paths become low-cardinality route templates (see :mod:`harness.capture.routes`)."""

    rules: list[RouteRule] = Field(default_factory=list, description="tried first, in order")
    templates: list[str] = Field(
        default_factory=list,
        description=(
            "route templates such as /api/profiles/{username}/follow: a {name} segment matches "
            "any one segment, a literal segment wins over it; tried after rules"
        ),
    )
    placeholder: str = Field("{id}", description="what ids, by shape or learned, become")
    hex_min_length: int = Field(8, ge=4, description="shortest hex segment taken as an id")
    learn: bool = Field(
        True, description="learn parameters from the whole capture (values of high cardinality)"
    )
    min_distinct: int = Field(
        10, ge=2, description="distinct values at one position that make it a parameter"
    )
    keep_share: float = Field(
        0.05,
        gt=0,
        le=1,
        description="a value at a learned parameter with this share of its requests stays a route",
    )

    _valid_templates = field_validator("templates")(_check_templates)


class SessionConfig(_Model):
    """Where the stable per-client session key comes from (else client address, else record)."""

    header: str | None = Field(None, description="request header holding a client/session id")
    cookie: str | None = Field(None, description="cookie holding a session id")
    salt: str | None = Field(
        None,
        exclude=True,  # never written into the capture metadata
        description="salt of the session hash; set it for keys stable across imports",
    )
    join: bool = Field(
        True,
        description="a request without a known credential joins the session whose exchange "
        "sent or received a distinctive value it sends (sessions by credential only)",
    )
    join_window_s: float = Field(
        600.0, gt=0, description="seconds a value may join for after its session last used it"
    )


class RedactionPattern(_Model):
    """An extra secret pattern: each match is replaced and counted under ``name``."""

    name: str = Field(min_length=1)
    pattern: str

    _valid = field_validator("pattern")(_check_regex)


class RedactionConfig(_Model):
    """What is removed on top of the built-in rules (redaction itself is on by default)."""

    headers: list[str] = Field(default_factory=list, description="more header names to blank")
    fields: list[str] = Field(
        default_factory=list, description="more JSON / form / query field names to blank"
    )
    patterns: list[RedactionPattern] = Field(default_factory=list)


class FilterConfig(_Model):
    """Which records are kept, and how the kept ones are changed."""

    methods: list[str] = Field(default_factory=list, description="keep only these methods")
    deny_methods: list[str] = Field(default_factory=list)
    routes: list[str] = Field(
        default_factory=list, description="keep only routes matching these globs"
    )
    deny_routes: list[str] = Field(default_factory=list, description="drop routes matching these")
    since_s: float | None = Field(None, ge=0, description="seconds after the first request")
    until_s: float | None = Field(None, ge=0, description="seconds after the first request")
    sample: float = Field(1.0, gt=0, le=1, description="share of sessions kept (by session hash)")
    set_headers: dict[str, str] = Field(default_factory=dict)
    remove_headers: list[str] = Field(default_factory=list)
    host: str | None = Field(None, description="rewrite the host (column and Host header)")


LinkKind = Literal["token", "cookie", "csrf", "id", "value"]


def _check_route(value: str | None) -> str | None:
    if value is None:
        return None
    method, space, glob = value.strip().partition(" ")
    if space and not (method.isalpha() and glob.strip().startswith(("/", "*"))):
        raise ValueError(f"{value!r}: expected 'METHOD /route-glob' or '/route-glob'")
    if not space and not method.startswith(("/", "*")):
        raise ValueError(f"{value!r}: expected 'METHOD /route-glob' or '/route-glob'")
    return value


def _check_glob(value: str | None, places: tuple[str, ...], what: str) -> str | None:
    """A locator, or a glob over locators whose place (before ':') is known or a wildcard."""
    if value is None:
        return None
    place = value.partition(":")[0].partition("~")[0]
    if not any(ch in place for ch in "*?[") and place not in places:
        raise ValueError(f"{value!r}: unknown {what} place {place!r} (one of {', '.join(places)})")
    return value


class LinkRule(_Model):
    """A ``links.exclude`` rule: links matching every given field are not stored.

    ``src`` and ``dst`` are locators or globs over them (``query:*``), ``from`` / ``to`` the
    ``METHOD /route-glob`` of the source and target exchanges, ``kind`` a link kind.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    src: str | None = Field(None, description="source locator (or glob)")
    dst: str | None = Field(None, description="target locator (or glob)")
    from_: str | None = Field(None, alias="from", description="METHOD /route of the source")
    to: str | None = Field(None, description="METHOD /route of the target")
    kind: LinkKind | None = None

    _routes = field_validator("from_", "to")(_check_route)

    @field_validator("src")
    @classmethod
    def _src_glob(cls, value: str | None) -> str | None:
        return _check_glob(value, SOURCE_PLACES, "source")

    @field_validator("dst")
    @classmethod
    def _dst_glob(cls, value: str | None) -> str | None:
        return _check_glob(value, TARGET_PLACES, "target")

    @model_validator(mode="after")
    def _something(self) -> LinkRule:
        if all(v is None for v in (self.src, self.dst, self.from_, self.to, self.kind)):
            raise ValueError("a rule needs at least one of src, dst, from, to, kind")
        return self


class LinkAddRule(LinkRule):
    """A ``links.add`` rule: the value the response of a ``from`` exchange holds at ``src`` is
    a link wherever a later request of the session sends it (only at ``dst`` / in ``to``
    requests when given), whatever the learner's guards say.
    """

    src: str = Field(description="source locator: where the response holds the value")

    @field_validator("src")
    @classmethod
    def _src_glob(cls, value: str | None) -> str | None:
        try:
            parse_source(value or "")
        except LocatorError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("dst")
    @classmethod
    def _dst_glob(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parse_target(value)
        except LocatorError as exc:
            raise ValueError(str(exc)) from None
        return value


class LinksConfig(_Model):
    """Session links learned at import (see docs/capture.md, "Links")."""

    enabled: bool = Field(True, description="learn links from the captured responses")
    add: list[LinkAddRule] = Field(default_factory=list, description="links to add")
    exclude: list[LinkRule] = Field(default_factory=list, description="links never stored")


class CaptureConfig(_Model):
    """Everything ``harness capture import --config FILE`` accepts."""

    session: SessionConfig = SessionConfig()
    routes: RoutesConfig = RoutesConfig()
    redaction: RedactionConfig = RedactionConfig()
    filters: FilterConfig = FilterConfig()
    links: LinksConfig = LinksConfig()
    limits: InputLimits = InputLimits()


def load_config(path: Path) -> CaptureConfig:
    """Read and validate a capture config file; errors are one-line :class:`CaptureError`
    naming the file and line (the YAML rules of scenario files apply: duplicate keys, limits).

    A ``.json`` file is JSON: checked as such first, then read through the same YAML layer
    (JSON is YAML flow style; a tab outside a string is only whitespace in valid JSON).
    """
    from harness.scenario.yamlfile import YamlDocument

    text = YamlDocument.read_text(path, CaptureError)
    if path.suffix == ".json":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise CaptureError(
                f"{printable(str(path))}:{exc.lineno}: invalid JSON: {exc.msg}"
            ) from None
        except RecursionError:
            pass  # the YAML layer below reports the depth, with its line
        text = text.replace("\t", " ")
    doc = YamlDocument.from_text(text, path, CaptureError)
    if doc.data is None:
        return CaptureConfig()
    if not isinstance(doc.data, dict):
        raise doc.fail((), "expected a mapping of sections (session, routes, ..., links)")
    return doc.validate(CaptureConfig)
