"""Issue 15, acceptance in the lab, as a user would run it: ``proverpool head`` on one host,
two ``proverpool join``s on two others behind 100 Mbit/s links.

One pool for the module (a head and two joins take tens of seconds on 2 cores):

* Ray listens only on the address each host was asked to use (item 2): on the head's and
  the contributors' lab addresses (and loopback), never on a wildcard, never on alice's
  second network card.
* A contributor that advertises an address the pool cannot route to (eve, an address
  that exists only on a dead-end interface of her own) is told so in one line and
  ``join`` exits non-zero within 60 s; her node is never registered (item 3).
* A Groth16 proof that ``snarkjs groth16 verify`` accepts, both contributors credited;
  then bob's machine dies (every process in his namespace SIGKILLed) mid-proof, and the
  next proof still completes, verified, each chunk credited once.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator

import pytest
from lab import Lab
from lab_pool import LabPool

from pool_api.ray_bind import build_shim
from workers.cluster.costs import MSM_POINT_WEIGHT
from workers.groth16 import read_zkey

from snarkjs_tools import FIXTURES, snarkjs_verify

pytestmark = pytest.mark.timeout(400)
LINK_MBIT = 100
UNROUTABLE = "10.232.0.5"  # exists only on eve's dead-end interface
SECOND_NIC = "10.99.0.2"  # alice's second network card: Ray must not listen there
CIRCUIT = "chain12"
HEAD_ENV = {
    "PROVERPOOL_MSM_MIN_CHUNK_POINTS": "64",  # a small circuit still splits over both nodes
    "PROVERPOOL_TEST_MODE": "true",  # bob's chunks are slowed down (below)
    # Link-aware plans keep a proof this small on one node (and bob's slowed chunks make
    # him the slow one): plan link-blind so both contributors get chunks.
    "PROVERPOOL_LINK_AWARE": "false",
}
BOB_ENV = {"PROVERPOOL_TEST_SLOWDOWN_FACTOR": "3"}  # his chunks are in flight when he dies


@pytest.fixture(scope="module")
def pool() -> Iterator[LabPool]:
    profile = {"head": None, "alice": LINK_MBIT, "bob": LINK_MBIT, "eve": LINK_MBIT}
    with Lab(profile_mbit=profile) as lab:
        lab.add_address("alice", f"{SECOND_NIC}/24")
        lab.add_address("eve", f"{UNROUTABLE}/24")
        pool = LabPool(lab, env=HEAD_ENV)
        pool.join("alice", invite=pool.invite)  # the invite the head printed
        pool.join("bob", env=BOB_ENV)
        pool.nodes = pool.wait_online(["alice", "bob"], 240)
        yield pool


def test_ray_listens_only_on_the_addresses_it_was_given(pool):
    if build_shim() is None:
        pytest.skip("no C compiler to build pool_api.ray_bind's shim: Ray listens everywhere")
    lab = pool.lab
    for host in ("head", "alice", "bob"):
        allowed = {lab.address(host), "127.0.0.1", "::1"}
        sockets = lab.listening(host)
        assert len(sockets) >= 5, sockets  # GCS or raylet, object manager, agents ...
        stray = [
            (address, port, process)
            for address, port, process in sockets
            if _plain(address) not in allowed
        ]
        assert stray == [], f"{host}: listening beyond {sorted(allowed)}: {stray}"
    nodes = pool.get("/v1/nodes")
    assert len(nodes) == 2


def _plain(address: str) -> str:
    """``::ffff:a.b.c.d`` as ``a.b.c.d``; ``*`` and ``0.0.0.0`` as they are."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


def test_a_node_the_pool_cannot_reach_is_told_so_at_join(pool):
    started = time.monotonic()
    eve = pool.join("eve", "--node-ip-address", UNROUTABLE)
    code = eve.wait(90)
    elapsed = time.monotonic() - started
    log = pool.joins["eve"][1].read_text()
    assert code != 0, log[-3000:]
    assert elapsed < 60, (elapsed, log[-3000:])
    (line,) = [x for x in log.splitlines() if x.startswith("proverpool join:")]
    assert UNROUTABLE in line and "cannot reach" in line, line
    assert "deploy/wireguard/README.md" in line and "10002-19999" in line, line
    assert "Traceback" not in log
    # Never registered (so never given a chunk), and join stopped its Ray node.
    names = {c["id"]: c["name"] for c in pool.get("/v1/contributors")}
    assert sorted(names[n["contributor_id"]] for n in pool.get("/v1/nodes")) == ["alice", "bob"]
    deadline = time.monotonic() + 10
    while pool.lab.pids("eve") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pool.lab.pids("eve") == []


def _expected_work_units() -> int:
    """The five MSMs of a proof (workers.cluster.costs): A, B1, C, H on G1, B2 on G2."""
    zkey = read_zkey((FIXTURES / f"{CIRCUIT}.zkey").read_bytes())
    g1 = 2 * zkey.n_vars + (zkey.n_vars - zkey.n_public - 1) + zkey.domain_size
    return g1 * MSM_POINT_WEIGHT["bn254_g1"] + zkey.n_vars * MSM_POINT_WEIGHT["bn254_g2"]


def _submit(pool: LabPool, zkey_hash: str, witness: str) -> str:
    status, body = pool.request(
        "POST", f"/v1/jobs?kind=groth16&zkey={zkey_hash}", FIXTURES / witness
    )
    assert status == 201, body
    return body["id"]


def _verified(pool: LabPool, job: dict, tmp_path) -> None:
    assert job["status"] == "done", job
    proof = pool.get(f"/v1/jobs/{job['id']}/proof")
    vkey = FIXTURES / f"{CIRCUIT}.vkey.json"
    done = snarkjs_verify(pool.snarkjs, vkey, proof["proof"], proof["public"], tmp_path)
    assert done.returncode == 0 and "OK" in done.stdout, (done.stdout, done.stderr)


def _work(pool: LabPool) -> dict[str, int]:
    return {name: c["work_units"] for name, c in pool.contributors().items()}


def test_groth16_over_two_contributors_survives_one_dying(pool, snarkjs, tmp_path):
    pool.snarkjs = snarkjs
    status, body = pool.request("POST", "/v1/zkeys", FIXTURES / f"{CIRCUIT}.zkey")
    assert status in (200, 201), body
    zkey_hash = body["hash"]
    expected = _expected_work_units()

    # Both contributors prove, both are credited, exactly the proof's work in all.
    job = pool.watch(_submit(pool, zkey_hash, f"{CIRCUIT}.w1.wtns"), "done", 180)
    _verified(pool, job, tmp_path)
    first = _work(pool)
    assert first["alice"] > 0 and first["bob"] > 0, first
    assert first["alice"] + first["bob"] == expected, (first, expected)

    # Bob's machine dies mid-proof: the proof completes on alice, credited once.
    job_id = _submit(pool, zkey_hash, f"{CIRCUIT}.w2.wtns")
    running = pool.watch(job_id, "progress", 120)
    assert running["status"] == "running", running  # not done yet: bob's chunks in flight
    assert running["progress"]["chunks_done"] < running["progress"]["chunks_total"], running
    killed = pool.lab.kill_host("bob")
    assert killed, "bob had no processes to kill"
    job = pool.watch(job_id, "done", 180)
    _verified(pool, job, tmp_path)
    second = _work(pool)
    gained = {name: second[name] - first[name] for name in ("alice", "bob")}
    assert gained["alice"] > 0, gained
    assert gained["alice"] + gained["bob"] == expected, (gained, expected)
