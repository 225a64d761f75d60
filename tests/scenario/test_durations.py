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
