"""Every command and every option of the CLI explains itself in ``--help``."""

import argparse
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
