"""The lab's HTTP client, run inside the head's namespace (the test process, in the root
namespace, has no route to the lab): one request, or watching a job.

``python client.py request METHOD PATH [BODY]``: ``BODY`` is JSON, or ``@FILE`` for a
binary body (``application/octet-stream``) with the query string in ``PATH``; prints
``{"status": …, "body": …}``.  ``python client.py watch JOB_ID UNTIL TIMEOUT``: polls
the job every 50 ms until ``UNTIL`` (``progress``: at least one chunk done; ``done``: a
final status) and prints the job.  ``PP_URL`` is the pool's URL, ``PP_TOKEN`` the
bearer token.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import httpx

FINAL = {"done", "failed", "cancelled"}


def _client() -> httpx.Client:
    headers = {"Authorization": f"Bearer {os.environ['PP_TOKEN']}"}
    return httpx.Client(base_url=os.environ["PP_URL"], headers=headers, timeout=60)


def request(method: str, path: str, body: str | None = None) -> None:
    kwargs: dict = {}
    if body is not None and body.startswith("@"):
        kwargs["content"] = Path(body[1:]).read_bytes()
        kwargs["headers"] = {"Content-Type": "application/octet-stream"}
    elif body is not None:
        kwargs["json"] = json.loads(body)
    with _client() as client:
        response = client.request(method, path, **kwargs)
    try:
        answer = response.json()
    except ValueError:
        answer = response.text
    print(json.dumps({"status": response.status_code, "body": answer}))


def watch(job_id: str, until: str, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    job: dict = {}
    with _client() as client:
        while time.monotonic() < deadline:
            job = client.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in FINAL:
                break
            if until == "progress" and job["progress"]["chunks_done"] > 0:
                break
            time.sleep(0.05)
    print(json.dumps(job))


if __name__ == "__main__":
    if sys.argv[1] == "request":
        request(*sys.argv[2:])
    else:
        watch(sys.argv[2], sys.argv[3], float(sys.argv[4]))
