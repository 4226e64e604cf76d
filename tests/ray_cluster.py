"""A real multi-node Ray cluster on this machine for the tests (``ray.cluster_utils``).

The head has no CPUs, so every chunk runs on one of the worker nodes, each of
which stands for a different contributor's machine.  Ray picks free ports
(never the default 6379, which the machine's Redis holds).

One cluster per test session (each start costs seconds on 2 cores): two base
worker nodes live for the whole session; a test that needs more — a cheater,
a straggler, a node to kill — adds them with :meth:`RayCluster.add_worker`
(optionally with environment variables for that node's raylet and workers)
through the ``extra_workers`` fixture, which removes whatever is left of them
afterwards.

Every worker node is started as ``proverpool join`` starts one: with the registration
resource ``proverpool_node_<sha256 of its secret>``; the base nodes' secrets are fixed
(:data:`BASE_SECRETS`), an added node's is random unless given.  :func:`secret_of`
gives a node's secret, which ``POST /v1/nodes`` needs (tests/pool_api/pool_client.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

BASE_SECRETS = ("test-node-secret-base-0-" + "0" * 40, "test-node-secret-base-1-" + "1" * 40)
"""Registration secrets of the session's two base worker nodes."""
_SECRETS: dict[str, str] = {}
NO_SECRET = "not-the-secret-of-any-node-" + "x" * 37
"""What :func:`secret_of` answers for a node started without a registration resource."""


def secret_of(node_id: str) -> str:
    """The registration secret the node was started with (:data:`NO_SECRET` if none)."""
    return _SECRETS.get(node_id, NO_SECRET)


def _resources(secret: str | None) -> dict[str, float]:
    from pool_api.membership import registration_resource

    return {} if secret is None else {registration_resource(secret): 1}


@dataclass
class RayCluster:
    address: str
    worker_node_ids: list[str]
    cluster: Any = None
    added: list[Any] = field(default_factory=list)

    def add_worker(
        self,
        env_vars: dict[str, str] | None = None,
        num_cpus: int = 1,
        *,
        num_gpus: int | None = None,
        registration_secret: str | None = "",
    ) -> Any:
        """A new worker node (a ``ray._private.node.Node``; ``.node_id`` is its Ray id),
        started with the registration resource of ``registration_secret`` (a random one
        by default; ``None``: no registration resource at all)."""
        secret = secrets.token_hex(32) if registration_secret == "" else registration_secret
        node = self.cluster.add_node(
            num_cpus=num_cpus,
            env_vars=env_vars or {},
            resources=_resources(secret),
            **({} if num_gpus is None else {"num_gpus": num_gpus}),
        )
        self.cluster.wait_for_nodes()
        self.added.append(node)
        if secret is not None:
            _SECRETS[node.node_id] = secret
        return node

    def remove_worker(self, node: Any, *, graceful: bool) -> None:
        """Stop a node added by a test: SIGTERM first if ``graceful``, else SIGKILL at once."""
        if node in self.added:
            self.added.remove(node)
            self.cluster.remove_node(node, allow_graceful=graceful)

    def remove_added(self) -> None:
        for node in list(self.added):
            self.remove_worker(node, graceful=False)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False}
    )
    nodes = [cluster.add_node(num_cpus=1, resources=_resources(s)) for s in BASE_SECRETS]
    cluster.wait_for_nodes()
    _SECRETS.update((node.node_id, s) for node, s in zip(nodes, BASE_SECRETS, strict=True))
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield RayCluster(cluster.address, [node.node_id for node in nodes], cluster)
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture
def extra_workers(ray_cluster: RayCluster) -> Iterator[RayCluster]:
    """The session cluster; nodes a test adds are removed (SIGKILL) when it ends."""
    try:
        yield ray_cluster
    finally:
        ray_cluster.remove_added()
