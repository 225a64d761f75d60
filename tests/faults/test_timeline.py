"""The timeline on a short clock against a real toxiproxy-server: events, actions, cleanup."""

import signal
import sys
import time
from pathlib import Path

import pytest

from harness.errors import FaultError, InternalError, ToxiproxyError
from harness.faults.actions import ActionContext, ActionTarget
from harness.faults.events import EventLog, read_events
from harness.faults.timeline import FaultTarget, FaultTimeline
from harness.scenario.model import (
    CommandAction,
    DownFault,
    LatencyFault,
    PartitionFault,
    TimelineEntry,
)
from harness.stack.toxiproxy import ToxiproxyClient
from tests.faults.conftest import Proxied
from tests.waiting import event_count, wait_until


def _targets(proxied: Proxied) -> list[FaultTarget]:
    return [FaultTarget(t, {"postgres": p}) for t, p in proxied.proxies.items()]


def _assert_clean(proxied: Proxied) -> None:
    for proxy in proxied.proxies.values():
        info = proxied.client.get_proxy(proxy)
        assert info.enabled and info.toxics == [], info


def test_timeline_applies_reverts_and_records(proxied: Proxied, tmp_path: Path) -> None:
    entries: list[TimelineEntry] = [
        DownFault(kind="down", at=0.3, **{"for": 0.5}),
        LatencyFault(kind="latency", at=1.0, latency_ms=100, targets=["candidate"], **{"for": 0.4}),
        CommandAction(at=0.2, run="echo hello from {target.name}"),
    ]
    ctx = ActionContext(
        run_dir=tmp_path,
        scenario_dir=tmp_path,
        targets={t: ActionTarget(t, url=f"http://{t}") for t in proxied.proxies},
    )
    t0 = time.time_ns()
    log = EventLog(tmp_path / "events.jsonl", t0)
    events_path = tmp_path / "events.jsonl"
    with FaultTimeline(entries, proxied.client, _targets(proxied), log, t0_ns=t0, actions=ctx):
        assert wait_until(lambda: event_count(events_path, "fault_applied") == 1)
        down_proxy = proxied.client.get_proxy(proxied.proxies["baseline"])
        assert {t.type for t in down_proxy.toxics} == {"reset_peer"}
        assert wait_until(
            lambda: (
                event_count(events_path, "fault_reverted") == 2
                and event_count(events_path, "action_finished") == 2
            )
        )
    log.close()
    _assert_clean(proxied)
    events = read_events(tmp_path / "events.jsonl")
    kinds = [(e["kind"], e.get("fault", e.get("action", {})).get("id")) for e in events]
    assert sorted(kinds) == sorted(
        [("action_started", "a1")] * 2
        + [("action_finished", "a1")] * 2
        + [("fault_applied", "f1"), ("fault_reverted", "f1")]
        + [("fault_applied", "f2"), ("fault_reverted", "f2")]
    )
    faults = [k for k in kinds if k[0].startswith("fault")]
    assert faults == [
        ("fault_applied", "f1"),
        ("fault_reverted", "f1"),
        ("fault_applied", "f2"),
        ("fault_reverted", "f2"),
    ]
    assert [e["t_ns"] for e in events] == sorted(e["t_ns"] for e in events)
    by = {(e["kind"], e.get("fault", {}).get("id")): e for e in events}
    applied = by[("fault_applied", "f1")]
    assert applied["fault"]["label"] == "postgres down"
    assert applied["fault"]["targets"] == ["baseline", "candidate"]
    assert (applied["fault"]["at_s"], applied["fault"]["for_s"]) == (0.3, 0.5)
    assert applied["verified"]["check"] == "connect_cut" and applied["verified"]["ok"]
    assert 0.3e9 <= applied["t_ns"] < 0.3e9 + 0.5e9  # measured, after its scheduled time
    reverted = by[("fault_reverted", "f1")]
    assert reverted["verified"]["check"] == "answered" and reverted["verified"]["ok"]
    assert reverted["reason"] == "scheduled"
    assert 0.8e9 <= reverted["t_ns"] < 1.0e9 + 0.5e9
    latency = by[("fault_applied", "f2")]
    assert latency["fault"]["targets"] == ["candidate"]
    assert latency["proxies"] == [proxied.proxies["candidate"]]
    assert latency["verified"]["check"] == "round_trip"
    assert latency["verified"]["per_target"]["candidate"]["measured_ms"] >= 80
    finished = [e for e in events if e["kind"] == "action_finished"]
    assert {e["exit_status"] for e in finished} == {0}
    assert {e["action"]["target"] for e in finished} == {"baseline", "candidate"}
    assert (tmp_path / "actions" / "a1-candidate.log").read_text() == "hello from candidate\n"


