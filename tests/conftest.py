"""Shared fixtures.

Databases: ``db_url`` runs a test once on SQLite (a temp file) and once on
PostgreSQL (a fresh, uniquely named database on the server of
``PROVERPOOL_TEST_POSTGRES_URL``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``,
dropped afterwards; skipped with the reason when the server is unreachable).
``engine`` creates every registered SQLModel table there; ``session`` is a
:class:`sqlmodel.Session` on it.

pytest-xdist (the README's command runs ``-n 2 --dist loadfile --no-loadscope-reorder -m
"not alone"``, then the few ``alone`` tests by themselves):
every worker has its own Ray cluster (the session fixture), temp dirs and PostgreSQL
databases, and its own Redis for the PostgreSQL pools (tests/redis_server.py).  A test file
runs on one worker, so a module-scoped fixture (a head process, a lab, a proving key) is
built once; the slowest files are handed out first (:data:`SLOW_FIRST`).  (``--dist
loadgroup`` does not group with pytest 9.2: xdist 3.8 renames ``item._nodeid``, which
pytest no longer reads.)
"""

from __future__ import annotations

import importlib
import os
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import URL, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel

from ray_cluster import RayCluster, ray_cluster  # noqa: F401  (session-wide Ray cluster)
from snarkjs_tools import snarkjs  # noqa: F401  (snarkjs from npm, installed once)

# Warm start (pool_api.runner.warmup) calibrates every node a pool sees before any job: off
# for the suite (each test's pool would pay for it, and plans would depend on timing), on in
# tests/pool_api/test_runner_warmup.py.  Child processes (heads, joins) inherit it.
os.environ.setdefault("PROVERPOOL_WARM_START", "false")
# Link-aware plans (workers.cluster.linkplan) keep a small job on one node: the suite's jobs
# are small and many tests check how work spreads, so it plans link-blind but for
# tests/pool_api/test_link_learning.py and tests/workers/test_link_plan.py.
os.environ.setdefault("PROVERPOOL_LINK_AWARE", "false")

# Make the repository's packages importable without installing the project.
_REPO_ROOT = str(Path(__file__).resolve().parents[1])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

# Timing-based hypothesis checks fail on a loaded 2-core CI machine (numba compiles, Ray
# workers): correctness is what the property tests are for, so no deadlines anywhere.
hypothesis_settings.register_profile(
    "proverpool", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("proverpool")

#: The test files that take longest (seconds of a ``-n 2`` run on a loaded 2-core machine,
#: most first).  Under pytest-xdist they are collected first, and ``--dist loadfile
#: --no-loadscope-reorder`` hands files out in collection order, so no worker is left with
#: one of them at the end while the other idles.
SLOW_FIRST = (
    "tests/netlab/test_netlab_pool.py",  # 130 (one lab and pool for the module)
    "tests/accounting/test_ledger.py",  # 99
    "tests/pool_api/test_runner_kill.py",  # 86
    "tests/pool_api/test_hardening_05_ntt_result_canonical.py",  # 86
    "tests/pool_api/test_runner_faults.py",  # 81
    "tests/workers/test_gpu_compile.py",  # 75 (nvcc, where it exists)
    "tests/pool_api/test_bad_input.py",  # 64
    "tests/pool_api/test_jobs.py",  # 51
    "tests/pool_api/test_hardening_19_fake_nodes.py",  # 50
    "tests/accounting/test_references.py",  # 48
    "tests/pool_api/test_runner_cli.py",  # 43
    "tests/pool_api/test_hardening_06_private_local_ray.py",  # 41
    "tests/pool_api/test_groth16_jobs.py",  # 41
    "tests/pool_api/test_hardening_09_db_outage_retry.py",  # 40
    "tests/accounting/test_operations.py",  # 38
)


def _slow_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::")[0]
    return SLOW_FIRST.index(path) if path in SLOW_FIRST else len(SLOW_FIRST)


#: Test files that fail when another test loads the machine at the same time: marked
#: ``alone``; the README's command runs them after the ``-n 2`` run (``-m alone``).
#: test_join: under a concurrent worker the joined node got no chunk of the MSM, or the
#: head's Ray driver aborted (exit -6) on SIGTERM.
ALONE = ("tests/e2e/test_join.py",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The files of :data:`ALONE` are marked ``alone``; under pytest-xdist the slowest test
    files come first (:data:`SLOW_FIRST`)."""
    for item in items:
        if item.nodeid.split("::")[0] in ALONE:
            item.add_marker(pytest.mark.alone)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=_slow_rank)  # stable: the rest keeps its order


DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_URL_ENV = "PROVERPOOL_TEST_POSTGRES_URL"

#: Modules whose import registers tables in ``SQLModel.metadata``.
MODEL_MODULES = ("accounting.models", "pool_api.store.models")


def _register_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)


def _postgres_server_url() -> URL:
    url = make_url(os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the PostgreSQL server, or a skip when it is unreachable."""
    url = _postgres_server_url()
    admin = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        admin.dispose()
        pytest.skip(
            f"PostgreSQL unreachable at {url.render_as_string(hide_password=True)} "
            f"(set {POSTGRES_URL_ENV} to point elsewhere): {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}"
        )
    try:
        yield admin
    finally:
        for dropped in _DROPS:
            dropped.result()  # every test database is gone before the session ends
        admin.dispose()


#: A test's database is dropped on this thread while the next tests run (a DROP takes
#: ~0.25 s, a few hundred tests use PostgreSQL); ``postgres_admin`` waits for them all.
_DROPPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-test-database")
_DROPS: list[Future] = []


def _drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _fresh_postgres_database(admin: Engine) -> Iterator[str]:
    name = f"proverpool_test_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        _DROPS.append(_DROPPER.submit(_drop_database, admin, name))


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: SQLite (temp file) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    yield from _fresh_postgres_database(admin)


def _sqlite_foreign_keys(dbapi_connection: object, connection_record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url`` with every registered SQLModel table created."""
    _register_models()
    eng = create_engine(db_url)
    if eng.dialect.name == "sqlite":
        event.listen(eng, "connect", _sqlite_foreign_keys)
    SQLModel.metadata.create_all(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s
