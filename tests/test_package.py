"""The public surface of the package and what importing it costs."""

import subprocess
import sys

import harness
from harness import errors


def test_all_is_sorted_and_exported() -> None:
    assert list(harness.__all__) == sorted(harness.__all__)
    for name in harness.__all__:
        assert hasattr(harness, name), name
    assert harness.judge.__module__ == "harness.analysis.verdict"


def test_public_api_does_not_pull_in_gevent() -> None:
    code = (
        "import sys, harness; [getattr(harness, n) for n in harness.__all__]; "
        "print(','.join(n for n in ('gevent', 'locust') if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_import_harness_does_not_import_gevent_or_locust() -> None:
    code = (
        "import sys, harness, harness.cli.main as m; m.build_parser(); "
        "bad = [n for n in ('gevent', 'locust', 'pandas', 'psycopg') if n in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_exit_codes_follow_the_design_table() -> None:
    assert errors.CaptureError("x").exit_code == 3
    assert errors.ScenarioError("x").exit_code == 3
    assert errors.StackFileError("x").exit_code == 3
    assert errors.ToxiproxyError("x").exit_code == 4
    assert errors.TargetError("x").exit_code == 4
    assert errors.UsageError("x").exit_code == 2
    assert errors.GateFailed("x").exit_code == 1
    assert errors.RunInvalid("x").exit_code == 5
    assert errors.Interrupted("x", signum=15).exit_code == 143
    assert errors.Interrupted("x", signum=2).exit_code == 130
    assert errors.InternalError("x").exit_code == 70
    assert errors.exit_code_for(ValueError()) == 70  # a bug: never 0, 1 or an input error
