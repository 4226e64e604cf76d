"""A real multi-node Ray cluster on this machine for the tests (``ray.cluster_utils``).

The head has no CPUs, so every chunk runs on one of the worker nodes, each of
which stands for a different contributor's machine.  Ray picks free ports
(never the default 6379, which the machine's Redis holds).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass
class RayCluster:
    address: str
    worker_node_ids: list[str]


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False}
    )
    nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield RayCluster(cluster.address, [node.node_id for node in nodes])
    finally:
        ray.shutdown()
        cluster.shutdown()
