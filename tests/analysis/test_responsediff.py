"""Field-level response comparison: fields, normalisers, ignore rules, noise learned from A/A."""

from pathlib import Path

import pytest

from harness.analysis.fields import body_fields, field_name, fields, normalise
from harness.analysis.frames import load_run
from harness.analysis.responsediff import shape, shown
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


# --- values minted per response (a sequence's ids, the Location naming them) ---------------
MINTED = {"$.payment_id", "header:location"}


def test_the_shape_of_a_value_leaves_its_numbers_out() -> None:
    assert [shape(v) for v in ("1234", "12.5", '"1234"', "null", None)] == [
        "#",
        "#.#",
        '"#"',
        "null",
        None,
    ]
    assert shape("/payments/1234") == shape("/payments/99") == "/payments/#"
    assert shape("/v2/payments/1234") == "/#/payments/#"
    assert shape('"pay_8f3a9c"') == shape('"pay_77"') == '"pay_#"'
    assert shape('"2024-05-01T10:00:00.123Z"') == '"<time>"'


def test_ids_shifted_by_another_database_are_noise_where_the_copies_agree(tmp_path: Path) -> None:
    # From the 40th request on, the candidate's database mints every id one further on (an
    # insert rolled back); the two copies of the baseline mint the same ids: the A/A pair shows
    # no difference in them at all.
    candidate = Behaviour(serial_shift=1, serial_shift_at=40)
    verdict = judge(load_run(_run(candidate, aa=True).write(tmp_path)))
    gate = verdict.gate("response_diff")
    assert gate.status == "pass", gate.reason
    assert verdict.responses.differing == 0
    minted = {f.field: f for f in verdict.responses.fields if f.minted}
    assert set(minted) == MINTED
    for f in minted.values():
        assert (f.route, f.noise, f.noise_share) == ("/payments", True, 0.0)
        assert (f.differing, f.pairs, f.reshaped) == (90, 100, 0)


def test_without_an_aa_copy_minted_ids_are_noise_too(tmp_path: Path) -> None:
    verdict = judge(load_run(_run(Behaviour(serial_shift=3), aa=False).write(tmp_path)))
    assert verdict.gate("response_diff").status == "pass"
    assert verdict.responses.learned is False
    fields = verdict.responses.fields
    assert {f.field for f in fields} == MINTED
    assert all(f.minted and f.noise and f.noise_share is None for f in fields)


def test_a_changed_field_beside_shifted_ids_is_the_one_held(tmp_path: Path) -> None:
    # `$.balance_cents` differs in every response too, but it is not minted: its values are
    # different per request in no order (a different account's balance each time).
    candidate = Behaviour(serial_shift=1, balance_delta=1)
    verdict = judge(load_run(_run(candidate, aa=True).write(tmp_path)))
    gate = verdict.gate("response_diff")
    assert gate.status == "fail"
    assert "; most differing: `$.balance_cents` on `/payments`" in gate.reason
    held = [(f.route, f.field, f.minted) for f in verdict.responses.fields if not f.noise]
    assert held == [("/payments", "$.balance_cents", False)]
    assert verdict.responses.differing == 100
    assert {c.field for e in verdict.responses.examples for c in e.fields} == {"$.balance_cents"}


@pytest.mark.parametrize(
    ("candidate", "changed", "baseline"),
    [
        # the id as a JSON string ("1001"), the Location still naming it
        (Behaviour(serial_shift=1, serial_text=True), "$.payment_id", "1000"),
        # the Location under another path, the id unchanged in format
        (
            Behaviour(serial_shift=1, location_prefix="/v2/payments/"),
            "header:location",
            "/payments/1000",
        ),
    ],
)
def test_a_minted_field_whose_format_changed_is_held(
    tmp_path: Path, candidate: Behaviour, changed: str, baseline: str
) -> None:
    verdict = judge(load_run(_run(candidate, aa=True).write(tmp_path)))
    assert verdict.gate("response_diff").status == "fail"
    minted = {f.field: f for f in verdict.responses.fields if f.minted}
    assert set(minted) == MINTED
    assert (minted[changed].noise, minted[changed].reshaped) == (False, 100)
    (other,) = MINTED - {changed}
    assert (minted[other].noise, minted[other].reshaped) == (True, 0)
    first = verdict.responses.examples[0]
    assert [(c.field, c.baseline) for c in first.fields] == [(changed, baseline)]


@pytest.mark.parametrize("aa", [True, False])
def test_a_repeated_field_that_changed_is_never_minted(tmp_path: Path, aa: bool) -> None:
    # `$.amount` is 100 in every response; the candidate answers 101: the same shape, but the
    # field repeats across responses, so every difference counts.
    verdict = judge(load_run(_run(Behaviour(amount=101), aa=aa).write(tmp_path)))
    assert verdict.gate("response_diff").status == "fail"
    assert verdict.responses.differing == 400
    held = {(f.field, f.minted) for f in verdict.responses.fields if not f.noise}
    assert held == {("$.amount", False)}
    assert not any(f.minted for f in verdict.responses.fields)


def test_too_few_responses_do_not_show_a_value_minted(tmp_path: Path) -> None:
    # 3 s at 20 requests a second: 15 responses of /payments, fewer than MINTED_MIN_VALUES
    run = SyntheticRun(duration_s=3, rate=20, gates=GATES, responses=True)
    run.target("b", "baseline").target("a", "aa")
    run.target("c", "candidate", Behaviour(serial_shift=1))
    verdict = judge(load_run(run.write(tmp_path)))
    held = {f.field for f in verdict.responses.fields if not f.noise}
    assert held == MINTED
    assert not any(f.minted for f in verdict.responses.fields)
