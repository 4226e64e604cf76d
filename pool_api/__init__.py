"""The pool application: HTTP API, job runner, CLI (docs/architecture.md §2)."""
