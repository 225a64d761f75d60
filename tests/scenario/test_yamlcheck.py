"""The shared YAML layer refuses what would exhaust the machine or silently change meaning.

Alias bombs, recursive aliases and deep nesting fail fast and in little memory; duplicate keys,
non-finite and out-of-range numbers are findings with their line; every error names a line.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from harness.errors import CaptureError, ScenarioError, StackFileError
from harness.scenario.yamlcheck import YamlLimits
from harness.scenario.yamlfile import YamlDocument


class Doc(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str


def _write(tmp_path: Path, text: str | bytes, name: str = "f.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _error(path: Path) -> str:
    with pytest.raises(ScenarioError) as err:
        YamlDocument.load(path, ScenarioError).validate(Doc)
    message = str(err.value)
    assert "\n" not in message
    return message


BILLION_LAUGHS = "name: x\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_billion_laughs_fails_fast_in_little_memory(tmp_path: Path) -> None:
    path = _write(tmp_path, BILLION_LAUGHS)
    tracemalloc.start()
    try:
        message = _error(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 9**9 nodes expanded; the limit trips at the level that first passes 100,000 (line 7)
    assert message.startswith(f"{path}:7: invalid YAML: more than 100000 nodes")
    assert peak < 20 << 20


def test_aliases_within_the_limit_work_and_keep_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nbase: &b {port: 1}\nitems:\n  - *b\n  - {<<: *b, port: 2}\n")
    doc = YamlDocument.load(path, ScenarioError)
    assert doc.data == {"name": "x", "base": {"port": 1}, "items": [{"port": 1}, {"port": 2}]}
    assert doc.findings == []  # a merge key overridden is what merge keys are for
    assert doc.line_of(("items", 0, "port")) == 2  # the aliased node's own line


def test_a_smaller_node_limit_is_honoured(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nl: [1, 2, 3, 4, 5, 6]\n")
    with pytest.raises(StackFileError, match=r":2: invalid YAML: more than 5 nodes"):
        YamlDocument.load(path, StackFileError, YamlLimits(max_nodes=5))


@pytest.mark.parametrize(
    "text",
    ["name: x\na: &x [*x]\n", "name: x\na: &x {k: [1, {j: *x}]}\n"],
)
def test_recursive_alias(tmp_path: Path, text: str) -> None:
    assert "recursive alias" in _error(_write(tmp_path, text))


@pytest.mark.parametrize(
    "text",
    [
        "name: x\nn: " + "[" * 5000 + "]" * 5000 + "\n",
        "name: x\nn:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 200)),
    ],
)
def test_deep_nesting(tmp_path: Path, text: str) -> None:
    assert "invalid YAML: nested deeper than 64 levels" in _error(_write(tmp_path, text))


def test_size_limit(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\n" + "# pad\n" * 2000)
    with pytest.raises(ScenarioError, match="larger than 0 MiB"):
        YamlDocument.load(path, ScenarioError, YamlLimits(max_bytes=4096))


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("name: x\nspeed: 1\nspeed: 2\n", 3, "speed: duplicate key 'speed' (first at line 2)"),
        ("name: x\nf: {a: 1, a: 2}\n", 2, "f.a: duplicate key 'a' (first at line 2)"),
        ("name: x\nt:\n  - {a: 1}\n  - b: 1\n    b: 2\n", 5, "t.1.b: duplicate key 'b'"),
        ("name: x\n'q': 1\nq: 2\n", 3, "q: duplicate key 'q'"),
    ],
)
def test_duplicate_keys(tmp_path: Path, text: str, line: int, what: str) -> None:
    path = _write(tmp_path, text)
    assert _error(path).startswith(f"{path}:{line}: {what}")


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (".nan", ".nan is not a finite number"),
        (".inf", ".inf is not a finite number"),
        ("-.Inf", "-.Inf is not a finite number"),
        ("1.0e+400", "1.0e+400 is not a finite number"),
        ("9223372036854775808", "is out of range"),
        ("1" * 5000, "is not a number this tool can hold"),
    ],
)
def test_unusable_numbers(tmp_path: Path, value: str, what: str) -> None:
    path = _write(tmp_path, f"name: x\nlist:\n  - ok: 1\n  - n: {value}\n")
    message = _error(path)
    assert message.startswith(f"{path}:4: list.1.n: ")
    assert what in message


def test_every_finding_is_listed(tmp_path: Path) -> None:
    doc = YamlDocument.load(
        _write(tmp_path, "name: x\na: .nan\nb: 1\nb: 2\nc: .inf\n"), ScenarioError
    )
    assert [
        (where.rsplit(":", 1)[1], message.split(":")[0]) for where, message in doc.text_problems()
    ] == [
        ("2", "a"),
        ("4", "b"),
        ("5", "c"),
    ]


def test_not_utf8_names_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, b"name: x\nother: caf\xe9\n")
    assert _error(path) == f"{path}:2: not UTF-8 text (byte 0xe9 at column 11)"


def test_control_character_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nbad: a\x00b\n")
    assert _error(path).startswith(f"{path}:2: invalid YAML: character '\\x00' is not allowed")


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, b"\xef\xbb\xbfname: x\n")
    assert YamlDocument.load(path, ScenarioError).validate(Doc).name == "x"


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("", 1, "the file is empty"),
        ("# only a comment\n", 1, "the file is empty"),
        ("\n\n42\n", 3, "got a single value (a number)"),
        ("just text\n", 1, "got a single value (a string)"),
        ("- a\n- b\n", 1, "got a list"),
    ],
)
def test_top_level_shape_has_a_line(tmp_path: Path, text: str, line: int, what: str) -> None:
    path = _write(tmp_path, text)
    message = _error(path)
    assert message.startswith(f"{path}:{line}: ")
    assert what in message


def test_invalid_date_value(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nwhen: 2024-02-30\n")
    assert _error(path) == f"{path}:2: when: 2024-02-30 is not a valid date"


def test_file_name_with_newline_stays_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nspeed: 1\nspeed: 2\n", name="bad\nname.yaml")
    message = _error(path)
    assert "bad\\nname.yaml:3: speed: duplicate key" in message


def test_capture_config_errors_use_the_same_layer(tmp_path: Path) -> None:
    from harness.capture.config import load_config

    path = _write(tmp_path, "filters:\n  sample: 0.5\n  sample: 1\n", name="c.yaml")
    with pytest.raises(CaptureError, match=r"c\.yaml:3: filters\.sample: duplicate key"):
        load_config(path)
    path = _write(tmp_path, "filters: {since_s: .inf}\n", name="c.yaml")
    with pytest.raises(
        CaptureError,
        match=r"c\.yaml:1: filters\.since_s: \.inf is not finite|"
        r"c\.yaml:1: filters\.since_s: \.inf is not a finite number",
    ):
        load_config(path)


def test_capture_config_json(tmp_path: Path) -> None:
    from harness.capture.config import load_config

    path = _write(
        tmp_path,
        '{\n\t"filters": {\n\t\t"sample": 0.5,\n\t\t"methods": ["GET"]\n\t}\n}\n',
        "c.json",
    )
    assert load_config(path).filters.methods == ["GET"]
    path = _write(tmp_path, '{\n\t"filters": {"sample": 0.5,\n "sample": 1}}\n', "c.json")
    with pytest.raises(CaptureError, match=r"c\.json:3: filters\.sample: duplicate key"):
        load_config(path)
    path = _write(tmp_path, '{\n"filters": {"sample": 0.5,}}\n', "c.json")
    with pytest.raises(CaptureError, match=r"c\.json:2: invalid JSON"):
        load_config(path)
    path = _write(tmp_path, "[" * 100_000 + "]" * 100_000, "c.json")
    with pytest.raises(CaptureError, match=r"c\.json:1: invalid YAML: nested deeper than 64"):
        load_config(path)
