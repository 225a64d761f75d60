"""How often the verdicts of ``scenarios/db-kill.yaml``'s own gates are right on the demo builds.

Each run replays the scenario on the embedded stack with three targets at once: the production
build ``v2.3.1`` as baseline, a second copy of it (an A/A pair: every fail is a false fail) and
one known build whose verdict is known (``hotfix-naive``, ``-hang``, ``-leak``, ``-backoff``
must fail; ``hotfix-safe``, ``-slower`` must pass). ``--runs N`` runs per known build, so
``6 x N`` runs give ``6 x N`` A/A verdicts and ``N`` of each build. Counted per build: pass,
fail, inconclusive, invalid (the load generator could not hold the schedule: not judged);
false fails = A/A or known-good builds failed, false passes = known-bad builds passed.

    .venv/bin/python benchmarks/verdict_accuracy.py --runs 5 --out /tmp/verdict-accuracy

``--rejudge OUT`` judges the run directories kept by ``--keep`` again with the gates of the
checkout it runs from (a change of a gate, measured on the same traffic).

Each run's verdicts go to ``OUT/results.jsonl`` as they come (with the load average before and
after), so an interrupted benchmark keeps what it measured; the run directories are deleted
after judging unless ``--keep``. The summary (``OUT/summary.json``, and printed) gives each
rate with its Wilson interval. About 90 s a run on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.analysis.frames import load_run  # noqa: E402
from harness.analysis.model import Verdict  # noqa: E402
from harness.analysis.stats import wilson  # noqa: E402
from harness.analysis.verdict import judge  # noqa: E402
from harness.scenario.stackfile import TargetSpec  # noqa: E402
from harness.workflows.run import RunRequest, run_scenario  # noqa: E402

BASELINE = "v2.3.1"
COPY = "v2.3.1-copy"
EXPECTED: dict[str, str] = {
    "hotfix-naive": "fail",
    "hotfix-hang": "fail",
    "hotfix-leak": "fail",
    "hotfix-backoff": "fail",
    "hotfix-safe": "pass",
    "hotfix-slower": "pass",
    COPY: "pass",
}


def scenario_copy(folder: Path, source: Path, lag_bound_ms: float | None) -> Path:
    """``source`` with absolute paths (and another lag bound when asked), in ``folder``."""
    text = source.read_text(encoding="utf-8")
    text = text.replace("../captures/", f"{ROOT}/captures/").replace(
        "../examples/", f"{ROOT}/examples/"
    )
    if lag_bound_ms is not None:
        text += f"lag_bound_ms: {lag_bound_ms:g}\n"
    path = folder / source.name
    path.write_text(text, encoding="utf-8")
    return path


def one_run(scenario: Path, run_dir: Path, build: str) -> dict[str, object]:
    """Replay baseline, A/A copy and ``build`` at once; their verdicts and the load."""
    targets = {
        BASELINE: TargetSpec(build=BASELINE, role="baseline"),
        COPY: TargetSpec(build=BASELINE, role="candidate"),
        build: TargetSpec(build=build, role="candidate"),
    }
    load_before = os.getloadavg()
    started = time.monotonic()
    outcome = run_scenario(
        RunRequest(scenario=scenario, run_dir=run_dir, targets=targets, baseline=BASELINE)
    )
    verdicts = {c.verdict.candidate: entry(c.verdict) for c in outcome.comparisons}
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    validity = manifest.get("validity") or {}
    return {
        "build": build,
        "seconds": round(time.monotonic() - started, 1),
        "lag_p99_ms": validity.get("lag_p99_ms"),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "verdicts": verdicts,
    }


def entry(verdict: Verdict) -> dict[str, object]:
    """What results.jsonl keeps of one verdict."""
    return {
        "status": verdict.status,
        "failed": [g.name for g in verdict.gates if g.status == "fail"],
        "inconclusive": [g.name for g in verdict.gates if g.status == "inconclusive"],
        "reason": verdict.reason,
        "invalid": verdict.invalid_reasons,
    }


def rejudge(folder: Path) -> list[dict[str, object]]:
    """The verdicts of the run directories kept in ``folder`` (``--keep``), judged again by
    this checkout's gates (the scenario's own, as stored in each manifest): a change of a gate
    measured on the same traffic."""
    results = []
    for run_dir in sorted(folder.glob("run-*")):
        run = load_run(run_dir)
        candidates = sorted({str(t) for t in run.requests["target"].unique()} - {BASELINE})
        verdicts = {
            name: entry(judge(run, baseline=BASELINE, candidate=name)) for name in candidates
        }
        statuses = {name: verdict["status"] for name, verdict in verdicts.items()}
        print(f"{run_dir.name}: {statuses}", flush=True)
        results.append({"build": run_dir.name.split("-", 2)[-1], "verdicts": verdicts})
    return results


def failed_gates(results: list[dict[str, object]]) -> dict[str, dict[str, int]]:
    """Per build: how many of its verdicts each gate failed."""
    counts: dict[str, dict[str, int]] = {}
    for result in results:
        verdicts = result["verdicts"]
        assert isinstance(verdicts, dict)
        for name, verdict in verdicts.items():
            row = counts.setdefault(name, {})
            for gate in verdict["failed"]:
                row[gate] = row.get(gate, 0) + 1
    return counts


def gates_status(verdict: dict[str, object]) -> str:
    """The verdict the gates gave, whether or not the run was valid."""
    if verdict["failed"]:
        return "fail"
    return "inconclusive" if verdict["inconclusive"] else "pass"


def summarise(results: list[dict[str, object]], *, gates_only: bool = False) -> dict[str, object]:
    """Per build: counts by status; false fails / false passes over the judged verdicts.

    ``gates_only``: count what the gates said even for runs that were invalid (the load
    generator fell behind: every target of the run late alike), to separate the accuracy of the
    gates from the validity of the replay on a loaded machine.
    """
    counts: dict[str, dict[str, int]] = {}
    for result in results:
        verdicts = result["verdicts"]
        assert isinstance(verdicts, dict)
        for name, verdict in verdicts.items():
            row = counts.setdefault(name, {"pass": 0, "fail": 0, "inconclusive": 0, "invalid": 0})
            status = gates_status(verdict) if gates_only else str(verdict["status"])
            row[status if status in row else "invalid"] += 1
    summary: dict[str, object] = {"builds": counts}
    good = [n for n, e in EXPECTED.items() if e == "pass" and n in counts]
    bad = [n for n, e in EXPECTED.items() if e == "fail" and n in counts]
    for label, names, wrong in (("false_fail", good, "fail"), ("false_pass", bad, "pass")):
        k = sum(counts[n][wrong] for n in names)
        n = sum(counts[n]["pass"] + counts[n]["fail"] for n in names)
        low, high = wilson(k, n) if n else (0.0, 1.0)
        summary[label] = {"count": k, "of": n, "rate": k / n if n else None, "ci95": [low, high]}
    aa = counts.get(COPY, {})
    aa_judged = aa.get("pass", 0) + aa.get("fail", 0)
    low, high = wilson(aa.get("fail", 0), aa_judged) if aa_judged else (0.0, 1.0)
    summary["aa_false_fail"] = {
        "count": aa.get("fail", 0),
        "of": aa_judged,
        "rate": aa.get("fail", 0) / aa_judged if aa_judged else None,
        "ci95": [low, high],
    }
    total = sum(sum(row.values()) for row in counts.values())
    unsure = sum(row["inconclusive"] for row in counts.values())
    invalid = sum(row["invalid"] for row in counts.values())
    summary["inconclusive_rate"] = unsure / total if total else None
    summary["invalid_rate"] = invalid / total if total else None
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per known build (default 5)")
    parser.add_argument(
        "--builds", nargs="+", default=[b for b in EXPECTED if b != COPY], help="known builds"
    )
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "db-kill.yaml")
    parser.add_argument("--lag-bound-ms", type=float, help="another send-lag bound for the runs")
    parser.add_argument("--out", type=Path, default=Path("/tmp/verdict-accuracy"))
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    parser.add_argument(
        "--summarise", type=Path, metavar="RESULTS", help="only summarise a results.jsonl"
    )
    parser.add_argument(
        "--rejudge",
        type=Path,
        metavar="OUT",
        help="judge the run directories kept in OUT (by --keep) again with this checkout's gates",
    )
    args = parser.parse_args()
    if args.rejudge is not None:
        results = rejudge(args.rejudge)
        again = {"verdicts": summarise(results), "failed_gates": failed_gates(results)}
        print(json.dumps(again, indent=2))
        return 0
    if args.summarise is not None:
        lines = args.summarise.read_text(encoding="utf-8").splitlines()
        loaded = [json.loads(line) for line in lines if line]
        both = {"verdicts": summarise(loaded), "gates_only": summarise(loaded, gates_only=True)}
        print(json.dumps(both, indent=2))
        return 0
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    unknown = [b for b in args.builds if b not in EXPECTED]
    if unknown:
        parser.error(f"no known verdict for {unknown} (known: {sorted(EXPECTED)})")
    args.out.mkdir(parents=True, exist_ok=True)
    scenario = scenario_copy(args.out, args.scenario, args.lag_bound_ms)
    log = args.out / "results.jsonl"
    results = []
    # Interleaved (naive, hang, ..., naive, hang, ...): a slow hour hits every build alike.
    for number in range(args.runs):
        for build in args.builds:
            run_dir = args.out / f"run-{number + 1:02d}-{build}"
            shutil.rmtree(run_dir, ignore_errors=True)
            result = one_run(scenario, run_dir, build)
            results.append(result)
            with log.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(result) + "\n")
            verdicts = result["verdicts"]
            assert isinstance(verdicts, dict)
            statuses = {name: verdict["status"] for name, verdict in verdicts.items()}
            print(f"{run_dir.name}: {statuses} load {result['load_before']}", flush=True)
            if not args.keep:
                shutil.rmtree(run_dir, ignore_errors=True)
    summary = {"verdicts": summarise(results), "gates_only": summarise(results, gates_only=True)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
