import pytest
from pydantic import BaseModel

from harness.scenario.durations import Duration, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("20s", 20.0),
        ("2m", 120.0),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("1.5", 1.5),
        (3, 3.0),
        (" 20 s ", 20.0),
    ],
)
def test_parse(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "10x", "s10", "-5s", "5s3", True])
def test_reject(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_format_roundtrip() -> None:
    for s in (0.5, 20.0, 120.0, 90.0, 2.5):
        assert parse_duration(format_duration(s)) == s


def test_pydantic_field() -> None:
    class M(BaseModel):
        d: Duration

    m = M.model_validate({"d": "2m"})
    assert m.d == 120.0
    assert m.model_dump(mode="json") == {"d": "2m"}


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (float("nan"), "not a finite duration"),
        (float("inf"), "not a finite duration"),
        ("1e400", "not a finite duration"),
        ("inf", "not a finite duration"),
        ("8d", "not a duration"),
        (7 * 24 * 3600 + 1, "longer than a week"),
        ("169h", "longer than a week"),
    ],
)
def test_reject_non_finite_and_absurd(value: str | float, what: str) -> None:
    with pytest.raises(ValueError, match=what):
        parse_duration(value)


def test_a_week_is_the_longest() -> None:
    assert parse_duration("168h") == 7 * 24 * 3600.0
