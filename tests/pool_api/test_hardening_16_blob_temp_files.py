"""Issue 14 item 16: concurrent writes of one new blob never collide.

Fault: the blob store wrote ``<sha>.tmp<pid>`` and renamed it, a temporary name shared by
every thread of the process: two requests storing the same new body at once wrote the
same temporary file, and the second rename found it gone (3 of 100 concurrent identical
job submissions answered 500).  What must hold: 100 concurrent identical submissions
(and some different ones) over real HTTP all answer 2xx, every job's blob holds exactly
its body (0600), and no temporary file is left behind; and threads released together
storing one new blob all succeed (on the old code 110 of 640 such puts, 40 rounds, raised
FileNotFoundError; over HTTP the collision is rarer, the server spacing the writes).
"""

from __future__ import annotations

import hashlib
import stat
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

from pool_api.store.blobs import BlobStore

BABYBEAR_P = 15 * 2**27 + 1
ELEMENTS = 1 << 18  # 1 MiB bodies: long enough writes for threads to overlap
IDENTICAL = 100
DIFFERENT = 4
ROUNDS = 3
THREADS = 48
BARRIER_ROUNDS = 20


def _body(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return rng.integers(0, BABYBEAR_P, ELEMENTS, dtype=np.uint32).astype("<u4").tobytes()


def test_concurrent_identical_bodies_all_stored(serve):
    base_url, app = serve(max_body_bytes=1 << 22)
    seed = int.from_bytes(hashlib.sha256(base_url.encode()).digest()[:4], "little")
    headers = {
        "Authorization": f"Bearer {app.state.pool.settings.resolved_operator_token}",
        "Content-Type": "application/octet-stream",
    }
    answers, stored = [], set()
    with (
        httpx.Client(base_url=base_url, timeout=120, headers=headers) as client,
        ThreadPoolExecutor(max_workers=THREADS) as pool,
    ):

        def submit(body: bytes) -> tuple[int, str]:
            answer = client.post(
                "/v1/jobs", params={"kind": "ntt", "field": "babybear"}, content=body
            )
            return answer.status_code, answer.text

        for round_number in range(ROUNDS):  # each round a body the store has never seen
            same = _body(seed + 1000 * round_number)
            bodies = [same] * IDENTICAL
            bodies += [_body(seed + 1000 * round_number + 1 + i) for i in range(DIFFERENT)]
            answers += list(pool.map(submit, bodies))
            stored |= set(bodies)

    failed = [(code, text[:200]) for code, text in answers if not 200 <= code < 300]
    assert not failed, f"{len(failed)} of {len(answers)} submissions failed: {failed[:3]}"
    blobs = app.state.pool.blobs
    for body in stored:
        sha256 = hashlib.sha256(body).hexdigest()
        assert blobs.get(sha256) == body
        assert stat.S_IMODE(blobs._path(sha256).stat().st_mode) == 0o600
    leftovers = [p.name for p in blobs.root.rglob("*") if p.is_file() and ".tmp" in p.name]
    assert leftovers == []


def test_threads_storing_one_new_blob_at_once(tmp_path):
    """The same race without HTTP around it: threads released together by a barrier."""
    store = BlobStore(tmp_path / "blobs")
    threads_per_round, errors = 16, []
    for round_number in range(BARRIER_ROUNDS):
        data = _body(round_number)[: 1 << 20]
        barrier = threading.Barrier(threads_per_round)

        def put(data: bytes = data, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                assert store.put(data) == hashlib.sha256(data).hexdigest()
            except Exception as exc:  # collected: the test reports them all
                errors.append(repr(exc))

        workers = [threading.Thread(target=put) for _ in range(threads_per_round)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert store.get(hashlib.sha256(data).hexdigest()) == data
    puts = BARRIER_ROUNDS * threads_per_round
    assert errors == [], f"{len(errors)} of {puts} puts failed: {errors[:3]}"
