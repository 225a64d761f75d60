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
        ("session:\n  join_window_s: 0\n", "bad.yaml:2: session.join_window_s"),
        ("session: {join: sometimes}\n", "session.join"),
        ("routes: {rules: [{pattern: '(', route: x}]}\n", "invalid regular expression"),
        ("nonsense: 1\n", "nonsense"),
        ("filters: [\n", "bad.yaml:2: invalid YAML"),
    ],
)
def test_invalid_config(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CaptureError) as err:
        load_config(path)
    assert expected in str(err.value) and "bad.yaml" in str(err.value)
    assert "\n" not in str(err.value)


def test_links_rules(tmp_path: Path) -> None:
    path = tmp_path / "links.yaml"
    path.write_text(
        "links:\n"
        "  add:\n"
        "    - {from: 'POST /api/login', src: 'json:$.data.key', dst: 'header:X-Key',\n"
        "       kind: token}\n"
        "  exclude:\n"
        "    - {dst: 'query:*'}\n"
        "    - {from: 'GET /feed*'}\n"
    )
    links = load_config(path).links
    assert links.enabled
    assert [(r.from_, r.src, r.dst, r.kind) for r in links.add] == [
        ("POST /api/login", "json:$.data.key", "header:X-Key", "token")
    ]
    assert [r.dst for r in links.exclude] == ["query:*", None]
    # the rules survive the metadata round trip (by field name)
    from harness.capture.config import CaptureConfig

    again = CaptureConfig.model_validate_json(load_config(path).model_dump_json())
    assert again.links == links


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("add: [{src: 'jsn:$.a'}]", "bad.yaml:3: links.add.0.src: 'jsn:$.a': unknown source place"),
        ("add: [{dst: 'header:X'}]", "bad.yaml:3: links.add.0.src: required key is missing"),
        (
            "add: [{src: 'json:$.a', dst: 'cookie'}]",
            "bad.yaml:3: links.add.0.dst: 'cookie': 'cookie' needs a name",
        ),
        ("add: [{src: 'body~(unclosed'}]", "bad.yaml:3: links.add.0.src: 'body~(unclosed'"),
        ("exclude: [{}]", "bad.yaml:3: links.exclude.0: a rule needs at least one of"),
        ("exclude: [{dst: 'nowhere:x'}]", "bad.yaml:3: links.exclude.0.dst: 'nowhere:x': unknown"),
        ("exclude: [{kind: secret}]", "bad.yaml:3: links.exclude.0.kind: Input should be"),
        ("exclude: [{from: 'POST'}]", "bad.yaml:3: links.exclude.0.from: 'POST': expected"),
        ("exclude: [{to: '/x', extra: 1}]", "bad.yaml:3: links.exclude.0.extra: unknown key"),
        ("enabled: maybe", "bad.yaml:3: links.enabled: Input should be a valid boolean"),
    ],
)
def test_bad_links_rules_name_file_and_line(tmp_path: Path, rule: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"session: {{salt: x}}\nlinks:\n  {rule}\n")
    with pytest.raises(CaptureError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(str(tmp_path / expected.split(":", 1)[0]))
    assert expected in message and "\n" not in message


def test_bad_links_rule_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli.main import main
    from tests.capture.gorfiles import DATADOG

    path = tmp_path / "bad.yaml"
    path.write_text("links:\n  add:\n    - {src: 'json:$.a', dst: 'headr:X'}\n")
    code = main(["capture", "import", str(DATADOG), "-o", str(tmp_path / "o.parquet"),
                 "--config", str(path)])  # fmt: skip
    assert code == 3
    err = capsys.readouterr().err
    assert "bad.yaml:3: links.add.0.dst: 'headr:X': unknown target place 'headr'" in err
