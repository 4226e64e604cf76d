"""Locust users for ``bench/load.py`` (run by it; not on its own).

``PROVERPOOL_LOAD_PLAN`` names a JSON file with the contributors' API keys and
node ids and the job ids to read; ``PROVERPOOL_LOAD_SCENARIO`` is
``heartbeat`` or ``status``.  Users send requests back to back (no wait).
"""

from __future__ import annotations

import itertools
import json
import os

from locust import FastHttpUser, task

PLAN = json.loads(open(os.environ["PROVERPOOL_LOAD_PLAN"]).read())  # noqa: SIM115
SCENARIO = os.environ.get("PROVERPOOL_LOAD_SCENARIO", "heartbeat")
_NODES = itertools.cycle(PLAN["nodes"])
_JOBS = itertools.cycle(PLAN["jobs"])


class HeartbeatUser(FastHttpUser):
    """A node's heartbeat loop: ``POST /v1/nodes/{id}/heartbeat`` with its owner's key."""

    abstract = SCENARIO != "heartbeat"

    def on_start(self) -> None:
        node = next(_NODES)
        self.path = f"/v1/nodes/{node['ray_node_id']}/heartbeat"
        self.headers = {"Authorization": f"Bearer {node['api_key']}"}

    @task
    def heartbeat(self) -> None:
        self.client.post(self.path, headers=self.headers, name="heartbeat")


class StatusUser(FastHttpUser):
    """A client following its job: ``GET /v1/jobs/{id}`` (anonymous)."""

    abstract = SCENARIO != "status"

    def on_start(self) -> None:
        self.path = f"/v1/jobs/{next(_JOBS)}"

    @task
    def status(self) -> None:
        self.client.get(self.path, name="job status")
