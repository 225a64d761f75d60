"""``harness capture import|inspect``: recorded traffic -> capture file, and a look at one."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.capture.config import CaptureConfig
    from harness.capture.inspect import CaptureSummary
    from harness.capture.joins import JoinReport
    from harness.capture.limits import InputLimits
    from harness.capture.routelearn import LearnedRoute
    from harness.capture.store import CaptureMetadata

#: Inputs at least this large get a progress bar (when stderr is a terminal).
PROGRESS_MIN_BYTES = 16 << 20


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``capture`` with its ``import`` and ``inspect`` subcommands."""
    parser = sub.add_parser(
        "capture",
        help="import GoReplay / mitmproxy / HAR traffic into a capture file, or inspect one",
        description="Import recorded traffic into one normalised, redacted capture file.",
    )
    actions = parser.add_subparsers(dest="capture_command", metavar="ACTION")
    parser.set_defaults(handler=_no_action)

    imp = actions.add_parser(
        "import",
        help="read .gor/.gor.gz, mitmproxy flow files and HAR into a capture file",
        description=(
            "Read capture sources (files or glob patterns; GoReplay chunk sets are merged by "
            "timestamp) into OUT. Secrets and personal data (credentials, cookies, API keys, "
            "JWTs, e-mail addresses, card numbers, secret fields; in headers, host, path, query "
            "and bodies, compressed or not) are replaced by pseudonyms: equal values get equal "
            "stand-ins of the same form, from a key that is never written anywhere, so the "
            "traffic still replays. --redact-mode mask uses constant masks instead; "
            "--no-redact keeps everything."
        ),
    )
    imp.add_argument("sources", nargs="+", metavar="SRC", help="input files or glob patterns")
    imp.add_argument("-o", "--output", required=True, type=Path, metavar="OUT",
                     help="the capture file to write (*.capture.parquet)")  # fmt: skip
    imp.add_argument("--format", default="auto", choices=("auto", "gor", "mitm", "har"),
                     help="input format (default auto: detected from the content)")  # fmt: skip
    imp.add_argument("--redact-mode", choices=("pseudonym", "mask"), default=None,
                     help="pseudonym (default): consistent stand-ins of the same form; "
                     "mask: constant masks such as REDACTED (may not replay)")  # fmt: skip
    imp.add_argument("--pseudonym-key-env", metavar="NAME",
                     help="read the pseudonym key from environment variable NAME (16+ "
                     "characters), so that imports of related traffic agree; default: a "
                     "random key for this import only")  # fmt: skip
    imp.add_argument("--no-redact", action="store_true",
                     help="keep secrets and personal data, and the response body hashes "
                     "unkeyed (noted in the metadata)")  # fmt: skip
    imp.add_argument("--config", type=Path, metavar="FILE",
                     help="YAML/JSON config: session, routes, redaction, filters")  # fmt: skip
    imp.add_argument("--reorder-window", type=int, default=10_000, metavar="N",
                     help="records held to fix out-of-order input (default 10000)")  # fmt: skip
    limits = imp.add_argument_group(
        "limits on hostile or broken input (docs/capture.md; sizes take K, M, G)"
    )
    for flag, meta, text in (
        ("--max-record-size", "SIZE", "skip (and count) records larger than this (default 16M)"),
        ("--max-inflated-size", "SIZE", "refuse compressed input inflating past it (default 64G)"),
        ("--max-ratio", "N", "refuse compressed input inflating N times, past 32M (default 200)"),
        ("--max-har-size", "SIZE", "refuse HAR files larger than this: read whole (default 2G)"),
    ):
        limits.add_argument(flag, metavar=meta, type=float if meta == "N" else str, help=text)
    group = imp.add_argument_group("filters and transforms (added to those of --config)")
    group.add_argument("--method", action="append", default=[], help="keep only this method")
    group.add_argument("--deny-method", action="append", default=[], help="drop this method")
    group.add_argument("--route", action="append", default=[], help="keep routes matching glob")
    group.add_argument("--deny-route", action="append", default=[], help="drop matching routes")
    group.add_argument("--since", type=float, metavar="S", help="drop the first S seconds")
    group.add_argument("--until", type=float, metavar="S", help="drop after S seconds")
    group.add_argument("--sample", type=float, metavar="F", help="keep this share of sessions")
    group.add_argument("--set-header", action="append", default=[], metavar="NAME=VALUE",
                       help="set this header on every request (replaced if present)")  # fmt: skip
    group.add_argument("--remove-header", action="append", default=[], metavar="NAME",
                       help="remove this header from every request")  # fmt: skip
    group.add_argument("--host", help="rewrite the host of every request")
    group.add_argument("--session-header", metavar="NAME", help="session key from this header")
    group.add_argument("--session-cookie", metavar="NAME", help="session key from this cookie")
    imp.set_defaults(handler=_import)

    ins = actions.add_parser(
        "inspect",
        help="summarise a capture file",
        description=(
            "Requests, responses, duration, sessions (and how they were found, with the "
            "requests joined by value), rate, top routes, skips, redactions, and the session "
            "links grouped by kind, source and target."
        ),
    )
    ins.add_argument("file", type=Path, metavar="FILE", help="a *.capture.parquet file")
    ins.add_argument("--json", action="store_true", help="print the summary as JSON")
    ins.add_argument("--top", type=int, default=10,
                     help="how many routes and link groups to list (default 10)")  # fmt: skip
    ins.set_defaults(handler=_inspect)


