from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from harness.errors import ScenarioError, StackFileError
from harness.scenario.yamlfile import YamlDocument


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    port: int


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    items: list[Inner]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    return path


def test_valid_document(tmp_path: Path) -> None:
    doc = YamlDocument.load(_write(tmp_path, "name: x\nitems:\n  - port: 1\n"), ScenarioError)
    assert doc.validate(Outer).items[0].port == 1


def test_wrong_type_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nitems:\n  - port: 1\n  - port: nope\n")
    with pytest.raises(StackFileError) as err:
        YamlDocument.load(path, StackFileError).validate(Outer)
    assert str(err.value).startswith(f"{path}:4: items.1.port: ")
    assert "\n" not in str(err.value)


def test_unknown_key_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nitems: []\nbogus: 3\n")
    with pytest.raises(ScenarioError, match=r"f\.yaml:3: bogus: unknown key 'bogus'"):
        YamlDocument.load(path, ScenarioError).validate(Outer)


def test_missing_key_points_at_parent(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nitems:\n  - {}\n")
    with pytest.raises(ScenarioError, match=r":3: items\.0\.port: required key is missing"):
        YamlDocument.load(path, ScenarioError).validate(Outer)


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nitems: [\n  - a\n: b\n")
    with pytest.raises(ScenarioError, match=r"f\.yaml:\d+: invalid YAML"):
        YamlDocument.load(path, ScenarioError)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file"):
        YamlDocument.load(tmp_path / "absent.yaml", ScenarioError)
    with pytest.raises(ScenarioError, match="the file is empty"):
        YamlDocument.load(_write(tmp_path, ""), ScenarioError).validate(Outer)
