"""Issue 14 item 1: node ownership was first come, first served.

The attack: any contributor could ``POST /v1/nodes`` with another machine's Ray node id
(a contributor's node seconds after it started, or the head's own node) and was then
credited for every chunk that node computed.

What must hold: a node registers only to whoever shows the registration secret whose
SHA-256 the node advertises as its Ray resource (``proverpool_node_<sha256>``, which
``proverpool join`` starts it with), only while the node is alive in Ray; the head's own
node belongs to the operator; nodes nobody registered get no chunks.
"""

from __future__ import annotations

from sqlmodel import Session, select

from pool_api.membership import registration_digest
from pool_api.store.models import ChunkRecord, Node
from pool_api.store.queries.contributors import OPERATOR_NAME
from pool_api.store.queries.nodes import register_operator_node
from workers.cluster.runtime import alive_node_resources

from ray_cluster import extra_workers, secret_of

FIXTURES = (extra_workers,)  # used as test arguments

WRONG_SECRET = "a-secret-mallory-made-up-" + "m" * 40


def _head_node_id(ray_cluster) -> str:
    alive = alive_node_resources(ray_cluster.address)
    assert alive is not None
    (head,) = [n for n, resources in alive.items() if "node:__internal_head__" in resources]
    return head


def _owners(api) -> dict[str, int]:
    return {n["ray_node_id"]: n["contributor_id"] for n in api.client.get("/v1/nodes").json()}


def test_another_contributors_live_node_cannot_be_claimed(make_api, ray_cluster):
    api = make_api(ray_address=ray_cluster.address)
    alice = api.add_contributor("alice")
    mallory = api.add_contributor("mallory")
    node = ray_cluster.worker_node_ids[0]

    # Mallory claims alice's freshly started node first, as the polling script did.
    claim = api.client.post("/v1/nodes", json={"ray_node_id": node}, headers=api.key(mallory))
    assert claim.status_code != 201, "a node was claimed without its registration secret"
    assert claim.status_code == 422  # the secret is required
    forged = {"ray_node_id": node, "registration_secret": WRONG_SECRET}
    claim = api.client.post("/v1/nodes", json=forged, headers=api.key(mallory))
    assert claim.status_code == 403, claim.text
    assert "only the machine that started a node can register it" in claim.json()["detail"]
    assert api.client.post("/v1/nodes", json=forged).status_code == 401  # a stranger
    assert _owners(api) == {}

    # The rightful owner registers with the secret its node was started with.
    first = api.register_node(alice, node, cpu_cores=1)
    assert first.status_code == 201, first.text
    again = api.register_node(alice, node, cpu_cores=2)  # idempotent, hardware updated
    assert again.status_code == 200 and again.json()["cpu_cores"] == 2
    # Even with alice's secret, mallory cannot take the node over.
    stolen = api.register_node(mallory, node)
    assert stolen.status_code == 409 and "another contributor" in stolen.json()["detail"]
    # One secret binds one node: alice's secret does not register another node.
    other = ray_cluster.worker_node_ids[1]
    reused = {"ray_node_id": other, "registration_secret": secret_of(node)}
    assert api.client.post("/v1/nodes", json=reused, headers=api.key(alice)).status_code == 409
    assert _owners(api) == {node: alice["id"]}


def test_the_heads_node_is_the_operators(make_api, ray_cluster):
    api = make_api(ray_address=ray_cluster.address)
    mallory = api.add_contributor("mallory")
    head = _head_node_id(ray_cluster)
    forged = {"ray_node_id": head, "registration_secret": WRONG_SECRET}
    claim = api.client.post("/v1/nodes", json=forged, headers=api.key(mallory))
    assert claim.status_code == 403, claim.text  # the head advertises no secret of hers
    assert _owners(api) == {}

    # `proverpool head --head-cpus N` registers it to the operator (pool_api/cli/head.py).
    with Session(api.state.engine) as session:
        register_operator_node(
            session,
            ray_node_id=head,
            registration_sha256=registration_digest("the head's own secret " + "h" * 32),
            cpu_cores=1,
        )
    claim = api.client.post("/v1/nodes", json=forged, headers=api.key(mallory))
    assert claim.status_code == 409 and "another contributor" in claim.json()["detail"]
    (owner,) = set(_owners(api).values())
    names = {c["id"]: c["name"] for c in api.client.get("/v1/contributors").json()}
    assert names[owner] == OPERATOR_NAME


def test_a_node_not_alive_in_ray_cannot_be_registered(make_api, extra_workers):
    api = make_api(ray_address=extra_workers.address)
    carol = api.add_contributor("carol")
    gone = extra_workers.add_worker(num_cpus=0)
    extra_workers.remove_worker(gone, graceful=True)
    refused = api.register_node(carol, gone.node_id)
    assert refused.status_code == 409, refused.text
    assert "not alive" in refused.json()["detail"]
    made_up = {"ray_node_id": "ab" * 28, "registration_secret": WRONG_SECRET}
    assert api.client.post("/v1/nodes", json=made_up, headers=api.key(carol)).status_code == 409
    assert _owners(api) == {}


def test_unregistered_nodes_get_no_chunks(pool, ray_cluster):
    registered, unregistered = ray_cluster.worker_node_ids
    pool.add_contributor("alice", registered)
    body = {"kind": "ntt", "field": "babybear", "values": [str(i) for i in range(256)]}
    created = pool.client.post("/v1/jobs", json=body, headers=pool.operator)
    assert created.status_code == 201, created.text
    job = pool.wait(created.json()["id"])
    assert job["status"] == "done", job
    with Session(pool.state.engine) as session:
        nodes = set(
            session.exec(
                select(ChunkRecord.ray_node_id).where(ChunkRecord.job_id == job["id"])
            ).all()
        )
        assert session.get(Node, unregistered) is None
    assert nodes == {registered}, f"chunks ran on the unregistered node {unregistered}"
