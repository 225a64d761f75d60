"""Field-level response comparison: fields, normalisers, ignore rules, noise learned from A/A."""

from pathlib import Path

import pytest

from harness.analysis.fields import body_fields, field_name, fields, normalise
from harness.analysis.frames import load_run
from harness.analysis.responsediff import shown
from harness.analysis.verdict import judge
from tests.analysis.runs import Behaviour, SyntheticRun


def test_fields_of_a_json_response() -> None:
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", "99"),
        ("Set-Cookie", "a=1"),
        ("set-cookie", "b=2"),
    ]
    body = b'{"a": {"b": 1, "odd key": null}, "items": [{"x": 1}, {"x": 2, "y": true}], "e": []}'
    assert fields(200, headers, body) == {
        "header:content-type": "application/json",
        "header:set-cookie": "a=1, b=2",
        "$.a.b": "1",
        '$.a["odd key"]': "null",
        "$.items[*].x": "1 | 2",
        "$.items[*].y": "true",
        "$.e": "[]",
    }


def test_bodies_that_are_not_json() -> None:
    assert body_fields(b"ok\n") == {"body": "ok\n"}
    assert body_fields(b"\xff\xfe\x00") == {"body": "<3 bytes>"}
    assert body_fields(b'{"cut": "he') == {"body": '{"cut": "he'}
    assert body_fields(b'{"a": 1}', truncated=True) == {"body": '{"a": 1}'}  # cut: never parsed
    assert body_fields(b"") == {}


def test_normalisers() -> None:
    text = (
        "at 2024-05-01T10:00:00.123+02:00, Wed, 01 May 2024 10:00:00 GMT, id "
        "123e4567-e89b-12d3-a456-426614174000, token eyJhbGciOi.eyJzdWIi.sig, "
        "by qex.hwm@mzkj.zq.example.com"
    )
    assert normalise(text) == ("at <time>, <time>, id <uuid>, token <jwt>, by <pseudonym>")
    leaves = body_fields(b'{"created_at": 1714557600, "count": 1714557600}', normalised=True)
    assert leaves == {"$.created_at": "<time>", "$.count": "1714557600"}


