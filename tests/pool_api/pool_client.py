"""The tests' handle on a running pool application: its client, settings and tokens."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi.testclient import TestClient

from pool_api.settings import Settings

from ray_cluster import secret_of

FINAL_STATUSES = ("done", "failed", "cancelled")


@dataclass
class Pool:
    client: TestClient
    settings: Settings
    operator: dict[str, str]
    wait_timeout_seconds: float = 120
    """How long :meth:`wait` waits for a job unless told otherwise."""

    @property
    def state(self):
        return self.client.app.state.pool

    def key(self, contributor: dict) -> dict[str, str]:
        return {"Authorization": f"Bearer {contributor['api_key']}"}

    def add_contributor(self, name: str, node_id: str | None = None) -> dict:
        created = self.client.post("/v1/contributors", json={"name": name}, headers=self.operator)
        assert created.status_code == 201, created.text
        body = created.json()
        if node_id is not None:
            registered = self.register_node(body, node_id)
            assert registered.status_code == 201, registered.text
        return body

    def register_node(self, contributor: dict, node_id: str, **hardware: object):
        """``POST /v1/nodes`` as ``contributor`` with the node's registration secret (the one
        the test cluster started it with, tests/ray_cluster.py); the response."""
        body = {"ray_node_id": node_id, "registration_secret": secret_of(node_id), **hardware}
        return self.client.post("/v1/nodes", json=body, headers=self.key(contributor))

    def add_workers(self, node_ids: list[str], prefix: str = "worker") -> list[dict]:
        """One contributor per node (``<prefix>-<i>``), each owning its node: only registered
        nodes get chunks."""
        return [self.add_contributor(f"{prefix}-{i}", node) for i, node in enumerate(node_ids)]

    def submit(self, body: dict) -> str:
        created = self.client.post("/v1/jobs", json=body, headers=self.operator)
        assert created.status_code == 201, created.text
        return created.json()["id"]

    def wait(self, job_id: str, timeout_seconds: float | None = None) -> dict:
        deadline = time.monotonic() + (timeout_seconds or self.wait_timeout_seconds)
        while time.monotonic() < deadline:
            job = self.client.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in FINAL_STATUSES:
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish: {job}")
