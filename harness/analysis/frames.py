"""Load a run directory into typed pieces: manifest, request and probe frames, fault windows.

Only files are read (a run made on another machine works). Request columns are read selectively
with pyarrow and turned into compact pandas frames: ``target``, ``route`` and ``error`` become
categoricals, the body hash becomes an integer code (equal hashes, equal codes; -1 for none).

Target roles in ``manifest.json``: ``baseline`` (the production build), ``candidate`` (a hotfix;
a run may hold several), and ``aa``: a second copy of the baseline build replayed at the same
moment, used only to measure the noise between identical builds (:mod:`harness.analysis.noise`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from harness.errors import InputError
from harness.rundir import RunDir

ROLE_BASELINE = "baseline"
ROLE_CANDIDATE = "candidate"
ROLE_AA = "aa"

DICTIONARY_COLUMNS: tuple[str, ...] = ("target", "route", "error", "body_sha256")
#: wave-2 columns read when the run has them: the fidelity check's (harness.analysis.fidelity),
#: and the session wait that moved a request's schedule (phases use due + wait)
SESSION_COLUMNS: tuple[str, ...] = (
    "orig_status", "orig_location_route", "location_route", "link", "wait_ms",
)  # fmt: skip
REQUEST_COLUMNS: tuple[str, ...] = (
    "target",
    "idx",
    "route",
    "due_ns",
    "latency_ms",
    "latency_corrected_ms",
    "status",
    "error",
    "body_sha256",
)


class _Lenient(BaseModel):
    # Writers may add keys in later versions; readers keep what they know.
    model_config = ConfigDict(extra="ignore", frozen=True)


class TargetInfo(_Lenient):
    """One target of the run: where it was reached and what it stands for.

    ``role`` may be null in a bare replay's manifest; a target then counts as the baseline
    when it is named ``baseline``, else as a candidate.
    """

    url: str = ""
    role: str | None = None
    version: str | None = None
    #: the stack file's build it ran (``None``: a command or a URL)
    build: str | None = None


class Validity(_Lenient):
    """Whether the load generator held the schedule; an invalid run is never judged."""

    valid: bool = True
    reasons: list[str] = []
    lag_p99_ms: float | None = None


class CaptureInfo(_Lenient):
    path: str | None = None
    requests: int | None = None


class Manifest(_Lenient):
    """The parts of ``manifest.json`` the analysis uses."""

    format_version: int = 1
    run_id: str = ""
    t0_ns: int = 0
    speed: float = 1.0
    seed: int = 0
    host: str = ""
    command: list[str] = []
    status: str = "complete"
    capture: CaptureInfo = CaptureInfo()
    targets: dict[str, TargetInfo] = {}
    scenario: dict[str, Any] | None = None
    versions: dict[str, str | None] = {}
    validity: Validity = Validity()

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_defaults(cls, data: object) -> object:
        # A manifest written in steps has nulls where a later step had not written yet.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None or k == "scenario"}
        return data

    def role_of(self, name: str) -> str:
        role = self.targets[name].role
        if role:
            return role
        return ROLE_BASELINE if name == ROLE_BASELINE else ROLE_CANDIDATE

    def names_with_role(self, role: str) -> list[str]:
        """Target names that have ``role``, in manifest order."""
        return [name for name in self.targets if self.role_of(name) == role]

    def independent_routes(self) -> list[str]:
        """Routes that must keep working without the dependency (scenario key)."""
        routes = (self.scenario or {}).get("independent_routes") or []
        return [str(route) for route in routes]

    def gates_data(self) -> object:
        """The raw ``gates:`` mapping of the scenario, or ``None``."""
        return (self.scenario or {}).get("gates")

    def scenario_name(self) -> str:
        return str((self.scenario or {}).get("name") or "")


@dataclass(frozen=True)
class Event:
    """One line of ``events.jsonl``; ``data`` keeps the whole object."""

    t_ns: int
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class FaultWindow:
    """A fault as it actually happened: measured apply and revert times (ns from t0).

    ``end_ns`` is ``None`` when no revert was recorded (an interrupted run).
    """

    id: str
    label: str
    kind: str
    dependency: str
    targets: tuple[str, ...]
    start_ns: int
    end_ns: int | None


@dataclass
class Run:
    """Everything the analysis needs from one run directory, in memory (no more I/O after)."""

    root: Path
    manifest: Manifest
    requests: pd.DataFrame
    probes: pd.DataFrame
    events: list[Event] = field(default_factory=list)
    #: ``responses.parquet`` when the run kept response bodies (else ``None``)
    responses: pd.DataFrame | None = None

    @property
    def faults(self) -> list[FaultWindow]:
        return fault_windows(self.events)

    def interrupted_signal(self) -> str | None:
        """``SIGINT``/``SIGTERM`` when the run was interrupted, else ``None``."""
        for event in self.events:
            if event.kind == "interrupted":
                return _signal_name(event.data.get("signal"))
        if self.manifest.status == "interrupted":
            return "SIGINT"
        return None


def _signal_name(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return "SIGTERM" if value == 15 else "SIGINT"
    text = str(value or "SIGINT").upper()
    return "SIGTERM" if "TERM" in text else "SIGINT"


def fault_windows(events: list[Event]) -> list[FaultWindow]:
    """Fault windows from ``fault_applied``/``fault_reverted`` events, sorted by start.

    The revert time is the last ``fault_reverted`` of a fault (a partial revert is retried).
    A command action (a migration under load, a restart) is a window too, from its first
    ``action_started`` to its last ``action_finished`` (one per target for per-target commands),
    so its impact is judged in phases of its own.
    """
    starts: dict[str, tuple[Event, dict[str, Any]]] = {}
    ends: dict[str, int] = {}
    for event in events:
        fault = event.data.get("fault")
        if not isinstance(fault, dict):
            continue
        fid = str(fault.get("id") or fault.get("label") or len(starts))
        # An apply that raised never took effect: its event carries the error, not a window.
        if event.kind == "fault_applied" and fid not in starts and "error" not in event.data:
            starts[fid] = (event, fault)
        elif event.kind == "fault_reverted":
            ends[fid] = event.t_ns
    windows = []
    for fid, (event, fault) in starts.items():
        kind = str(fault.get("kind") or "fault")
        dependency = str(fault.get("dependency") or "")
        label = str(fault.get("label") or f"{dependency} {kind}".strip())
        targets = tuple(str(t) for t in fault.get("targets") or ())
        windows.append(
            FaultWindow(fid, label, kind, dependency, targets, event.t_ns, ends.get(fid))
        )
    windows += action_windows(events)
    return sorted(windows, key=lambda w: w.start_ns)


@dataclass
class _ActionSpan:
    label: str
    targets: list[str] = field(default_factory=list)
    start_ns: int | None = None
    end_ns: int | None = None
    running: int = 0


def action_windows(events: list[Event]) -> list[FaultWindow]:
    """Windows of command actions: first start to last finish, over all their targets."""
    spans: dict[str, _ActionSpan] = {}
    for event in events:
        action = event.data.get("action")
        if not isinstance(action, dict) or event.kind not in ("action_started", "action_finished"):
            continue
        aid = str(action.get("id") or action.get("label") or "action")
        span = spans.setdefault(aid, _ActionSpan(label=str(action.get("label") or aid)))
        if event.kind == "action_started":
            span.start_ns = event.t_ns if span.start_ns is None else min(span.start_ns, event.t_ns)
            span.running += 1
            target = action.get("target")
            if target and str(target) not in span.targets:
                span.targets.append(str(target))
        else:
            span.end_ns = event.t_ns if span.end_ns is None else max(span.end_ns, event.t_ns)
            span.running -= 1
    return [
        FaultWindow(
            aid,
            span.label,
            "action",
            "",
            tuple(span.targets),
            span.start_ns,
            span.end_ns if span.running <= 0 else None,
        )
        for aid, span in spans.items()
        if span.start_ns is not None
    ]


def read_manifest(path: Path) -> Manifest:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Manifest.model_validate(data)
    except FileNotFoundError:
        raise InputError(f"{path}: no manifest.json: not a run directory") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read manifest: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{path}: {where}: {first['msg']}") from None


def read_events(path: Path) -> list[Event]:
    """Events in file order; a missing file is an empty list, a broken line an error."""
    if not path.exists():
        return []
    events = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                events.append(Event(int(data["t_ns"]), str(data["kind"]), data))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise InputError(f"{path}:{number}: bad event: {exc}") from None
    return events


def read_requests(path: Path) -> pd.DataFrame:
    """The request frame with compact dtypes (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        # Strings are read straight into dictionaries: millions of rows, a few distinct values.
        present = set(pq.read_schema(path).names)
        wanted = [*REQUEST_COLUMNS, *(c for c in SESSION_COLUMNS if c in present)]
        table = pq.read_table(
            path, columns=wanted, read_dictionary=list(DICTIONARY_COLUMNS)
        ).unify_dictionaries()
    except FileNotFoundError:
        raise InputError(f"{path}: no requests.parquet in the run directory") from None
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read requests: {exc}") from None
    # After unify_dictionaries every chunk shares one dictionary, so indices are hash codes.
    hashes = table.column("body_sha256")
    codes = pa.chunked_array(
        [pc.fill_null(chunk.indices.cast(pa.int32()), -1) for chunk in hashes.chunks],
        type=pa.int32(),
    )
    position = table.schema.get_field_index("body_sha256")
    table = table.set_column(position, "body_code", codes)
    frame: pd.DataFrame = table.to_pandas(self_destruct=True)
    frame["status"] = frame["status"].fillna(0).astype("int32")
    return frame


def read_probes(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        return empty_probes()
    try:
        frame: pd.DataFrame = pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read probes: {exc}") from None
    return frame


def read_responses(path: Path) -> pd.DataFrame | None:
    """``responses.parquet`` (``headers`` as lists of (name, value)), or ``None`` without it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        return None
    try:
        table = pq.read_table(path, read_dictionary=["target"])
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read responses: {exc}") from None
    missing = {"target", "idx", "due_ns", "status", "headers", "body"} - set(table.column_names)
    if missing:
        raise InputError(f"{path}: not a responses table: no column {sorted(missing)[0]!r}")
    frame: pd.DataFrame = table.to_pandas()
    frame["target"] = frame["target"].astype(str)
    pairs = [
        [(h["name"], h["value"]) for h in headers] if headers is not None else []
        for headers in frame["headers"]
    ]
    frame["headers"] = pd.Series(pairs, index=frame.index, dtype=object)
    if "body_truncated" not in frame:
        frame["body_truncated"] = False
    frame["body_truncated"] = frame["body_truncated"].fillna(False).astype(bool)
    return frame


def empty_probes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "t_ns": pd.Series([], dtype="int64"),
            "target": pd.Series([], dtype="object"),
            "probe": pd.Series([], dtype="object"),
            "value": pd.Series([], dtype="float64"),
        }
    )


def load_run(root: Path) -> Run:
    """Read a run directory; raises :class:`InputError` naming the file that is wrong."""
    paths = RunDir(Path(root))
    manifest = read_manifest(paths.manifest)
    return Run(
        root=paths.root,
        manifest=manifest,
        requests=read_requests(paths.requests),
        probes=read_probes(paths.probes),
        events=read_events(paths.events),
        responses=read_responses(paths.responses),
    )