def _no_action(args: argparse.Namespace) -> int:
    raise UsageError("harness capture: choose an action: import or inspect")


def _config(args: argparse.Namespace) -> CaptureConfig:
    from harness.capture.config import CaptureConfig, load_config

    config = load_config(args.config) if args.config else CaptureConfig()
    f = config.filters
    headers = dict(f.set_headers)
    for item in args.set_header:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--set-header {item!r}: expected NAME=VALUE")
        headers[name] = value
    if args.sample is not None and not 0 < args.sample <= 1:
        raise UsageError("--sample must be in (0, 1]")
    filters = f.model_copy(
        update={
            "methods": [*f.methods, *args.method],
            "deny_methods": [*f.deny_methods, *args.deny_method],
            "routes": [*f.routes, *args.route],
            "deny_routes": [*f.deny_routes, *args.deny_route],
            "since_s": args.since if args.since is not None else f.since_s,
            "until_s": args.until if args.until is not None else f.until_s,
            "sample": args.sample if args.sample is not None else f.sample,
            "set_headers": headers,
            "remove_headers": [*f.remove_headers, *args.remove_header],
            "host": args.host or f.host,
        }
    )
    session = config.session.model_copy(
        update={
            "header": args.session_header or config.session.header,
            "cookie": args.session_cookie or config.session.cookie,
        }
    )
    return config.model_copy(
        update={"filters": filters, "session": session, "limits": _limits(args, config)}
    )


def _limits(args: argparse.Namespace, config: CaptureConfig) -> InputLimits:
    """The config's limits with those given on the command line."""
    from pydantic import ValidationError

    from harness.capture.limits import InputLimits

    given = {
        "max_record_bytes": args.max_record_size,
        "max_inflated_bytes": args.max_inflated_size,
        "max_ratio": args.max_ratio,
        "max_har_bytes": args.max_har_size,
    }
    update = {key: value for key, value in given.items() if value is not None}
    if not update:
        return config.limits
    try:
        return InputLimits.model_validate({**config.limits.model_dump(), **update})
    except ValidationError as exc:
        first = exc.errors()[0]
        flag = {
            "max_record_bytes": "--max-record-size",
            "max_inflated_bytes": "--max-inflated-size",
            "max_ratio": "--max-ratio",
            "max_har_bytes": "--max-har-size",
        }.get(str(first["loc"][0]) if first["loc"] else "", "a limit")
        raise UsageError(f"{flag}: {first['msg'].removeprefix('Value error, ')}") from None


def _import(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from harness.capture.ingest import import_capture, resolve_sources
    from harness.capture.pseudonym import PseudonymKey

    if args.reorder_window < 1:
        raise UsageError("--reorder-window must be at least 1")
    if args.no_redact and (args.redact_mode or args.pseudonym_key_env):
        raise UsageError("--no-redact cannot be combined with --redact-mode or --pseudonym-key-env")
    if args.redact_mode == "mask" and args.pseudonym_key_env:
        raise UsageError("--pseudonym-key-env needs --redact-mode pseudonym (the default)")
    key = PseudonymKey.from_env(args.pseudonym_key_env) if args.pseudonym_key_env else None
    sources = resolve_sources(args.sources)
    config = _config(args)
    console = Console(stderr=True)
    total = sum(s.stat().st_size for s in sources)
    show = total >= PROGRESS_MIN_BYTES and console.is_terminal
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not show,
        transient=True,
    ) as bar:
        task = bar.add_task("reading", total=total)
        meta = import_capture(
            sources,
            args.output,
            fmt=args.format,
            redact=not args.no_redact,
            redact_mode=args.redact_mode or "pseudonym",
            pseudonym_key=key,
            config=config,
            progress=lambda done, _total: bar.update(task, completed=done),
            reorder_window=args.reorder_window,
        )
    c = meta.counts
    span = ((meta.last_ts_ns or 0) - (meta.first_ts_ns or 0)) / 1e9
    print(
        f"wrote {args.output}: {c.written} requests ({c.responses} with response) over {span:.1f} s"
    )
    if meta.skipped:
        print("skipped: " + ", ".join(f"{r} x{n}" for r, n in meta.skipped.items()))
    if meta.filtered:
        print("filtered: " + ", ".join(f"{r} x{n}" for r, n in meta.filtered.items()))
    for learned in meta.learned_routes:
        print(f"learned route parameter: {_learned(learned)}")
    if meta.redaction.enabled:
        rules = ", ".join(f"{r} x{n}" for r, n in meta.redaction.rules.items()) or "nothing found"
        how = "pseudonymised" if meta.redaction.mode == "pseudonym" else "masked"
        print(f"{how}: {rules}")
    else:
        print("redaction: OFF (--no-redact); this file may hold secrets and personal data")
    _print_learning(meta)
    return 0