def test_exception_in_the_body_reverts_everything(proxied: Proxied, tmp_path: Path) -> None:
    entries: list[TimelineEntry] = [
        DownFault(kind="down", at=0.1, targets=["baseline"], **{"for": 30}),
        PartitionFault(kind="partition", at=0.1, targets=["candidate"], **{"for": 30}),
        LatencyFault(kind="latency", at=0.2, latency_ms=50, stack=True, **{"for": 30}),
    ]
    t0 = time.time_ns()
    api = proxied.client
    with (
        EventLog(tmp_path / "events.jsonl", t0) as log,
        pytest.raises(RuntimeError, match="boom"),
        FaultTimeline(entries, api, _targets(proxied), log, t0_ns=t0),
    ):
        assert wait_until(lambda: event_count(tmp_path / "events.jsonl", "fault_applied") == 3)
        raise RuntimeError("boom")
    _assert_clean(proxied)
    events = read_events(tmp_path / "events.jsonl")
    reverted = [e for e in events if e["kind"] == "fault_reverted"]
    assert sorted(e["fault"]["id"] for e in reverted) == ["f1", "f2", "f3"]
    assert {e["reason"] for e in reverted} == {"error"}
    assert all(e["verified"]["ok"] for e in reverted)


def test_command_timeout_kills_it_and_fails_the_run(proxied: Proxied, tmp_path: Path) -> None:
    entries: list[TimelineEntry] = [
        CommandAction(at=0, run=f"{sys.executable} -c 'import time; time.sleep(30)'", timeout=0.5)
    ]
    ctx = ActionContext(run_dir=tmp_path, scenario_dir=tmp_path)
    t0 = time.time_ns()
    with (
        EventLog(tmp_path / "events.jsonl", t0) as log,
        pytest.raises(FaultError, match=r"action a1 timed out after 0\.5s"),
        FaultTimeline(entries, proxied.client, [], log, t0_ns=t0, actions=ctx) as timeline,
    ):
        assert timeline.failed.wait(10)
    finished = [e for e in read_events(tmp_path / "events.jsonl") if e["kind"] == "action_finished"]
    assert len(finished) == 1
    assert finished[0]["timed_out"] is True
    assert finished[0]["exit_status"] == -signal.SIGTERM  # killed by the timeout's SIGTERM
    assert finished[0]["duration_s"] < 5


def test_a_failing_action_stops_the_run_and_reverts(proxied: Proxied, tmp_path: Path) -> None:
    entries: list[TimelineEntry] = [
        DownFault(kind="down", at=0, **{"for": 30}),
        CommandAction(at=0.2, run="echo 'relation \"payments\" does not exist' >&2; exit 3"),
    ]
    ctx = ActionContext(
        run_dir=tmp_path,
        scenario_dir=tmp_path,
        targets={t: ActionTarget(t, url=f"http://{t}") for t in proxied.proxies},
    )
    t0 = time.time_ns()
    with (
        EventLog(tmp_path / "events.jsonl", t0) as log,
        pytest.raises(FaultError) as caught,
        FaultTimeline(entries, proxied.client, _targets(proxied), log, t0_ns=t0, actions=ctx) as tl,
    ):
        assert tl.failed.wait(10)
    message = str(caught.value)
    assert message.startswith("action a1 exited with status 3 (`echo")
    assert f'output {tmp_path / "actions" / "a1.log"}: relation "payments" does not exist' in (
        message
    )
    _assert_clean(proxied)
    reverted = [e for e in read_events(tmp_path / "events.jsonl") if e["kind"] == "fault_reverted"]
    assert [(e["fault"]["id"], e["reason"]) for e in reverted] == [("f1", "end")]


