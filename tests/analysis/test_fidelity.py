"""Fidelity before judging: status-class match with the capture, redirects, hints, invalidity."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.analysis.fidelity import FidelityConfig, fidelity, hint, parse_fidelity
from harness.analysis.frames import load_run
from harness.analysis.verdict import exit_code, judge
from tests.analysis.runs import Behaviour, Fault, SyntheticRun


def frame(
    rows: list[tuple[str, str, str, int, int | None, str | None, str | None]],
) -> pd.DataFrame:
    """(target, phase, route, status, orig_status, location_route, orig_location_route)."""
    data = pd.DataFrame(
        rows,
        columns=[
            "target", "phase", "route", "status", "orig_status",
            "location_route", "orig_location_route",
        ],
    )  # fmt: skip
    data["link"] = "none"
    return data


def rows(target: str, n: int, route: str, status: int, orig: int, phase: str = "before",
         loc: str | None = None, orig_loc: str | None = None) -> list[tuple]:  # fmt: skip
    return [(target, phase, route, status, orig, loc, orig_loc)] * n


ROLES = {"baseline": "baseline", "candidate": "candidate"}


def test_match_counts_status_classes_before_the_first_fault_only() -> None:
    data = frame(
        rows("baseline", 90, "/a", 200, 201)  # same class
        + rows("baseline", 10, "/b", 401, 200)
        + rows("baseline", 50, "/b", 503, 200, phase="during `postgres down`")  # not counted
        + rows("candidate", 100, "/a", 200, 200)
    )
    result = fidelity(data, ROLES, FidelityConfig())
    assert result is not None and result.valid
    base = result.target("baseline")
    assert base is not None
    assert (base.compared, base.matched, base.share) == (100, 90, 0.9)
    assert [(r.route, r.replayed, r.captured) for r in base.worst] == [("/b", "401", "200")]
    assert "staging identities" in base.worst[0].hint


def test_a_redirect_elsewhere_is_not_a_match() -> None:
    data = frame(
        rows("baseline", 60, "/notes", 302, 302, loc="/notes/{id}", orig_loc="/notes/{id}")
        + rows("baseline", 40, "/notes", 302, 302, loc="/login", orig_loc="/notes/{id}")
    )
    base = fidelity(data, {"baseline": "baseline"}, FidelityConfig()).target("baseline")  # type: ignore[union-attr]
    assert base is not None and base.matched == 60
    assert base.worst[0].replayed == "302 -> /login"
    assert base.worst[0].captured == "302 -> /notes/{id}"


def test_without_replayed_location_routes_redirects_compare_by_class() -> None:
    data = frame(rows("baseline", 30, "/notes", 302, 302, orig_loc="/notes/{id}"))
    base = fidelity(data, {"baseline": "baseline"}, FidelityConfig()).target("baseline")  # type: ignore[union-attr]
    assert base is not None and base.matched == 30


def test_low_baseline_match_makes_the_run_invalid_with_the_worst_routes() -> None:
    data = frame(
        rows("baseline", 30, "/a", 200, 200)
        + rows("baseline", 50, "/api/user", 401, 200)
        + rows("baseline", 20, "/api/notes/{id}", 404, 200)
        + rows("candidate", 10, "/a", 404, 200)  # the candidate's own errors are the gates' job
    )
    result = fidelity(data, ROLES, FidelityConfig())
    assert result is not None and not result.valid
    assert len(result.reasons) == 1
    reason = result.reasons[0]
    assert "baseline matched the capture's status class on 30.0% of 100 requests" in reason
    assert reason.index("/api/user") < reason.index("/api/notes/{id}")
    assert "(need 90%)" in reason
    off = fidelity(data, ROLES, FidelityConfig(min_match=0))
    assert off is not None and off.valid


def test_overloaded_baseline_is_invalid_even_when_classes_match_enough() -> None:
    data = frame(rows("baseline", 85, "/a", 200, 200) + rows("baseline", 15, "/a", 503, 200))
    result = fidelity(data, {"baseline": "baseline"}, FidelityConfig(min_match=0.8))
    assert result is not None and not result.valid
    assert result.reasons == [
        "baseline was overloaded or broken before the first fault: error rate 15.0% vs 0.0% "
        "in the capture (limit +10 points)"
    ]


def test_too_few_requests_decide_nothing_and_no_capture_statuses_means_no_check() -> None:
    data = frame(rows("baseline", 5, "/a", 500, 200))
    result = fidelity(data, {"baseline": "baseline"}, FidelityConfig())
    assert result is not None and result.valid
    empty = frame(rows("baseline", 50, "/a", 200, None))  # type: ignore[arg-type]
    assert fidelity(empty, {"baseline": "baseline"}, FidelityConfig()) is None


def test_link_counts_per_phase() -> None:
    data = frame(
        rows("baseline", 3, "/a", 200, 200) + rows("baseline", 2, "/a", 503, 200, "during")
    )
    data["link"] = ["ok", "ok", "none", "missing", "ok"]
    base = fidelity(data, {"baseline": "baseline"}, FidelityConfig()).target("baseline")  # type: ignore[union-attr]
    assert base is not None
    assert base.links == {"before": {"ok": 2, "missing": 0}, "during": {"ok": 1, "missing": 1}}


@pytest.mark.parametrize(
    ("captured", "replayed", "words"),
    [
        (200, 401, "staging identities"),
        (200, 403, "staging identities"),
        (200, 404, "links"),
        (201, 422, "pseudonyms"),
        (200, 503, "overload"),
        (200, 0, "overload"),
        (200, 302, "login page"),
        (302, 301, "redirected elsewhere"),
        (404, 200, "accepted what production refused"),
    ],
)
def test_hints(captured: int, replayed: int, words: str) -> None:
    assert words in hint(captured, replayed)


def test_parse_fidelity_forms() -> None:
    assert parse_fidelity(None).min_match == 0.9
    assert parse_fidelity(0.95).min_match == 0.95
    assert parse_fidelity("80%").min_match == 0.8
    assert parse_fidelity({"max_error_increase_pp": 5}).max_error_increase_pp == 5


def test_judge_makes_an_unfaithful_run_invalid(tmp_path: Path) -> None:
    synthetic = SyntheticRun(duration_s=20, rate=20, faults=[Fault(10, 5)])
    synthetic.target("baseline", "baseline", Behaviour()).target("candidate", "candidate")
    root = synthetic.write(tmp_path / "run")
    run = load_run(root)
    # the capture answered 200 where the replay got 200 on half the routes and 401 on the rest
    run.requests["orig_status"] = 200
    run.requests.loc[run.requests["route"].isin(["/payments", "/health"]), "status"] = 401
    verdict = judge(run)
    assert verdict.status == "invalid"
    assert exit_code(verdict) == 5
    assert verdict.fidelity is not None
    base = verdict.fidelity.target("baseline")
    # the last request before the fault was still in flight when it began: not compared
    assert base is not None and (base.compared, base.matched) == (200, 100)
    assert any("replay not faithful" in r for r in verdict.invalid_reasons)
    run.requests["status"] = 200
    assert judge(run).status == "pass"


def test_a_session_wait_moves_a_request_into_the_next_phase(tmp_path: Path) -> None:
    synthetic = SyntheticRun(duration_s=20, rate=20, faults=[Fault(10, 5)])
    synthetic.target("baseline", "baseline", Behaviour()).target("candidate", "candidate")
    run = load_run(synthetic.write(tmp_path / "run"))
    verdict = judge(run)
    before = {
        m.target: m.requests
        for m in verdict.metrics
        if m.phase == "before" and m.route == "all routes"
    }
    # every request due in the last second before the fault waited 1.5 s for its session
    late = (run.requests["due_ns"] >= 9e9) & (run.requests["due_ns"] < 10e9)
    run.requests["wait_ms"] = 0.0
    run.requests.loc[late, "wait_ms"] = 1500.0
    moved = judge(run)
    after = {
        m.target: m.requests
        for m in moved.metrics
        if m.phase == "before" and m.route == "all routes"
    }
    assert {t: before[t] - after[t] for t in before} == {"baseline": 20, "candidate": 20}
