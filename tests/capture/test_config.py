"""The capture config file: YAML/JSON, validated, one-line errors naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.capture.config import load_config
from harness.errors import CaptureError


def test_yaml_config(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "session: {cookie: sid, salt: pepper}\n"
        "routes: {rules: [{pattern: '/u/[^/]+', route: '/u/{user}'}]}\n"
        "redaction: {patterns: [{name: emp, pattern: 'EMP-\\d+'}]}\n"
        "filters: {deny_routes: [/health], sample: 0.5}\n"
    )
    config = load_config(path)
    assert config.session.cookie == "sid"
    assert config.routes.rules[0].route == "/u/{user}"
    assert config.filters.sample == 0.5
    assert "salt" not in config.model_dump_json()  # the salt never lands in capture metadata


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("filters: {sample: 2}\n", "filters.sample"),
        ("routes: {rules: [{pattern: '(', route: x}]}\n", "invalid regular expression"),
        ("nonsense: 1\n", "nonsense"),
        ("filters: [\n", "invalid YAML"),
    ],
)
def test_invalid_config(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CaptureError) as err:
        load_config(path)
    assert expected in str(err.value) and "bad.yaml" in str(err.value)
    assert "\n" not in str(err.value)