@pytest.mark.parametrize(
    ("rule", "name"),
    [
        ("$.items[0].at", "$.items[*].at"),
        ("$.items[*].at", "$.items[*].at"),
        ('$["a.b"].c', '$["a.b"].c'),
        ("header:ETag", "header:etag"),
        ("body", "body"),
    ],
)
def test_ignore_rules_name_fields(rule: str, name: str) -> None:
    assert field_name(rule) == name


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("$.items[x", r"expected \[N\]"),
        ("items.at", "give a JSON path"),
        ("header:", "is not a token"),
        ("$.a..b", "expected a key"),
    ],
)
def test_bad_ignore_rules_say_why(rule: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        field_name(rule)


def test_secret_values_are_hidden_in_examples() -> None:
    assert shown("$.user.token", '"abc"') == "<hidden: 3 characters>"
    assert shown("header:set-cookie", "sid=1") == "<hidden: 5 characters>"
    assert shown("$.note", '"eyJhbGciOi.eyJzdWIi.sig"') == "<hidden: 23 characters>"
    assert shown("$.amount", "100") == "100"
    assert shown("$.text", '"' + "x" * 200 + '"').endswith("…")  # type: ignore[union-attr]


GATES = {"response_diff": {"max_share": 0.05}}


def _run(candidate: Behaviour, *, aa: bool, gates: dict[str, object] | None = None) -> SyntheticRun:
    run = SyntheticRun(duration_s=20, rate=20, gates=gates or GATES, responses=True)
    run.target("b", "baseline", Behaviour())
    if aa:
        run.target("a", "aa", Behaviour())
    return run.target("c", "candidate", candidate)


def test_with_an_aa_copy_noise_is_learned_per_field(tmp_path: Path) -> None:
    verdict = judge(load_run(_run(Behaviour(body_change=0.1), aa=True).write(tmp_path)))
    resp = verdict.responses
    assert (resp.compared, resp.learned) == ("fields", True)
    assert (resp.paired, resp.differing) == (400, 40)  # the 10 % changed, not the noise
    gate = verdict.gate("response_diff")
    assert gate.status == "fail"
    assert "10.0% of paired responses differ from the baseline beyond the noise" in gate.reason
    assert "; most differing: `$.amount` on `/health`, `$.amount` on `/payments`" in gate.reason
    noise = {(f.route, f.field) for f in resp.fields if f.noise}
    held = {(f.route, f.field) for f in resp.fields if not f.noise}
    assert ("/payments", "$.created_at") in noise and ("/payments", "header:date") in noise
    assert ("/payments", "$.items[*].at") in noise
    assert {field for _, field in held} == {"$.amount"}
    example = resp.examples[0]
    assert [(c.field, c.baseline, c.candidate) for c in example.fields] == [
        ("$.amount", "100", '"changed"')
    ]


def test_identical_builds_with_noise_pass(tmp_path: Path) -> None:
    verdict = judge(load_run(_run(Behaviour(), aa=True).write(tmp_path)))
    assert verdict.gate("response_diff").status == "pass"
    assert verdict.responses.differing == 0
    # by body hash, every response of the two identical copies differs (times and ids)
    assert verdict.responses.noise_share == 1.0


def test_without_an_aa_copy_the_normalisers_decide(tmp_path: Path) -> None:
    verdict = judge(load_run(_run(Behaviour(body_change=0.1), aa=False).write(tmp_path)))
    resp = verdict.responses
    assert (resp.compared, resp.learned) == ("fields", False)
    assert resp.differing == 40  # times, UUIDs (request ids) and HTTP dates normalised
    assert {f.field for f in resp.fields} == {"$.amount"}


def test_ignore_rules_per_route(tmp_path: Path) -> None:
    gates = {"response_diff": {"max_share": 0.05, "ignore": {"*": ["$.amount"]}}}
    verdict = judge(
        load_run(_run(Behaviour(body_change=0.1), aa=False, gates=gates).write(tmp_path))
    )
    assert verdict.gate("response_diff").status == "pass"
    assert verdict.responses.differing == 0
    gates = {"response_diff": {"max_share": 0.05, "ignore": {"/payments": ["$.amount"]}}}
    verdict = judge(
        load_run(_run(Behaviour(body_change=0.1), aa=False, gates=gates).write(tmp_path / "r"))
    )
    # the changed bodies fall on /payments and /health (every 10th request, 4 routes in turn)
    assert {f.route for f in verdict.responses.fields} == {"/health"}


def test_a_noisy_field_that_differs_far_more_often_counts(tmp_path: Path) -> None:
    # `cache` differs in 5 % of A/A pairs (noise), in 60 % of the candidate's: beyond it
    run = SyntheticRun(duration_s=30, rate=20, gates=GATES, responses=True)
    run.target("b", "baseline", Behaviour(flaky=0.05))
    run.target("a", "aa", Behaviour())
    run.target("c", "candidate", Behaviour(flaky=0.6))
    verdict = judge(load_run(run.write(tmp_path)))
    cache = [f for f in verdict.responses.fields if f.field == "header:cache"]
    assert cache and not any(f.noise for f in cache)
    assert all(f.noise_share is not None and f.noise_share < 0.1 for f in cache)
    assert verdict.gate("response_diff").status == "fail"
    same = SyntheticRun(duration_s=30, rate=20, gates=GATES, responses=True)
    same.target("b", "baseline", Behaviour(flaky=0.05))
    same.target("a", "aa", Behaviour())
    same.target("c", "candidate", Behaviour(flaky=0.05))
    assert judge(load_run(same.write(tmp_path / "same"))).gate("response_diff").status == "pass"


def test_without_kept_bodies_status_and_hash_are_compared(tmp_path: Path) -> None:
    run = SyntheticRun(duration_s=20, rate=20, gates=GATES)
    run.target("b", "baseline").target("c", "candidate", Behaviour(body_change=0.1))
    verdict = judge(load_run(run.write(tmp_path)))
    assert verdict.responses.compared == "hash"
    assert verdict.responses.differing == 40
    assert "in status or body" in verdict.gate("response_diff").reason


def test_a_large_run_is_compared_on_a_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.analysis import responsediff

    monkeypatch.setattr(responsediff, "MAX_PAIRS", 100)
    verdict = judge(load_run(_run(Behaviour(body_change=0.1), aa=True).write(tmp_path)))
    resp = verdict.responses
    assert (resp.paired, resp.sampled_from) == (100, 400)
    assert 0 < resp.differing < 30  # about 10 % of the sample
    assert verdict.gate("response_diff").checks[0].n_candidate == 100
