"""Fidelity before judging: did the replay reproduce the capture's answers before any fault?

Pure (pandas). For every request due before the first fault (the whole run when it has no
fault) whose capture holds a response, the replayed status class (2xx, 3xx, 4xx, 5xx; no
answer is class 0) is compared with the captured one; for a redirect, the route of the
``Location`` too (a 302 to the login page is not the captured 302 to the list). Per target:
the share that matched, the worst routes with the status they got and a hint, the error rate
(status 0 or >= 500) beside the capture's own, and the session links filled or missing.

Requests still in flight when the first fault began are left out: the fault may have decided
their answer. A run is **invalid** (not judged, exit 5) when the baseline matched less than
``min_match`` (scenario key ``fidelity``, default 90 %) of at least :data:`MIN_COMPARED`
requests, or when a
baseline's error rate before the first fault is more than ``max_error_increase_pp`` points above
the capture's (the baseline was overloaded or broken). The candidate's own errors are what the
gates judge, so they never make a run invalid here.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

#: fewer compared requests than this: the match is shown but decides nothing
MIN_COMPARED = 20
#: routes listed per target
WORST = 5


class FidelityConfig(BaseModel):
    """The scenario's ``fidelity:``: a share (``0.9``, ``90%``) or this mapping; 0 turns it off."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min_match: float = Field(0.9, ge=0, le=1)
    max_error_increase_pp: float = Field(10.0, ge=0, le=100)

    @field_validator("min_match", mode="before")
    @classmethod
    def _percent(cls, value: object) -> object:
        return _share(value)


def _share(value: object) -> object:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            return value
    return value


def parse_fidelity(data: object) -> FidelityConfig:
    """The config from a scenario's ``fidelity`` value (a share, a percentage or a mapping)."""
    if data is None:
        return FidelityConfig()
    if isinstance(data, dict):
        return FidelityConfig.model_validate(data)
    return FidelityConfig.model_validate({"min_match": data})


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RouteFidelity(_Model):
    """A route whose replayed answers did not match the capture's, and why that may be."""

    route: str
    compared: int
    matched: int
    captured: str
    """the most common captured status of the mismatches (``200``, ``302 -> /notes``)"""
    replayed: str
    """the most common replayed status of the mismatches (``401``, ``302 -> /login``, ``0``)"""
    hint: str


class TargetFidelity(_Model):
    """One target's replay before the first fault, against the capture."""

    target: str
    role: str
    compared: int
    matched: int
    share: float | None
    error_rate: float | None
    capture_error_rate: float | None
    links: dict[str, dict[str, int]] = {}
    """phase -> {"ok": n, "missing": n} over requests with links"""
    worst: list[RouteFidelity] = []


class Fidelity(_Model):
    """The fidelity check of a run: per target, and whether the run may be judged."""

    min_match: float
    max_error_increase_pp: float
    targets: list[TargetFidelity] = []
    valid: bool = True
    reasons: list[str] = []

    def target(self, name: str) -> TargetFidelity | None:
        return next((t for t in self.targets if t.target == name), None)


def status_words(status: int, location: object = None) -> str:
    """``200``; ``302 -> /login`` for a redirect with a known Location route; ``0`` (none)."""
    if 300 <= status < 400 and isinstance(location, str) and location:
        return f"{status} -> {location}"
    return str(status)


def hint(captured: int, replayed: int) -> str:
    """What a mismatch of this kind usually means, and where to look."""
    if replayed == 0 or replayed >= 500:
        return "overload or a broken build: see the target's log; try a lower speed"
    if replayed in (401, 403):
        return "credentials refused: give staging identities (auth: in the stack file)"
    if replayed == 404:
        return "ids or slugs unknown to the target: check the capture's links (capture inspect)"
    if replayed in (400, 422):
        return "input rejected by validation: pseudonyms the server refuses (docs/capture.md)"
    if 300 <= replayed < 400 and captured < 300:
        return "redirected (to a login page?): the session's cookie or token was lost"
    if 300 <= replayed < 400:
        return "redirected elsewhere than in the capture: a lost session, or a link not filled"
    if replayed < 300 <= captured:
        return "the target accepted what production refused: different data or rules"
    return "the target answered differently: compare the builds' data and configuration"


