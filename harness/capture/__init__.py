"""Capture ingest: read GoReplay, mitmproxy and HAR files into the normalised capture file.

The supported API of this room (everything else in it is internal)::

    from harness.capture import import_capture, read_capture, capture_metadata, summarize

    meta = import_capture([Path("peak_0.gor"), Path("peak_1.gor")], Path("peak.capture.parquet"))
    table = read_capture(Path("peak.capture.parquet"))        # pyarrow.Table, CAPTURE_SCHEMA
    for batch in iter_capture(Path("peak.capture.parquet"), ["idx", "offset_ns", "session"]):
        ...                                                     # streaming, bounded memory

Imports pseudonymise sensitive values by default: :class:`Pseudonymiser` (with its
:class:`PseudonymKey`) gives the pseudonym of a raw value, the same one the import wrote.

The file format itself (columns, ``FORMAT_VERSION``, ``METADATA_KEY``) is
:mod:`harness.capture.schema`, the contract shared with the replay and analysis rooms.
"""

from harness.capture.config import CaptureConfig, load_config
from harness.capture.ingest import import_capture, resolve_sources
from harness.capture.inspect import CaptureSummary, summarize
from harness.capture.pseudonym import Pseudonymiser, PseudonymKey
from harness.capture.store import CaptureMetadata, capture_metadata, iter_capture, read_capture

__all__ = [
    "CaptureConfig",
    "CaptureMetadata",
    "CaptureSummary",
    "PseudonymKey",
    "Pseudonymiser",
    "capture_metadata",
    "import_capture",
    "iter_capture",
    "load_config",
    "read_capture",
    "resolve_sources",
    "summarize",
]
