"""Every command and every option of the CLI explains itself in ``--help``."""

import argparse
import re
from collections.abc import Iterator

from harness.cli.main import build_parser


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def test_every_option_and_argument_has_help_text() -> None:
    missing = []
    commands = list(_commands(build_parser()))
    for path, parser in commands:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(
                    f"harness {' '.join(path)}: {'/'.join(action.option_strings) or action.dest}"
                )
    assert len(commands) > 15  # every command and action was walked, not just the top level
    assert missing == []


def test_every_command_has_a_description() -> None:
    missing = [
        " ".join(path)
        for path, parser in _commands(build_parser())
        if path and parser.description is None
    ]
    assert missing == []


def _shown(value: object) -> str:
    """A default as help text writes it: ``10.0`` as ``10``, a path as its text."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_the_defaults_help_states_are_the_parsers() -> None:
    checked = []
    for path, parser in _commands(build_parser()):
        for action in parser._actions:
            value = action.default
            if not action.help or "default" not in action.help:
                continue
            if value is None or isinstance(value, bool | list) or value == argparse.SUPPRESS:
                continue  # decided later (by the scenario, the capture, the machine): said in words
            stated = re.search(r"default:? ([^,;)]+)", action.help)
            assert stated is not None, f"harness {' '.join(path)} {action.option_strings}"
            text = stated.group(1).strip()
            where = f"harness {' '.join(path)} {'/'.join(action.option_strings)}"
            assert re.fullmatch(rf"{re.escape(_shown(value))}(s|/|: .*)?", text), (where, text)
            checked.append(where)
    assert len(checked) >= 15  # the walk reached the subcommands' options


def test_the_import_limits_help_states_are_the_defaults() -> None:
    from harness.capture.limits import DEFAULT_LIMITS, parse_size

    (_, imp), *_ = [c for c in _commands(build_parser()) if c[0] == ("capture", "import")]
    helps = {a.option_strings[0]: a.help or "" for a in imp._actions if a.option_strings}

    def stated(flag: str) -> str:
        found = re.search(r"\(default ([^)]+)\)", helps[flag])
        assert found is not None, flag
        return found.group(1)

    assert parse_size(stated("--max-record-size")) == DEFAULT_LIMITS.max_record_bytes
    assert parse_size(stated("--max-inflated-size")) == DEFAULT_LIMITS.max_inflated_bytes
    assert parse_size(stated("--max-har-size")) == DEFAULT_LIMITS.max_har_bytes
    assert float(stated("--max-ratio")) == DEFAULT_LIMITS.max_ratio
    assert "past 32M" in helps["--max-ratio"]
    assert DEFAULT_LIMITS.ratio_floor_bytes == parse_size("32M")
