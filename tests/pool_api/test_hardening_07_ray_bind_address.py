"""Issue 14 item 7: Ray listens only on the interface the operator chose.

The fault: after ``proverpool head --host 127.0.0.1`` Ray's GCS, raylet, agents and the
unauthenticated metrics endpoint listened on every interface (``*``/``0.0.0.0``), and
Ray advertised the machine's external address.

What must hold: the Ray head binds to ``--ray-host`` (default: the API's ``--host``), so
with ``--host 127.0.0.1`` no process of the head — uvicorn, the GCS, the raylet, the
agents, the workers, the API's own Ray driver after it ran a job — listens on anything
but loopback, and the Ray address the head uses is the loopback one.  Sockets are read
from ``/proc`` for every process carrying the head's marker (tests/pool_api/head_process.py).
The ports Ray opens, and what each exposes, are listed in docs/threat-model.md §7.
"""

from __future__ import annotations

import re

from head_process import is_loopback_address, listening_sockets, process_name, start_head

FIXTURES = (start_head,)  # used as test arguments


def test_head_on_loopback_keeps_ray_on_loopback(start_head):
    head = start_head("--host", "127.0.0.1", "--head-cpus", "1")
    # A job, so that the API process's own Ray driver (and a worker) listen too.
    job = head.run_job({"kind": "ntt", "field": "babybear", "values": [1, 2, 3, 4]})
    assert job["status"] == "done", job
    sockets = listening_sockets(head.pids())
    assert len(sockets) >= 4, sockets  # uvicorn, GCS, raylet, agents at least
    exposed = [
        (pid, process_name(pid), address, port)
        for pid, address, port in sockets
        if not is_loopback_address(address)
    ]
    assert exposed == [], "\n".join(map(str, exposed))
    announced = re.search(r"Ray head: (\S+):(\d+)", head.log.read_text())
    assert announced and announced.groups() == ("127.0.0.1", str(head.ray_port)), (
        head.log.read_text()[-2000:]
    )
