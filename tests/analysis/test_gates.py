"""The gates configuration model: strict, with durations and defaults."""

import pytest
from pydantic import ValidationError

from harness.analysis.gates import GatesConfig, default_gates, parse_gates
from harness.errors import ScenarioError


def test_design_example_parses() -> None:
    gates = parse_gates(
        {
            "error_rate": {"max_increase_pp": 1.0},
            "latency_p99": {"max_ratio": 1.25},
            "retry_amplification": {"max_ratio": 1.5},
            "recovery_time": {"max": "10s"},
            "cascade": {"max_error_rate": 0.01},
        }
    )
    assert gates.recovery_time is not None and gates.recovery_time.max == 10.0
    assert gates.retry_amplification is not None
    assert gates.retry_amplification.probes() == ["postgres_attempts", "db_attempts"]
    assert gates.enabled() == [
        "error_rate",
        "latency_p99",
        "retry_amplification",
        "recovery_time",
        "cascade",
    ]
    assert gates.recovery_phase_s() == 10.0


def test_durations_in_seconds_from_a_manifest() -> None:
    gates = parse_gates({"recovery_time": {"max": 2.5, "sustain": "500ms"}})
    assert gates.recovery_time is not None
    assert (gates.recovery_time.max, gates.recovery_time.sustain) == (2.5, 0.5)


def test_unknown_gate_is_an_error_naming_it() -> None:
    with pytest.raises(ScenarioError, match="errro_rate"):
        parse_gates({"errro_rate": {"max_increase_pp": 1}}, source="s.yaml gates")


def test_unknown_option_and_bad_values_are_errors() -> None:
    with pytest.raises(ScenarioError, match="max_increase"):
        parse_gates({"error_rate": {"max_increase": 1}})
    with pytest.raises(ScenarioError, match="relative_to"):
        parse_gates({"error_rate": {"max_increase_pp": 1, "relative_to": "moon"}})
    with pytest.raises(ScenarioError, match=r"recovery_time\.max"):
        parse_gates({"recovery_time": {"max": "soon"}})
    with pytest.raises(ValidationError):
        GatesConfig.model_validate({"cascade": {"max_error_rate": 2}})


def test_no_gates_means_the_defaults() -> None:
    assert parse_gates(None) == default_gates()
    assert parse_gates({}).enabled() == ["error_rate", "latency_p99"]


def test_noise_relative_variant() -> None:
    gates = parse_gates({"latency_p99": {"max_ratio": 1.2, "relative_to": "noise"}})
    assert gates.latency_p99 is not None and gates.latency_p99.relative_to == "noise"


def test_amplification_probes_in_order_of_preference() -> None:
    gates = parse_gates({"retry_amplification": {"max_ratio": 2, "probe": ["mine", "theirs"]}})
    assert gates.retry_amplification is not None
    assert gates.retry_amplification.probes() == ["mine", "theirs"]
    with pytest.raises(ScenarioError, match=r"retry_amplification\.probe"):
        parse_gates({"retry_amplification": {"max_ratio": 2, "probe": []}})
