"""The SQL behind the HTTP routes: small keyword-only query functions, one module per resource.

Each function takes the caller's :class:`sqlmodel.Session` (the job and proof polls, on
the hot path, a plain :class:`sqlalchemy.engine.Connection` of the read engine) and
returns rows or values; none commits. The route handlers in :mod:`pool_api.api.routes`
call them, own the transaction (commit, roll back) and shape the HTTP answers
(docs/architecture.md §8).

* :mod:`~pool_api.store.queries.jobs` — jobs: lookup, pages, cancel;
* :mod:`~pool_api.store.queries.contributors` — contributors, invites, API keys;
* :mod:`~pool_api.store.queries.nodes` — contributed Ray nodes and their work;
* :mod:`~pool_api.store.queries.ledger` — the application's reads around the ledger;
* :mod:`~pool_api.store.queries.dashboard` — the dashboard's aggregates;
* :mod:`~pool_api.store.queries.zkeys` — Groth16 proofs;
* :mod:`~pool_api.store.queries.system` — the health check's probe.
"""
