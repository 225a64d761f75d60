"""A replay worker asks for a higher CPU priority, and says whether it got it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = (
    "import os\n"
    "from harness.replay.priority import NICE, raise_priority\n"
    "print(raise_priority(), os.getpriority(os.PRIO_PROCESS, 0))\n"
)


def _run(*prefix: str) -> tuple[str, int]:
    done = subprocess.run(
        [*prefix, sys.executable, "-c", CODE], capture_output=True, text=True, check=True
    )
    raised, nice = done.stdout.split()
    return raised, int(nice)


@pytest.mark.skipif(os.geteuid() != 0, reason="raising a priority needs root (CAP_SYS_NICE)")
def test_root_gets_the_raised_priority() -> None:
    assert _run() == ("True", -10)


def test_without_the_privilege_the_worker_keeps_its_priority_and_says_so() -> None:
    if os.geteuid() == 0:
        # drop the privilege for the child: run it as nobody
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        prefix = []
    assert _run(*prefix) == ("False", os.getpriority(os.PRIO_PROCESS, 0))


def test_the_part_file_writer_lowers_its_own_thread_only() -> None:
    import threading

    from harness.replay.priority import WRITER_NICER, lower_this_thread

    seen: dict[str, int | bool] = {}

    def writer() -> None:
        seen["lowered"] = lower_this_thread()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = os.getpriority(os.PRIO_PROCESS, 0)
    thread = threading.Thread(target=writer)
    thread.start()
    thread.join()
    assert seen == {"lowered": True, "nice": min(19, before + WRITER_NICER)}
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the calling thread keeps its own
