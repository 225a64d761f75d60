"""The import pipeline: sources -> readers -> sessions, routes, filters, redaction -> capture file.

Usage::

    from harness.capture.ingest import import_capture
    sources = [Path("traffic_0.gor"), Path("traffic_1.gor")]
    meta = import_capture(sources, Path("peak.capture.parquet"))
    print(meta.counts.written, meta.redaction.rules)

Every GoReplay source is read as one capture merged by timestamp (chunk sets, globs); mitmproxy
and HAR sources are merged in too. Order of work per request: the session key is hashed from
the raw request first (by credential, :mod:`harness.capture.clients`, unless a session key
is configured), the route is templated and the captured response read for the values it
delivered, filters decide, transforms apply, the request's session links are learned
(:mod:`harness.capture.learning`), and redaction (pseudonyms by default,
:mod:`harness.capture.redact`) runs last before the row is written; a route whose path lost a
secret is templated again with the placeholder where the secret was, and the links are stored
as the redacted request holds their values.

When every source is a GoReplay file and the configuration leaves nothing to decide per request
(no filter, transform, session header or extra pattern: the defaults), the same work runs on
chunks of requests instead (:mod:`harness.capture.batch`), about half again as fast; it writes
the same file, counts and report, which ``tests/capture/test_batch.py`` checks.
"""

from __future__ import annotations

import gc
import glob
import heapq
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from harness.capture.allocator import keep_freed_memory
from harness.capture.batch import batch_path_applies, write_batches
from harness.capture.bodyhash import KEYED, PLAIN
from harness.capture.config import CaptureConfig
from harness.capture.detect import FORMATS, Format, detect_format
from harness.capture.filters import Filters
from harness.capture.gor import DEFAULT_WINDOW, read_gor, read_gor_requests
from harness.capture.har import read_har
from harness.capture.learning import ImportLearning
from harness.capture.mitm import read_mitm
from harness.capture.pseudonym import PseudonymKey
from harness.capture.record import Exchange, SkipLog, split_headers
from harness.capture.redact import Mode, Redactor
from harness.capture.routelearn import RouteLearner
from harness.capture.routes import RouteTemplater
from harness.capture.schema import FORMAT_VERSION
from harness.capture.sessions import SessionKeyer
from harness.capture.store import (
    CaptureMetadata,
    CaptureWriter,
    Counts,
    ImportOptions,
    RedactionReport,
    SourceInfo,
)
from harness.capture.urlsecrets import secret_segments_as
from harness.errors import CaptureError

#: Called with (bytes read so far, bytes in all sources).
ProgressCallback = Callable[[int, int], None]


def resolve_sources(specs: Iterable[str]) -> list[Path]:
    """Files named by ``specs`` (paths or glob patterns), in a stable order, without repeats."""
    paths: list[Path] = []
    for spec in specs:
        matches = sorted(glob.glob(spec)) if glob.has_magic(spec) else [spec]  # noqa: PTH207
        if not matches:
            raise CaptureError(f"{spec}: no file matches")
        for match in matches:
            path = Path(match)
            if path.is_dir():
                raise CaptureError(f"{path}: is a directory (name its files: {path}/*.gor)")
            if not path.is_file():
                raise CaptureError(f"{path}: no such file")
            if path not in paths:
                paths.append(path)
    return paths


def _reorder(exchanges: Iterable[Exchange], window: int) -> Iterator[Exchange]:
    """Exchanges sorted by time within a sliding window of ``window`` records."""
    heap: list[tuple[int, int, Exchange]] = []
    for seq, ex in enumerate(exchanges):
        item = (ex.ts_ns, seq, ex)
        if len(heap) < window:
            heapq.heappush(heap, item)
        else:
            yield heapq.heappushpop(heap, item)[2]
    heap.sort()
    for _, _, ex in heap:
        yield ex


