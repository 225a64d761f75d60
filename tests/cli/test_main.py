"""The CLI entry point: help, usage errors and the exit-code mapping."""

import os
import subprocess
import sys
import threading
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
    assert "   70  internal error (a bug)" in out.stdout


def _crash_in_lint(monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.scenario.lint

    def broken(_path: object) -> None:
        int("9" * 5000)  # ValueError: exceeds the limit for integer string conversion

    monkeypatch.setattr(harness.scenario.lint, "lint", broken)


def test_a_bug_exits_70_with_one_line_and_the_traceback_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    _crash_in_lint(monkeypatch)
    assert main(["lint", str(tmp_path / "s.yaml")]) == 70
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("harness: error: internal error (a bug in the harness): ValueError")
    saved = Path(lines[0].rsplit("traceback saved to ", 1)[1])
    assert saved.parent == tmp_path / "crashes"
    text = saved.read_text()
    assert "Traceback (most recent call last)" in text and "in broken" in text


def test_a_crashed_thread_turns_a_pass_into_70(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    import harness.cli.lint

    def passes_but_a_thread_died(_args: object) -> int:
        thread = threading.Thread(target=[].pop, name="probes-candidate")
        thread.start()
        thread.join()
        return 0

    monkeypatch.setattr(harness.cli.lint, "_run", passes_but_a_thread_died)
    assert main(["lint", str(tmp_path / "s.yaml")]) == 70
    err = capsys.readouterr().err
    assert "in thread probes-candidate: IndexError: pop from empty list" in err
    assert "Traceback" not in err


def test_the_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    code = (
        "import sys, harness.scenario.lint as l\n"
        "def broken(_p): raise RecursionError('maximum recursion depth exceeded')\n"
        "l.lint = broken\n"
        "from harness.cli.main import entry\n"
        "sys.argv = ['harness', 'lint', 's.yaml']\n"
        "entry()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "HARNESS_STATE_DIR": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 70
    assert "Traceback" not in done.stderr
    assert "RecursionError: maximum recursion depth exceeded; traceback saved to" in done.stderr
    assert len(list((tmp_path / "crashes").iterdir())) == 1


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
