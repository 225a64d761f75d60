"""Analysis: pure pandas functions from a run directory to a Verdict.

- :mod:`~harness.analysis.gates` — the scenario's ``gates:`` model (strict; embedded by scenarios)
- :mod:`~harness.analysis.frames` — read a run directory (manifest, requests, probes, events)
- :mod:`~harness.analysis.phases` — before / during / recovery / after each measured fault
- :mod:`~harness.analysis.metrics` — error rate, percentiles, amplification, recovery, pairing
- :mod:`~harness.analysis.stats` — Wilson/Newcombe intervals, Mann-Whitney U, p99 bootstrap
- :mod:`~harness.analysis.checks`, :mod:`~harness.analysis.latency`,
  :mod:`~harness.analysis.dependency` — one function per gate
- :mod:`~harness.analysis.verdict` — ``judge(run) -> Verdict`` and ``exit_code(verdict)``

Only :mod:`~harness.analysis.frames` reads files; everything after it works on memory.
"""
