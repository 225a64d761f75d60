"""The YAML examples, exit-code tables and links of README.md and docs/*.md are real.

A YAML block is checked by what it shows: a whole scenario is linted (as if it were saved in
``scenarios/``), a stack file is loaded, a capture config is validated, a fragment of a
scenario (``faults:``, ``gates:``...) is validated inside a minimal scenario, and a block naming
a file of the checkout (``# examples/payments/stack.yaml``) must say what that file says.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.capture.config import load_config
from harness.errors import EXIT_CODES
from harness.scenario.lint import lint
from harness.scenario.model import Scenario
from harness.scenario.stackfile import load_stack
from tests.docs.commands import (
    PARSE_ONLY_PAGES,
    ROOT,
    Block,
    blocks,
    named_path,
    page_name,
    pages,
    yaml_blocks,
)

# pages whose owner tests them are left to that owner
YAML = [b for b in yaml_blocks() if b.page not in PARSE_ONLY_PAGES]
OWN_PAGES = [p for p in pages() if page_name(p) not in PARSE_ONLY_PAGES]
SCENARIO_KEYS = frozenset(Scenario.model_fields) | {"for"}
CAPTURE_CONFIG_KEYS = frozenset({"session", "routes", "redaction", "filters", "links"})


def load(block: Block) -> dict[str, Any]:
    data = yaml.safe_load(block.text)
    assert isinstance(data, dict), f"{block.page}:{block.line}: not a mapping"
    return data


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout's layout where example files can be saved and linted."""
    root = tmp_path_factory.mktemp("tree")
    for name in ("captures", "examples"):
        (root / name).symlink_to(ROOT / name, target_is_directory=True)
    (root / "scenarios").mkdir()
    # the staging accounts file the stack examples name (``auth: ... accounts: accounts.csv``)
    (root / "stacks").mkdir()
    (root / "stacks" / "accounts.csv").write_text(
        "user,email,password\nstaging-01,staging-01@example.org,staging-pass-01\n"
    )
    return root


@pytest.mark.parametrize("block", YAML, ids=[f"{b.page}:{b.line}" for b in YAML])
def test_yaml_example_is_valid(block: Block, tree: Path) -> None:
    data = load(block)
    where = f"{block.page}:{block.line}"
    name = named_path(block)
    if name is not None and (ROOT / name).is_file():
        actual = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
        assert data == actual, f"{where}: differs from {name}"
        return
    if "targets" in data:
        path = tree / (name or f"stacks/example-{block.line}.yaml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.text, encoding="utf-8")
        stack = load_stack(path)
        assert stack.file.targets, where
    elif {"name", "capture", "stack"} <= set(data):
        path = tree / (name or f"scenarios/example-{block.line}.yaml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.text, encoding="utf-8")
        report = lint(path)
        errors = [p for p in report.problems if p.level == "error"]
        assert not errors, f"{where}: {errors}"
    elif set(data) <= CAPTURE_CONFIG_KEYS:
        path = tree / (name or f"capture-{block.line}.yaml")
        path.write_text(block.text, encoding="utf-8")
        load_config(path)
    else:
        assert set(data) <= SCENARIO_KEYS, f"{where}: what does this block show? {set(data)}"
        base = {"name": "example", "capture": "c.capture.parquet", "stack": "s.yaml"}
        Scenario.model_validate({**base, **data})


def exit_code_table(page: Path) -> dict[int, str]:
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*(.+?)\s*\|\s*$", page.read_text(encoding="utf-8"), re.M)
    return {int(code): text for code, text in rows}


@pytest.mark.parametrize("page", ["README.md", "docs/exit-codes.md"])
def test_exit_code_tables_match_the_cli(page: str) -> None:
    assert exit_code_table(ROOT / page) == EXIT_CODES


@pytest.mark.parametrize("page", OWN_PAGES, ids=page_name)
def test_relative_links_resolve(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for block in blocks(page):  # links inside code are not links
        text = text.replace(block.text, "")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert local or page.name != "README.md"
    for link in local:
        assert (page.parent / link).exists(), f"{page_name(page)}: broken link {link}"


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``page`` (lower case, punctuation dropped,
    spaces as dashes)."""
    text = page.read_text(encoding="utf-8")
    for block in blocks(page):  # a comment line in a code block is no heading
        text = text.replace(block.text, "")
    headings = re.findall(r"^#+\s+(.+?)\s*$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", OWN_PAGES, ids=page_name)
def test_link_anchors_name_a_heading(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for block in blocks(page):
        text = text.replace(block.text, "")
    for link, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
        target = page.parent / link if link else page
        if target.suffix == ".md" and target.exists():
            assert anchor in heading_anchors(target), f"{page_name(page)}: no heading #{anchor}"
