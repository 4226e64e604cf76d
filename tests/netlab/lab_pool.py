"""A pool in the lab as a user runs it: ``proverpool head`` on one host, the printed
``proverpool join`` on others, HTTP from a client on the head's host (issue 15).

The test process lives in the root namespace, which has no route into the lab: every
request goes through ``client.py`` run on the head's host (:meth:`LabPool.request`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from lab import Lab

CLIENT = Path(__file__).with_name("client.py")
API_PORT = 8000
RAY_PORT = 6380  # the lab's hosts have ports of their own: fixed ports collide with nothing


def proverpool() -> str:
    return str(Path(sys.executable).with_name("proverpool"))


class LabPool:
    """``proverpool head`` on ``head`` (API and Ray on its lab address)."""

    def __init__(self, lab: Lab, head: str = "head", env: dict[str, str] | None = None) -> None:
        self.lab = lab
        self.head = head
        self.url = f"http://{lab.address(head)}:{API_PORT}"
        self.data_dir = lab.host(head).home / "data"
        self.log = lab.host(head).home / "head.log"
        argv = [
            proverpool(), "head", "--host", lab.address(head), "--port", API_PORT,
            "--ray-port", RAY_PORT, "--data-dir", self.data_dir,
        ]  # fmt: skip
        self.process = lab.popen(head, argv, env=env, log=self.log)
        self.invite = self._wait_invite(180)
        self.operator_token = (self.data_dir / "operator_token").read_text().strip()
        self.joins: dict[str, tuple[subprocess.Popen, Path]] = {}

    def _wait_invite(self, timeout_seconds: float) -> str:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            found = re.search(r"proverpool join (\S+) --invite (\S+)", self.log.read_text())
            if found:
                assert found.group(1) == self.url, found.group(0)
                return found.group(2)
            if self.process.poll() is not None:
                break
            time.sleep(0.3)
        raise AssertionError(f"the head did not come up:\n{self.log.read_text()[-3000:]}")

    # -- HTTP, from the head's host ------------------------------------------------------
    def request(
        self, method: str, path: str, body: object = None, token: str | None = None
    ) -> tuple[int, object]:
        """``(status, JSON body)``; ``body``: JSON, or a :class:`Path` sent as bytes."""
        argv = [sys.executable, CLIENT, "request", method, path]
        if isinstance(body, Path):
            argv.append(f"@{body}")
        elif body is not None:
            argv.append(json.dumps(body))
        env = {"PP_URL": self.url, "PP_TOKEN": token or self.operator_token}
        done = self.lab.run(self.head, argv, env=env, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        answer = json.loads(done.stdout)
        return answer["status"], answer["body"]

    def get(self, path: str) -> object:
        status, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return body

    def new_invite(self) -> str:
        status, body = self.request("POST", "/v1/invites")
        assert status == 201, body
        return body["invite"]  # type: ignore[index]

    def watch(self, job_id: str, until: str, timeout_seconds: float) -> dict:
        """The job once ``until`` (``progress`` or ``done``) holds, or at the timeout."""
        argv = [sys.executable, CLIENT, "watch", job_id, until, timeout_seconds]
        env = {"PP_URL": self.url, "PP_TOKEN": self.operator_token}
        done = self.lab.run(self.head, argv, env=env, timeout=timeout_seconds + 60)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout)

    # -- contributors --------------------------------------------------------------------
    def join(
        self, host: str, *extra: str, invite: str | None = None, env: dict | None = None
    ) -> subprocess.Popen:
        """``proverpool join URL --invite …`` on ``host`` (its own data dir and name)."""
        log = self.lab.host(host).home / "join.log"
        argv = [
            proverpool(), "join", self.url, "--invite", invite or self.new_invite(),
            "--name", host, "--num-cpus", "1", "--no-gpu", *extra,
        ]  # fmt: skip
        process = self.lab.popen(host, argv, env={"COLUMNS": "200", **(env or {})}, log=log)
        self.joins[host] = (process, log)
        return process

    def wait_online(self, hosts: list[str], timeout_seconds: float) -> dict[str, dict]:
        """Each host's node once all are registered and online: host → node."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            names = {c["id"]: c["name"] for c in self.get("/v1/contributors")}  # type: ignore[union-attr]
            nodes = {
                names.get(n["contributor_id"]): n
                for n in self.get("/v1/nodes")  # type: ignore[union-attr]
                if n["status"] == "online"
            }
            if all(h in nodes for h in hosts):
                return {h: nodes[h] for h in hosts}
            for host in hosts:
                process, log = self.joins[host]
                assert process.poll() is None, f"join on {host} exited:\n{log.read_text()[-3000:]}"
            time.sleep(1)
        logs = "\n".join(f"--- {h}:\n{self.joins[h][1].read_text()[-2000:]}" for h in hosts)
        raise AssertionError(f"nodes not online within {timeout_seconds} s\n{logs}")

    def contributors(self) -> dict[str, dict]:
        return {c["name"]: c for c in self.get("/v1/contributors")}  # type: ignore[union-attr]
