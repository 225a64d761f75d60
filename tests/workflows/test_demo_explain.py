"""What `harness demo` prints to explain a verdict: the most telling gates, first."""

from harness.analysis.model import GateResult, Verdict
from harness.workflows.demo import explain


def _verdict(status: str, gates: dict[str, str]) -> Verdict:
    return Verdict(
        status=status,  # type: ignore[arg-type]
        reason="r",
        baseline="v2.3.1",
        candidate="hotfix-naive",
        gates=[
            GateResult(name=name, status=state, limit="x", reason=f"{name} because")  # type: ignore[arg-type]
            for name, state in gates.items()
        ],
    )


def test_failed_gates_most_telling_first() -> None:
    verdict = _verdict(
        "fail",
        {
            "error_rate": "fail",
            "latency_p99": "fail",
            "retry_amplification": "fail",
            "recovery_time": "pass",
            "cascade": "fail",
        },
    )
    assert explain(verdict) == [
        "retry_amplification: retry_amplification because",
        "cascade: cascade because",
    ]


def test_a_pass_is_explained_by_errors_and_amplification() -> None:
    verdict = _verdict(
        "pass", {"latency_p99": "pass", "error_rate": "pass", "retry_amplification": "pass"}
    )
    assert [line.split(":")[0] for line in explain(verdict)] == [
        "error_rate",
        "retry_amplification",
    ]
