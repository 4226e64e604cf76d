"""Exit codes of every ``proverpool`` command, and the one way a command fails.

One table for ``join``, ``leave``, ``head``, ``submit``, ``ledger``, ``db``, ``status``,
``jobs``, ``invite``, ``balance``, ``statement``, ``withdraw`` and ``contributors``
(printed in ``proverpool --help`` and docs/cli.md):

* 0 ``OK``: done.
* 1 ``FAILED``: the command ran but the outcome is a failure (a job failed or was
  cancelled, a proof did not verify, the ledger audit found a violation, the database
  is behind the code).
* 2 ``USAGE``: bad usage or bad input (an unknown option, an unreadable or malformed file,
  a missing database, an unknown contributor or job, a value the pool rejects as invalid).
* 3 ``UNREACHABLE``: the pool (or a part it needs: its database, Redis, Ray) does not
  answer.
* 4 ``REFUSED``: the pool, or this machine, said no: authentication, permission, a
  conflict with its state (a used invite, insufficient funds, a ban), a port ``head``
  needs is taken, this machine already runs a ``join``.
* 5 ``TIMED_OUT``: gave up waiting (a job still running at ``--timeout``, a Ray node that
  never came up).

A command raises :class:`CliError` (or calls :func:`fail`); the message is one line on
stderr prefixed with the command's name.
"""

from __future__ import annotations

from typing import NoReturn

import typer

OK = 0
FAILED = 1
USAGE = 2
UNREACHABLE = 3
REFUSED = 4
TIMED_OUT = 5

EPILOG = (
    "Exit codes: 0 ok, 1 failed (job failed, proof or audit failed), 2 usage or bad input, "
    "3 pool unreachable, 4 refused (auth, forbidden, conflict, port taken, already joined), "
    "5 timed out."
)


class CliError(Exception):
    """A command cannot go on: one line for the user and the exit code that says why."""

    def __init__(self, message: str, exit_code: int = USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def for_http_status(status_code: int) -> int:
    """The exit code for a pool's error answer: 401/403/409/429 refused, 5xx unreachable
    (a part of the pool is down), 408/504 timed out, any other 4xx bad input."""
    if status_code in (401, 403, 409, 429):
        return REFUSED
    if status_code in (408, 504):
        return TIMED_OUT
    if status_code >= 500:
        return UNREACHABLE
    return USAGE


def fail(command: str, message: str, exit_code: int = USAGE) -> NoReturn:
    """Print ``proverpool COMMAND: MESSAGE`` on stderr and exit with ``exit_code``."""
    typer.secho(f"proverpool {command}: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(exit_code)
