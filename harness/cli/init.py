"""``harness init``: a stack file, a capture config and a db-kill scenario for your service."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_DIR = Path("replay")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "init",
        help="write a stack file, capture config and db-kill scenario for your own service",
        description=(
            "From your traffic (a capture file, or GoReplay / mitmproxy / HAR recordings, "
            "imported on the way) and the command that starts your service, write "
            "OUT/stack.yaml, OUT/capture.yaml (the inferred routes) and OUT/db-kill.yaml (the "
            "database killed under that traffic, with gates and probes), lint them, and print "
            "the commands to run next. In a terminal it asks for what the options leave open; "
            "--yes takes every proposal (for CI)."
        ),
    )
    parser.add_argument(
        "sources", nargs="+", metavar="TRAFFIC",
        help="a *.capture.parquet, or .gor / .mitm / .har recordings (files or globs)",
    )  # fmt: skip
    parser.add_argument(
        "--build", metavar="COMMAND",
        help="the command that starts your service, with {port} (and {postgres.url}, also "
        "given as $DATABASE_URL); run from the current directory",
    )  # fmt: skip
    parser.add_argument(
        "--candidate-build", metavar="COMMAND",
        help="the hotfix's command (default: --build for both sides: a first run compares the "
        "build with itself)",
    )  # fmt: skip
    parser.add_argument(
        "--migrate", action="append", default=[], metavar="COMMAND",
        help="a migration command run once on the template database ({postgres.url}); repeat "
        "for several, in order",
    )  # fmt: skip
    schema = parser.add_mutually_exclusive_group()
    schema.add_argument("--init-sql", type=Path, metavar="FILE",
                        help="schema and seed data: SQL or plain pg_dump output")  # fmt: skip
    schema.add_argument("--init-dump", type=Path, metavar="FILE",
                        help="a pg_dump archive (-Fc, -Fd, -Ft) for the template")  # fmt: skip
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME[=VALUE]",
        help="an environment variable of the builds and migrations: NAME=VALUE is written into "
        "the stack file, NAME alone is read from the environment when the stack starts (for "
        "secrets); repeatable",
    )  # fmt: skip
    parser.add_argument("--dsn-env", metavar="VAR",
                        help="environment variable holding your PostgreSQL's DSN (default: the "
                        "embedded server)")  # fmt: skip
    parser.add_argument("--health", metavar="PATH",
                        help="health path (default: found in the traffic)")  # fmt: skip
    parser.add_argument(
        "--independent-route", action="append", metavar="ROUTE", dest="independent",
        help="a route that must keep working without the database (repeatable; default: "
        "proposed from the traffic and confirmed)",
    )  # fmt: skip
    parser.add_argument("--name", help="stack name (default: from the traffic's host)")
    parser.add_argument("--session-header", metavar="NAME", help="session key from this header")
    parser.add_argument("--session-cookie", metavar="NAME", help="session key from this cookie")
    parser.add_argument(
        "-o", "--output", type=Path, default=DEFAULT_DIR, metavar="DIR",
        help=f"where the files go (default: {DEFAULT_DIR})",
    )  # fmt: skip
    parser.add_argument("-y", "--yes", action="store_true",
                        help="take every proposal without asking")  # fmt: skip
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")
    parser.set_defaults(handler=_init)


class _Terminal:
    """Asks on the terminal (stdin is one, and --yes was not given)."""

    def __init__(self) -> None:
        from rich.console import Console

        self._console = Console(stderr=True)

    def ask(self, question: str, default: str | None) -> str | None:
        from rich.prompt import Prompt

        answer = Prompt.ask(question, default=default or "", console=self._console)
        return answer.strip() or default

    def confirm(self, question: str, default: bool) -> bool:
        from rich.prompt import Confirm

        return bool(Confirm.ask(question, default=default, console=self._console))

    def say(self, text: str) -> None:
        self._console.print(text, markup=False, highlight=False)


def _env(items: list[str]) -> dict[str, str | None]:
    """``--env`` values: ``NAME=VALUE`` or ``NAME`` (read from the environment later)."""
    import re

    from harness.errors import UsageError

    env: dict[str, str | None] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise UsageError(f"--env takes NAME=VALUE or NAME, got {item!r}")
        env[name] = value if sep else None
    return env


def _init(args: argparse.Namespace) -> int:
    from harness.workflows.init import Defaults, InitRequest, init_service

    interactive = not args.yes and sys.stdin.isatty()
    asker = _Terminal() if interactive else Defaults()
    request = InitRequest(
        sources=list(args.sources),
        out_dir=args.output,
        build=args.build,
        candidate_build=args.candidate_build,
        migrate=list(args.migrate),
        init_sql=args.init_sql,
        init_dump=args.init_dump,
        dsn_env=args.dsn_env,
        health=args.health,
        independent=args.independent,
        name=args.name,
        session_header=args.session_header,
        session_cookie=args.session_cookie,
        force=args.force,
        env=_env(args.env),
    )
    result = init_service(request, asker)
    print("wrote " + ", ".join(str(p) for p in [result.capture, *result.files]))
    for problem in result.problems:
        print(f"lint: {problem}")
    errors = [p for p in result.problems if ": error: " in p]
    if errors:
        from harness.errors import ScenarioError

        raise ScenarioError(f"the written scenario does not lint: {errors[0]}")
    print("next:")
    for command in result.next_commands:
        print(f"  {command}")
    return 0
