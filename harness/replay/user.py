"""The Locust user that replays a worker's shard: one per worker process.

Locust's runner (a ``LocalRunner``, or a ``WorkerRunner`` under a master) spawns one
:class:`ReplayUser` in each worker. Its only task runs the worker's
:class:`~harness.replay.dispatch.ShardRun` from the shared t0 to the end of the schedule, then
the user stops. Its ``client`` is the shard's
:class:`~harness.replay.connections.ReplaySession`, a Locust ``FastHttpSession``: every replayed
request fires the environment's ``request`` event, so Locust's stats, CSV and HTML reports, web
UI, listeners and plugins see the replay.

The shard is given to the class, not to a module global: :func:`replay_user_class` makes a
subclass bound to one ``ShardRun``; a master only needs the class name to dispatch users.
"""

from __future__ import annotations

from typing import Any, ClassVar

from locust import User, constant, task
from locust.exception import StopUser

from harness.replay.dispatch import ShardRun


class ReplayUser(User):
    """Replays the shard of this worker on the capture's schedule (open workload).

    One user per worker: its task sends nothing itself, it runs the dispatcher, which hands each
    request and target to a sender greenlet (:mod:`harness.replay.senders`). A second user
    spawned in the same worker stops at once.
    """

    wait_time = constant(0)
    #: the worker's shard; ``None`` in a master, which never runs users
    shard: ClassVar[ShardRun | None] = None

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        run = type(self).shard
        if run is not None:
            run.session.user = self
            self.client = run.session

    @task
    def replay_shard(self) -> None:
        """Run the shard to its end (or until stopped), then stop this user."""
        run = type(self).shard
        if run is None or not run.claim():
            raise StopUser
        try:
            run.run()
        except Exception as exc:  # the worker reports it; Locust must not run the task again
            self.environment.events.user_error.fire(
                user_instance=self, exception=exc, tb=exc.__traceback__
            )
        raise StopUser


def replay_user_class(run: ShardRun | None) -> type[ReplayUser]:
    """A :class:`ReplayUser` class bound to ``run`` (named ``ReplayUser`` for the master)."""
    return type("ReplayUser", (ReplayUser,), {"shard": run, "__module__": __name__})