def _classes(status: pd.Series) -> pd.Series:
    return (status.astype("int64") // 100).astype("int64")


def fidelity(
    frame: pd.DataFrame,
    roles: dict[str, str],
    config: FidelityConfig,
    first_fault_ns: int | None = None,
) -> Fidelity | None:
    """The check over ``frame`` (requests with a ``phase`` column; ``roles``: target -> role).

    ``first_fault_ns``: when the first fault began (ns from t0); a request still in flight
    then is not compared (the fault, not the replay, may have decided its answer). None when
    the run holds no captured statuses (an older capture or run): nothing to compare.
    """
    if "orig_status" not in frame.columns or frame["orig_status"].notna().sum() == 0:
        return None
    judged_phases = {"before", "steady"}
    pre = frame[frame["phase"].astype(str).isin(judged_phases)]
    if first_fault_ns is not None and "latency_corrected_ms" in pre.columns:
        start = pre["due_ns"].astype("float64")
        if "wait_ms" in pre.columns:
            start = start + pre["wait_ms"].fillna(0) * 1e6
        pre = pre[start + pre["latency_corrected_ms"] * 1e6 < first_fault_ns]
    result = Fidelity(
        min_match=config.min_match, max_error_increase_pp=config.max_error_increase_pp
    )
    for target, role in roles.items():
        rows = pre[pre["target"].astype(str) == target]
        result.targets.append(_target(target, role, rows, frame))
    for info in result.targets:
        if info.role not in ("baseline", "aa") or info.compared < MIN_COMPARED:
            continue
        if config.min_match > 0 and info.share is not None and info.share < config.min_match:
            worst = ", ".join(
                f"`{r.route}` {r.replayed} (captured {r.captured}; {r.hint})"
                for r in info.worst[:3]
            )
            result.reasons.append(
                f"replay not faithful: {info.target} matched the capture's status class on "
                f"{info.share * 100:.1f}% of {info.compared} requests before the first fault "
                f"(need {config.min_match * 100:.0f}%); worst: {worst}"
            )
        if info.error_rate is not None and info.capture_error_rate is not None:
            excess = (info.error_rate - info.capture_error_rate) * 100
            if config.min_match > 0 and excess > config.max_error_increase_pp:
                result.reasons.append(
                    f"{info.target} was overloaded or broken before the first fault: error rate "
                    f"{info.error_rate * 100:.1f}% vs {info.capture_error_rate * 100:.1f}% in the "
                    f"capture (limit +{config.max_error_increase_pp:g} points)"
                )
    result.valid = not result.reasons
    return result


def _target(target: str, role: str, rows: pd.DataFrame, frame: pd.DataFrame) -> TargetFidelity:
    links = _links(frame[frame["target"].astype(str) == target])
    captured = rows[rows["orig_status"].notna()]
    if captured.empty:
        return TargetFidelity(target=target, role=role, compared=0, matched=0, share=None,
                              error_rate=None, capture_error_rate=None, links=links)  # fmt: skip
    orig = captured["orig_status"].astype("int64")
    status = captured["status"].astype("int64")
    same = _classes(orig) == _classes(status)
    redirect = same & (orig // 100 == 3) & captured["orig_location_route"].notna()
    located = "location_route" in captured.columns and captured["location_route"].notna().any()
    if located:  # a run that recorded the replayed Location routes (wave 2 and later)
        moved = redirect & (
            captured["location_route"].astype(object) != captured["orig_location_route"]
        )
        same = same & ~moved
    errors = (status == 0) | (status >= 500)
    orig_errors = orig >= 500
    worst = []
    mismatched = captured[~same.to_numpy()]
    for route, group in mismatched.groupby(mismatched["route"].astype(str), sort=False):
        all_route = captured[captured["route"].astype(str) == route]
        orig_words = Counter(
            status_words(int(s), loc)
            for s, loc in zip(group["orig_status"], group["orig_location_route"], strict=True)
        )
        locations = group["location_route"] if "location_route" in group else [None] * len(group)
        replayed_words = Counter(
            status_words(int(s), loc) for s, loc in zip(group["status"], locations, strict=True)
        )
        top_orig = Counter(int(s) for s in group["orig_status"]).most_common(1)[0][0]
        top_replayed = Counter(int(s) for s in group["status"]).most_common(1)[0][0]
        worst.append(
            RouteFidelity(
                route=str(route),
                compared=len(all_route),
                matched=len(all_route) - len(group),
                captured=orig_words.most_common(1)[0][0],
                replayed=replayed_words.most_common(1)[0][0],
                hint=hint(top_orig, top_replayed),
            )
        )
    worst.sort(key=lambda r: (-(r.compared - r.matched), r.route))
    compared = len(captured)
    return TargetFidelity(
        target=target,
        role=role,
        compared=compared,
        matched=int(same.sum()),
        share=float(same.mean()),
        error_rate=float(errors.mean()),
        capture_error_rate=float(orig_errors.mean()),
        links=links,
        worst=worst[:WORST],
    )


def _links(rows: pd.DataFrame) -> dict[str, dict[str, int]]:
    if "link" not in rows.columns:
        return {}
    linked = rows[rows["link"].astype(str).isin(("ok", "missing"))]
    counts: dict[str, dict[str, int]] = {}
    pairs = Counter(zip(linked["phase"].astype(str), linked["link"].astype(str), strict=True))
    for (phase, outcome), n in pairs.items():
        counts.setdefault(phase, {"ok": 0, "missing": 0})[outcome] = n
    return counts
