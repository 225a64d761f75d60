"""The CLI entry point: help, usage errors and the exit-code mapping."""

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.main import main


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: harness" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-such-option"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_help_lists_exit_codes() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "harness", "--help"], capture_output=True, text=True, check=True
    )
    assert "exit codes:" in out.stdout
    assert "143" in out.stdout


def test_an_error_message_is_one_line_whatever_it_quotes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.errors import CaptureError, printable

    path = Path(str(tmp_path)) / "two\nlines.yaml"
    path.write_text("name: x\nname: y\n")
    assert main(["lint", str(path)]) == 3
    lines = capsys.readouterr().err.splitlines()
    escaped = str(path).replace("\n", "\\n")
    assert lines[0].startswith(f"{escaped}:2: error: name: duplicate key 'name'")
    assert all(line.startswith(escaped + ":") for line in lines)
    message = str(CaptureError("x.gor: Arrow says:\nline 2\r\n\x1b[31mred" + "y" * 5000))
    assert "\n" not in message and "\x1b" not in message and len(message) == 800
    assert printable("plain text") == "plain text"
