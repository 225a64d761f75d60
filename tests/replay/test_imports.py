"""The orchestrating side of the replay never imports gevent or locust (workers do)."""

import subprocess
import sys


def test_orchestrator_modules_do_not_import_gevent_or_locust() -> None:
    code = (
        "import sys\n"
        "import harness.replay, harness.replay.engine, harness.replay.processes\n"
        "import harness.replay.plan, harness.replay.results, harness.replay.validity\n"
        "import harness.cli.replay, harness.cli.worker\n"
        "print(','.join(n for n in ('gevent', 'locust', 'geventhttpclient') if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
