"""Build run directories with known answers, following the contract of harness.rundir.

A :class:`SyntheticRun` schedules the same requests (same ``idx``, same due time) for every
target, like the replay engine does, and each target's :class:`Behaviour` decides status,
latency, body and dependency attempts per request from the phase it falls in. Error draws use
exact shares (every k-th request), not random ones, so tests can assert exact numbers.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from harness.rundir import PROBES_SCHEMA, RESPONSES_SCHEMA, RunDir, requests_table


@dataclass(frozen=True)
class Fault:
    at_s: float
    for_s: float
    label: str = "postgres down"
    kind: str = "down"
    reverted: bool = True


@dataclass(frozen=True)
class Behaviour:
    """How one target responds; error shares are exact fractions of the requests."""

    error: float = 0.0
    fault_error: float = 0.0  # on dependent routes during a fault
    independent_fault_error: float = 0.0  # on independent routes during a fault
    recovery_s: float = 0.0  # errors continue at fault_error this long after the fault
    recovery_error: float | None = None  # ... or at this share instead
    recovery_latency_ms: float | None = None  # latency in that tail (all routes)
    latency_ms: float = 20.0
    fault_latency_ms: float | None = None
    attempts: float = 1.0  # dependency attempts per dependent request
    fault_attempts: float = 1.0
    body_change: float = 0.0  # share of requests whose body differs from the baseline's
    changed_field: str = "amount"  # the JSON field a changed body differs in
    flaky: float = 0.0  # share of requests whose `cache` header says "miss" (a noisy field)
    # POST /payments mints a payment id from a sequence (`$.payment_id` and its Location):
    # from request ``serial_shift_at`` on, this target's ids are ``serial_shift`` further on
    # (a rolled-back insert consumed sequence values)
    serial_shift: int = 0
    serial_shift_at: int = 0
    serial_text: bool = False  # the id as a JSON string
    location_prefix: str = "/payments/"
    amount: int = 100  # `$.amount` of every response (the same in all of them)
    # `$.balance_cents` of /payments: different in every response, in no order (a balance of
    # a different account each time), plus this
    balance_delta: int = 0
    # requests due during a fault leave this much later: their sessions waited for earlier,
    # slow answers (a phase takes a request by its due time moved by that wait)
    fault_wait_ms: float = 0.0
    slow: tuple[int, ...] = ()  # requests (by idx) that take ``slow_ms`` (a busy machine's)
    slow_ms: float = 300.0


@dataclass
class SyntheticRun:
    duration_s: float = 60.0
    rate: float = 50.0
    routes: tuple[str, ...] = ("/payments", "/payments/{id}", "/health", "/catalog")
    independent: tuple[str, ...] = ("/health", "/catalog")
    faults: list[Fault] = field(default_factory=list)
    gates: dict[str, Any] | None = None
    valid: bool = True
    status: str = "complete"
    interrupted_signal: str | None = None
    probe: str = "postgres_attempts"
    seed: int = 1
    #: write responses.parquet: JSON bodies with a per-target timestamp and request id (noise)
    responses: bool = False
    #: the build each target ran (manifest ``targets.NAME.build``), when known
    builds: dict[str, str] = field(default_factory=dict)
    targets: dict[str, tuple[str, Behaviour]] = field(default_factory=dict)

    def target(self, name: str, role: str, behaviour: Behaviour | None = None) -> SyntheticRun:
        self.targets[name] = (role, behaviour or Behaviour())
        return self

    def _schedule(self) -> tuple[np.ndarray, np.ndarray]:
        count = int(self.duration_s * self.rate)
        due = (np.arange(count) * (1e9 / self.rate)).astype(np.int64)
        routes = np.arange(count) % len(self.routes)
        return due, routes

    def _fault_state(self, due: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per request: in a fault, in a target's recovery tail (seconds since end), index."""
        during = np.zeros(len(due), dtype=bool)
        since_end = np.full(len(due), np.inf)
        for fault in self.faults:
            start, end = int(fault.at_s * 1e9), int((fault.at_s + fault.for_s) * 1e9)
            during |= (due >= start) & (due < end)
            after = due >= end
            since_end[after] = np.minimum(since_end[after], (due[after] - end) / 1e9)
        return during, since_end, np.arange(len(due))

    def requests_for(self, name: str, behaviour: Behaviour) -> dict[str, Any]:
        due, route_idx = self._schedule()
        during, since_end, index = self._fault_state(due)
        independent = np.isin(np.array(self.routes)[route_idx], self.independent)
        share = np.full(len(due), behaviour.error)
        share[during & ~independent] = behaviour.fault_error
        share[during & independent] = behaviour.independent_fault_error
        in_tail = (since_end < behaviour.recovery_s) & ~during
        tail = in_tail & ~independent
        share[tail] = (
            behaviour.fault_error if behaviour.recovery_error is None else behaviour.recovery_error
        )
        failed = _exact(share, index)
        latency = np.full(len(due), behaviour.latency_ms)
        if behaviour.fault_latency_ms is not None:
            latency[during] = behaviour.fault_latency_ms
        if behaviour.recovery_latency_ms is not None:
            latency[in_tail] = behaviour.recovery_latency_ms
        # A little deterministic spread so percentiles and rank tests have something to rank.
        latency = latency * (1 + 0.2 * ((index * 7919) % 101) / 100)
        latency[list(behaviour.slow)] = behaviour.slow_ms
        status = np.where(failed, 503, 200).astype(np.int32)
        wait_ms = np.where(during, behaviour.fault_wait_ms, 0.0)
        changed = _exact(np.full(len(due), behaviour.body_change), index + 3)
        if self.responses:
            kept = self.responses_for(name, behaviour, failed, route_idx, changed)
            bodies = [_sha(body.decode()) for body in kept["body"]]
        else:
            bodies = [
                None if f else _sha(f"{self.routes[r]}:{i % 97}:{'x' if c else ''}")
                for f, r, i, c in zip(failed, route_idx, index, changed, strict=True)
            ]
        return {
            "target": [name] * len(due),
            "idx": index.astype(np.int64),
            "route": [self.routes[r] for r in route_idx],
            "method": ["GET"] * len(due),
            "due_ns": due,
            "sent_ns": due + (wait_ms * 1e6).astype(np.int64) + 300_000,
            "wait_ms": wait_ms,
            "lag_ms": np.full(len(due), 0.3),
            "latency_ms": latency - 0.3,
            "latency_corrected_ms": latency,
            "status": status,
            "error": ["none"] * len(due),
            "bytes": np.full(len(due), 120, dtype=np.int64),
            "body_sha256": bodies,
        }

    def responses_for(
        self,
        name: str,
        behaviour: Behaviour,
        failed: np.ndarray,
        route_idx: np.ndarray,
        changed: np.ndarray,
    ) -> dict[str, Any]:
        """Bodies and headers as a real service writes them: JSON, with a timestamp and a
        request id that differ on every target (noise), and the build's own changes."""
        due, _ = self._schedule()
        salt = sum(map(ord, name))  # each target its own clock skew and ids
        # spread over routes alike: a scrambled order, not every k-th request
        flaky = ((np.arange(len(due)) * 7919 + salt) % 1000) < behaviour.flaky * 1000
        headers, bodies = [], []
        for i in range(len(due)):
            stamp = 1_700_000_000 + int(due[i] // 1_000_000_000) + (salt % 3)
            request_id = str(uuid.UUID(int=(salt << 64) + i))
            when = datetime.fromtimestamp(stamp, tz=UTC)
            head = [
                ("Content-Type", "application/json"),
                ("Date", when.strftime("%a, %d %b %Y %H:%M:%S GMT")),
                ("X-Request-Id", request_id),
                ("Cache", "miss" if flaky[i] else "hit"),
            ]
            if failed[i]:
                document: dict[str, Any] = {"error": "database unavailable"}
            else:
                document = {
                    "id": i % 97,
                    "route": self.routes[route_idx[i]],
                    "amount": behaviour.amount,
                    "created_at": when.isoformat(),
                    "request_id": request_id,
                    "items": [{"sku": "a", "at": when.isoformat()}, {"sku": "b"}],
                }
                if self.routes[route_idx[i]] == "/payments":
                    serial = 1000 + i
                    if i >= behaviour.serial_shift_at:
                        serial += behaviour.serial_shift
                    document["payment_id"] = str(serial) if behaviour.serial_text else serial
                    balance = int(_sha(f"balance:{i}")[:8], 16)
                    document["balance_cents"] = balance + behaviour.balance_delta
                    head.append(("Location", f"{behaviour.location_prefix}{serial}"))
                if changed[i]:
                    document[behaviour.changed_field] = "changed"
            bodies.append(json.dumps(document).encode())
            headers.append([{"name": n, "value": v} for n, v in head])
        return {
            "target": [name] * len(due),
            "idx": np.arange(len(due), dtype=np.int64),
            "due_ns": due,
            "status": np.where(failed, 503, 200).astype(np.int32),
            "headers": headers,
            "body": bodies,
            "body_truncated": [False] * len(due),
        }

    def probes_for(self, name: str, behaviour: Behaviour) -> dict[str, Any]:
        due, route_idx = self._schedule()
        during, _, _ = self._fault_state(due)
        dependent = ~np.isin(np.array(self.routes)[route_idx], self.independent)
        per_request = np.where(during, behaviour.fault_attempts, behaviour.attempts) * dependent
        seconds = np.arange(0, int(self.duration_s) + 2)
        counter = [float(per_request[due < s * 1e9].sum()) for s in seconds]
        return {
            "t_ns": (seconds * 1_000_000_000).astype(np.int64),
            "target": [name] * len(seconds),
            "probe": [self.probe] * len(seconds),
            "value": counter,
        }

    def manifest(self) -> dict[str, Any]:
        return {
            "format_version": 1,
            "run_id": "synthetic",
            "t0_ns": 1_700_000_000_000_000_000,
            "speed": 1.0,
            "seed": self.seed,
            "host": "test",
            "command": ["harness", "run"],
            "status": self.status,
            "capture": {"path": None, "requests": int(self.duration_s * self.rate)},
            "targets": {
                name: {
                    "url": f"http://127.0.0.1:{18000 + i}",
                    "role": role,
                    "build": self.builds.get(name),
                }
                for i, (name, (role, _)) in enumerate(self.targets.items())
            },
            "scenario": {
                "name": "synthetic",
                "independent_routes": list(self.independent),
                "gates": self.gates,
            },
            "versions": {
                "harness": "0.1.0",
                "toxiproxy": "2.12.0",
                "postgres": "16",
                "locust": "2.47",
            },
            "validity": {
                "valid": self.valid,
                "reasons": [] if self.valid else ["send lag p99 85.0 ms > 10 ms"],
                "lag_p99_ms": 0.8 if self.valid else 85.0,
            },
        }

    def events(self) -> list[dict[str, Any]]:
        names = list(self.targets)
        out: list[dict[str, Any]] = [{"t_ns": 0, "kind": "run_started"}]
        for number, fault in enumerate(self.faults, start=1):
            info = {
                "id": f"f{number}",
                "label": fault.label,
                "kind": fault.kind,
                "dependency": "postgres",
                "targets": names,
                "at_s": fault.at_s,
                "for_s": fault.for_s,
            }
            # Measured times lag the scheduled ones slightly, as in a real run.
            out.append(
                {"t_ns": int(fault.at_s * 1e9) + 2_000_000, "kind": "fault_applied", "fault": info}
            )
            if fault.reverted:
                out.append(
                    {
                        "t_ns": int((fault.at_s + fault.for_s) * 1e9) + 3_000_000,
                        "kind": "fault_reverted",
                        "fault": info,
                    }
                )
        if self.interrupted_signal:
            out.append(
                {
                    "t_ns": int(self.duration_s * 1e9),
                    "kind": "interrupted",
                    "signal": self.interrupted_signal,
                }
            )
        else:
            out.append({"t_ns": int(self.duration_s * 1e9), "kind": "run_finished"})
        return out

    def write(self, root: Path) -> Path:
        paths = RunDir(root)
        root.mkdir(parents=True, exist_ok=True)
        paths.manifest.write_text(json.dumps(self.manifest(), indent=2))
        paths.events.write_text("".join(json.dumps(e) + "\n" for e in self.events()))
        tables = [requests_table(self.requests_for(n, b)) for n, (_, b) in self.targets.items()]
        pq.write_table(pa.concat_tables(tables), paths.requests)
        probes = [
            pa.table(self.probes_for(n, b), schema=PROBES_SCHEMA)
            for n, (_, b) in self.targets.items()
        ]
        pq.write_table(pa.concat_tables(probes), paths.probes)
        if self.responses:
            kept = [
                pa.table(self._kept(n, b), schema=RESPONSES_SCHEMA)
                for n, (_, b) in self.targets.items()
            ]
            pq.write_table(pa.concat_tables(kept), paths.responses)
        return root

    def _kept(self, name: str, behaviour: Behaviour) -> dict[str, Any]:
        rows = self.requests_for(name, behaviour)
        changed = _exact(np.full(len(rows["idx"]), behaviour.body_change), rows["idx"] + 3)
        route_idx = rows["idx"] % len(self.routes)
        return self.responses_for(name, behaviour, rows["status"] >= 500, route_idx, changed)


def _exact(share: np.ndarray, index: np.ndarray) -> np.ndarray:
    """True for an exact ``share`` of requests, spread evenly (Bresenham-like)."""
    return np.floor((index + 1) * share) > np.floor(index * share)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def demo_like(candidate: Behaviour, gates: dict[str, Any] | None = None) -> SyntheticRun:
    """The shape of the demo's db-kill run: production build fails DB routes fast with 503."""
    run = SyntheticRun(duration_s=60, rate=40, faults=[Fault(20, 15)], gates=gates)
    run.target("baseline", "baseline", Behaviour(error=0.0, fault_error=1.0, latency_ms=15))
    run.target("candidate", "candidate", candidate)
    return run


DEMO_GATES: dict[str, Any] = {
    "error_rate": {"max_increase_pp": 1.0},
    "latency_p99": {"max_ratio": 1.25},
    "retry_amplification": {"max_ratio": 1.5},
    "recovery_time": {"max": "10s"},
    "cascade": {"max_error_rate": 0.01},
}
