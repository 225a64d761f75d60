"""Internal errors (harness/crashes.py): the saved traceback, the one line, the state dir."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from harness.crashes import (
    FILE_PREFIX,
    internal_error,
    internal_errors,
    one_line,
    save_traceback,
    thread_crashes,
)
from harness.errors import EXIT_INTERNAL, InternalError, ScenarioError
from harness.statedir import STATE_DIR_VARIABLE, state_dir


def _boom() -> None:
    raise KeyError("type")


def test_saved_traceback_has_the_frames_the_command_and_versions(tmp_path: Path) -> None:
    try:
        _boom()
    except KeyError as exc:
        path = save_traceback(exc, tmp_path, where="thread fault-timeline")
    assert path is not None and path.parent == tmp_path
    assert path.name.startswith(FILE_PREFIX) and path.suffix == ".txt"
    text = path.read_text()
    assert "in _boom" in text and "KeyError: 'type'" in text
    assert "internal error in thread fault-timeline" in text
    assert text.splitlines()[2].startswith("command: ")
    assert path.stat().st_mode & 0o777 == 0o600  # it may hold values of the user's data


def test_two_crashes_in_one_second_get_two_files(tmp_path: Path) -> None:
    first = save_traceback(ValueError("a"), tmp_path)
    second = save_traceback(ValueError("b"), tmp_path)
    assert first is not None and second is not None and first != second
    assert "ValueError: a" in first.read_text() and "ValueError: b" in second.read_text()


def test_without_a_run_directory_it_goes_to_the_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(tmp_path / "state"))
    path = save_traceback(RuntimeError("x"))
    assert path is not None and path.parent == tmp_path / "state" / "crashes"


def test_an_unwritable_run_directory_falls_back_to_the_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(tmp_path / "state"))
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    path = save_traceback(RuntimeError("x"), not_a_dir)
    assert path is not None and path.parent == tmp_path / "state" / "crashes"


def test_state_dir_order_of_precedence(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home")}
    assert state_dir(env, create=False) == tmp_path / "home" / ".local" / "state" / "harness"
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg")
    assert state_dir(env, create=False) == tmp_path / "xdg" / "harness"
    env[STATE_DIR_VARIABLE] = str(tmp_path / "own")
    assert state_dir(env) == tmp_path / "own"
    assert (tmp_path / "own").is_dir()


def test_state_dir_falls_back_to_tmp_when_home_cannot_hold_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("")  # a file: nothing can be created under it, not even by root
    found = state_dir({"HOME": str(home)})
    assert found.name == f"harness-state-{os.getuid()}" and found.is_dir()


def test_one_line_collapses_and_cuts() -> None:
    assert one_line(ValueError("a\n  b\tc")) == "ValueError: a b c"
    assert one_line(RuntimeError()) == "RuntimeError"
    long = one_line(ValueError("x" * 1000))
    assert len(long) == 300 and long.endswith("...")


def test_internal_error_names_the_saved_file(tmp_path: Path) -> None:
    error = internal_error(OverflowError("int too large"), tmp_path, where="worker 2")
    assert isinstance(error, InternalError) and error.exit_code == EXIT_INTERNAL == 70
    saved = next(tmp_path.glob(f"{FILE_PREFIX}*"))
    assert error.traceback_path == str(saved)
    assert str(error) == (
        "internal error (a bug in the harness) in worker 2: OverflowError: int too large; "
        f"traceback saved to {saved}"
    )
    assert "\n" not in str(error)


def test_internal_errors_converts_bugs_and_keeps_harness_errors(tmp_path: Path) -> None:
    with (
        pytest.raises(InternalError, match=r"ZeroDivisionError") as caught,
        internal_errors(tmp_path),
    ):
        _ = 1 / 0
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    assert len(list(tmp_path.glob(f"{FILE_PREFIX}*"))) == 1
    with pytest.raises(ScenarioError), internal_errors(tmp_path):
        raise ScenarioError("s.yaml:3: speed: not a number")
    with pytest.raises(KeyboardInterrupt), internal_errors(tmp_path):
        raise KeyboardInterrupt
    assert len(list(tmp_path.glob(f"{FILE_PREFIX}*"))) == 1  # only the bug was saved


def test_thread_crashes_are_collected_not_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(tmp_path))
    before = threading.excepthook
    with thread_crashes() as crashed:
        thread = threading.Thread(target=_boom, name="probes-baseline")
        thread.start()
        thread.join()
    assert threading.excepthook is before
    assert len(crashed) == 1
    assert "in thread probes-baseline: KeyError: 'type'" in str(crashed[0])
    assert "Traceback" not in capsys.readouterr().err
    assert len(list((tmp_path / "crashes").glob(f"{FILE_PREFIX}*"))) == 1
