"""Raw Locust FastHttpUser for the throughput benchmark: no schedule, no result rows, no waits."""

from locust import FastHttpUser, constant, task


class RawUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/items/1?page=1", headers={"Accept": "application/json"})