def _print_learning(meta: CaptureMetadata) -> None:
    """How sessions were found and what links were learned (counts only)."""
    if meta.sessions is not None:
        joins = meta.sessions.joins
        joined = f" ({_join_summary(joins)})" if _tried(joins) else ""
        print(f"sessions: by {meta.sessions.found_by}{joined}")
    links = meta.links
    if not links.enabled:
        print("links: not learned (links.enabled: false)")
    elif links.links:
        kinds = ", ".join(f"{k} {n:,}" for k, n in links.by_kind.items())
        print(f"links: {links.links:,} in {links.requests:,} requests ({kinds})")
    elif not meta.counts.responses:
        print("links: none (no responses captured: record them to learn links)")
    else:
        print("links: none found")


def _inspect(args: argparse.Namespace) -> int:
    from harness.capture.inspect import summarize

    summary = summarize(args.file, top=args.top)
    if args.json:
        json.dump(summary.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_summary(summary, args.top)
    return 0


def _print_summary(s: CaptureSummary, top: int) -> None:
    lines = [
        f"capture     {s.path} (format {s.format_version})",
        f"requests    {s.requests} ({s.responses} with original response)",
        f"duration    {s.duration_s:.3f} s",
        f"sessions    {s.sessions}{_found_by(s)}",
        *_join_lines(s, top),
        f"rate        mean {s.mean_per_s:.2f}/s, peak {s.peak_per_s}/s",
        f"methods     {', '.join(f'{m} {n}' for m, n in s.methods.items())}",
        f"routes      {s.route_count} distinct; top:",
        *(f"  {n:>8}  {r}" for r, n in s.routes),
        f"learned     {_learned(s.learned_routes[0]) if s.learned_routes else 'none'}",
        *(f"            {_learned(r)}" for r in s.learned_routes[1:]),
        f"skipped     {_pairs(s.skipped)}",
        f"filtered    {_pairs(s.filtered)}",
        f"redaction   {_redaction(s)}",
        *_link_lines(s, top),
        f"sources     {', '.join(s.sources)}",
    ]
    print("\n".join(lines))


def _found_by(s: CaptureSummary) -> str:
    if s.sessions_found_by is None:
        return ""
    if s.sessions_found_by != "credential":
        return f" (by {s.sessions_found_by})"
    by = ", ".join(f"{n:,} {how}" for how, n in s.sessions_by.items())
    return f" (by credential: {by})" if by else " (by credential)"


def _tried(joins: JoinReport | None) -> TypeGuard[JoinReport]:
    """Whether joining by value found anything to say (a request joined, or one not joined)."""
    return joins is not None and bool(
        joins.joined or joins.ambiguous or joins.shared or joins.expired
    )


def _join_summary(joins: JoinReport) -> str:
    """What joining by value did, in one clause (counts only)."""
    missed = [
        f"{n:,} {why}"
        for why, n in (
            ("ambiguous", joins.ambiguous),
            ("by a value seen in several sessions", joins.shared),
            (f"by a value seen over {joins.window_s:g} s before", joins.expired),
        )
        if n
    ]
    text = f"{joins.joined:,} requests joined by value"
    return text + (f"; not joined: {', '.join(missed)}" if missed else "")


def _join_lines(s: CaptureSummary, top: int) -> list[str]:
    if s.joins is None or not _tried(s.joins):
        return []
    ways = list(s.joins.by.items())
    more = [f"  ... {len(ways) - top} more (--top, --json)"] if len(ways) > top else []
    lines = [f"  {n:>8}  {how}" for how, n in ways[:top]]
    return [f"joins       {_join_summary(s.joins)}", *lines, *more]


def _link_lines(s: CaptureSummary, top: int) -> list[str]:
    links = s.links
    if not links.enabled:
        return ["links       not learned (format 1 file, or links.enabled: false)"]
    kinds = ", ".join(f"{k} {n:,}" for k, n in links.by_kind.items()) or "none found"
    head = f"links       {links.links:,} in {links.requests:,} requests: {kinds}"
    extra = [f"{links.ambiguous:,} ambiguous"] if links.ambiguous else []
    extra += [f"{n:,} dropped ({why})" for why, n in links.dropped.items()]
    if extra:
        head += f" ({'; '.join(extra)})"
    rest = len(s.link_groups) - top
    more = [f"  ... {rest} more groups (--top, --json)"] if rest > 0 else []
    return [head, *(f"  {g.describe()}" for g in s.link_groups[:top]), *more]


def _learned(route: LearnedRoute) -> str:
    """A learned parameter in one line: where, how many values, which ones stayed routes."""
    kept = f"; kept as routes: {', '.join(route.kept)}" if route.kept else ""
    return f"{route.template} ({route.distinct} values in {route.requests} requests{kept})"


def _redaction(s: CaptureSummary) -> str:
    if not s.redaction_enabled:
        return "OFF (imported with --no-redact: may hold secrets and personal data)"
    how = "pseudonyms" if s.redaction_mode == "pseudonym" else s.redaction_mode
    return f"on ({how}): {_pairs(s.redactions)}"


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} x{n}" for k, n in counts.items()) or "none"