def test_a_bug_in_the_timeline_thread_stops_the_run_with_its_traceback(
    proxied: Proxied, tmp_path: Path
) -> None:
    # what lint must refuse, got past it: the thread once died on it and the run went on
    nan = DownFault.model_construct(kind="down", at=0.0, for_=float("nan"), targets=None)
    entries: list[TimelineEntry] = [nan]  # applied at 0; its revert time cannot be computed
    t0 = time.time_ns()
    with (
        EventLog(tmp_path / "events.jsonl", t0) as log,
        pytest.raises(
            InternalError, match=r"fault-timeline: ValueError: cannot convert float NaN"
        ) as e,
        FaultTimeline(entries, proxied.client, _targets(proxied), log, t0_ns=t0) as timeline,
    ):
        assert timeline.failed.wait(10)
    applied = [e for e in read_events(tmp_path / "events.jsonl") if e["kind"] == "fault_applied"]
    assert [e["fault"]["id"] for e in applied] == ["f1"]  # it was on, and is reverted now:
    _assert_clean(proxied)
    saved = e.value.traceback_path
    assert saved is not None and Path(saved).parent == tmp_path
    assert "in _wait_until" in Path(saved).read_text()


def test_unreachable_toxiproxy_fails_the_run(proxied: Proxied, tmp_path: Path) -> None:
    dead = ToxiproxyClient("http://127.0.0.1:9", timeout=1.0)
    entries: list[TimelineEntry] = [DownFault(kind="down", at=0, **{"for": 1})]
    t0 = time.time_ns()
    with (
        EventLog(tmp_path / "events.jsonl", t0) as log,
        pytest.raises(ToxiproxyError, match=r"127\.0\.0\.1:9"),
        FaultTimeline(entries, dead, _targets(proxied), log, t0_ns=t0) as timeline,
    ):
        assert timeline.failed.wait(5)
    dead.close()


def test_started_when_the_replay_fixes_t0(proxied: Proxied, tmp_path: Path) -> None:
    entries: list[TimelineEntry] = [DownFault(kind="down", at=0.1, **{"for": 0.2})]
    log = EventLog(tmp_path / "events.jsonl", t0_ns=0)
    with FaultTimeline(entries, proxied.client, _targets(proxied), log, t0_ns=None) as timeline:
        time.sleep(0.3)  # the replay is still getting ready: nothing may happen yet
        assert proxied.client.get_proxy(proxied.proxies["baseline"]).enabled
        t0 = time.time_ns()
        timeline.start(t0)  # what the replay's on_t0 callback does
        assert wait_until(lambda: event_count(tmp_path / "events.jsonl", "fault_reverted") == 1)
    log.close()
    _assert_clean(proxied)
    events = read_events(tmp_path / "events.jsonl")
    assert [e["kind"] for e in events] == ["fault_applied", "fault_reverted"]
    assert 0.1e9 <= events[0]["t_ns"] < 0.4e9
    assert log.t0_ns == t0


def test_unknown_target_fails_before_anything_is_applied(proxied: Proxied, tmp_path: Path) -> None:
    entries: list[TimelineEntry] = [
        DownFault(kind="down", at=0, **{"for": 1}),
        DownFault(kind="down", at=0.5, targets=["canary"], **{"for": 1}),
    ]
    t0 = time.time_ns()
    with (
        EventLog(tmp_path / "events.jsonl", t0) as log,
        pytest.raises(FaultError, match="unknown target 'canary'"),
        FaultTimeline(entries, proxied.client, _targets(proxied), log, t0_ns=t0) as timeline,
    ):
        assert timeline.failed.wait(5)
    _assert_clean(proxied)
    assert read_events(tmp_path / "events.jsonl") == []