def import_capture(
    sources: list[Path],
    out: Path,
    *,
    fmt: str = "auto",
    redact: bool = True,
    config: CaptureConfig | None = None,
    progress: ProgressCallback | None = None,
    reorder_window: int = DEFAULT_WINDOW,
    redact_mode: Mode = "pseudonym",
    pseudonym_key: PseudonymKey | None = None,
) -> CaptureMetadata:
    """Read ``sources`` into the capture file ``out`` and return its metadata.

    ``redact`` false keeps every value (``--no-redact``); else ``redact_mode`` says how
    secrets are replaced: by pseudonyms under ``pseudonym_key`` (a random key when ``None``)
    or by constant masks. Raises :class:`CaptureError` when a source cannot be read or nothing
    usable remains. Tunes the process's allocator (:mod:`harness.capture.allocator`).
    """
    keep_freed_memory()
    config = config or CaptureConfig()
    if fmt != "auto" and fmt not in FORMATS:
        raise CaptureError(f"unknown format {fmt!r} (choose auto, {', '.join(FORMATS)})")
    if not sources:
        raise CaptureError("no capture source given")
    if out.resolve() in {s.resolve() for s in sources}:
        raise CaptureError(f"{out}: the output would overwrite an input")
    formats: list[Format] = [detect_format(s) if fmt == "auto" else fmt for s in sources]  # type: ignore[misc]
    sizes = [s.stat().st_size for s in sources]
    total = sum(sizes)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    skips = SkipLog()
    streams: list[Iterator[Exchange]] = []
    gor = [s for s, f in zip(sources, formats, strict=True) if f == "gor"]
    keyer = SessionKeyer(config.session)
    templater = RouteTemplater(config.routes)
    filters = Filters(config.filters)
    redactor = Redactor(config.redaction, mode=redact_mode, key=pseudonym_key) if redact else None
    pseudonymiser = redactor.pseudonymiser if redactor is not None else None
    learning = ImportLearning(
        config, keyer, templater,
        pseudonym=pseudonymiser.pseudonym if pseudonymiser is not None else None,
        clean_path=_path_cleaner(redactor, templater.placeholder),
    )  # fmt: skip
    batch = len(gor) == len(sources) and batch_path_applies(config, redactor)
    limits = config.limits
    if gor and not batch:
        streams.append(read_gor(gor, skips, advance, window=reorder_window, limits=limits))
    for source, kind in zip(sources, formats, strict=True):
        if kind == "mitm":
            mitm = read_mitm(source, skips, advance, limits=limits)
            streams.append(_reorder(mitm, reorder_window))
        elif kind == "har":
            advance(source.stat().st_size)
            streams.append(read_har(source, skips, limits=limits))
    merged: Iterable[Exchange] = ()
    if streams:
        merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=_ts)
    writer = CaptureWriter(out, routes=RouteLearner(config.routes, pinned=templater.pinned))
    read = 0
    first_read: int | None = None
    # GoReplay and HAR records are short-lived, acyclic objects: cyclic GC passes over them
    # cost a fifth of the run and free nothing, so they are paused (restored in finally).
    # mitmproxy flows do hold reference cycles: with them in the input, GC must keep running.
    gc_was_enabled = gc.isenabled()
    if "mitm" not in formats:
        gc.disable()
    # bound methods looked up once: this loop runs once per request
    session_of, route_of, keep, transform, add = (
        learning.session, templater.route, filters.keep, filters.transform, writer.add
    )  # fmt: skip
    scrub = redactor.redact if redactor is not None else None
    placeholder = templater.placeholder
    try:
        if batch:
            # GoReplay only, nothing to decide per request: whole row groups at once
            requests = read_gor_requests(gor, skips, advance, window=reorder_window, limits=limits)
            read = write_batches(
                requests, writer, skips=skips, keyer=keyer, templater=templater, redactor=redactor,
                learning=learning,
            )  # fmt: skip
        for ex in merged:
            read += 1
            if first_read is None:
                first_read = ex.ts_ns
            ex.session = session_of(ex)
            ex.route = route_of(ex.path)
            response, ex.response = ex.response, None  # the row does not keep it
            delivered = None
            if response is not None:
                ex.orig_location_route = learning.location_route(response, ex.path)
                end = ex.ts_ns + (ex.orig_latency_ns or 0)
                delivered = learning.delivered(ex.session, response, ex.path, ex.head, ex.body, end)
            if not keep(ex, ex.ts_ns - first_read):
                continue
            transform(ex)
            raw = learning.learn(
                writer.rows, ex.session, ex.ts_ns, f"{ex.method} {ex.route}", ex.path, ex.head,
                ex.body, response, ex.orig_latency_ns, delivered,
            )  # fmt: skip
            if scrub is not None:
                path = ex.path
                scrub(ex)
                if ex.path is not path:  # no secret (nor its pseudonym) in the route
                    ex.route = route_of(secret_segments_as(path, ex.path, placeholder))
            if raw:
                ex.links = learning.confirm(raw, ex.path, split_headers(ex.head), ex.body)
            add(ex)
        if writer.rows == 0:
            detail = skips.summary() if skips.total else f"{read} requests read, all filtered"
            if not skips.total and read == 0:
                # nothing that even looked like a record: the whole file is the place
                detail = f"byte 0: no record found in {total} bytes"
            raise CaptureError(f"no usable requests in {', '.join(map(str, sources))}: {detail}")
        sessions_report, links_report = learning.finish()
        meta = CaptureMetadata(
            format_version=FORMAT_VERSION,
            sources=[
                SourceInfo(path=str(s), format=f, bytes=n)
                for s, f, n in zip(sources, formats, sizes, strict=True)
            ],
            counts=Counts(
                read=read,
                written=writer.rows,
                responses=writer.responses,
                skipped=skips.total,
                filtered=sum(filters.counts.values()),
            ),
            skipped=dict(skips.counts.most_common()),
            skipped_examples=skips.examples,
            filtered=dict(filters.counts.most_common()),
            redaction=RedactionReport(
                enabled=redact,
                mode=redactor.mode if redactor is not None else "off",
                key=(
                    redactor.pseudonymiser.key_source
                    if redactor is not None and redactor.pseudonymiser is not None
                    else None
                ),
                rules=dict(redactor.counts.most_common()) if redactor is not None else {},
                response_hash=KEYED if redactor is not None else PLAIN,
            ),
            options=ImportOptions(
                format=fmt,
                redact=redact,
                redact_mode=redactor.mode if redactor is not None else "off",
                reorder_window=reorder_window,
                config=config if redactor is None else _stored_config(config, redactor),
            ),
            sessions=sessions_report,
            links=links_report,
        )
        writer.close(meta)
    except BaseException:
        writer.abort()
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    return meta


def _ts(ex: Exchange) -> int:
    return ex.ts_ns


def _path_cleaner(redactor: Redactor | None, placeholder: str) -> Callable[[str], str] | None:
    """A path with the segments redaction would replace as ``placeholder`` (for routes)."""
    if redactor is None:
        return None
    result = redactor.path_result
    return lambda path: secret_segments_as(path, result(path)[0], placeholder)


def _stored_config(config: CaptureConfig, redactor: Redactor) -> CaptureConfig:
    """``config`` as the capture's metadata keeps it: ``--set-header`` values as the rows
    hold them (redacted), configured patterns by name only (a pattern may spell a secret)."""
    line = redactor.line
    filters = config.filters.model_copy(
        update={"set_headers": {n: line(n, v)[1] for n, v in config.filters.set_headers.items()}}
    )
    patterns = [p.model_copy(update={"pattern": "(not stored)"}) for p in config.redaction.patterns]
    redaction = config.redaction.model_copy(update={"patterns": patterns})
    return config.model_copy(update={"filters": filters, "redaction": redaction})
