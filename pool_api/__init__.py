"""The pool application: HTTP API, job runner, CLI (DESIGN §2)."""
