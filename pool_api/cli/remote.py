"""What the client commands share: the pool's URL, credentials, one HTTP client.

Where things come from, in order:

* the data directory: ``--data-dir``, else ``PROVERPOOL_DATA_DIR``, else ``~/.proverpool``;
* a contributor's pool URL and API key: ``DATA_DIR/join.json``, written 0600 by
  ``proverpool join`` (:func:`pool_api.membership.save_state`: ``pool_url``,
  ``contributor_id``, ``api_key``);
* the pool URL of the other commands: ``--pool`` / ``PROVERPOOL_URL``, else the saved
  ``join.json``'s, else ``http://127.0.0.1:8000``;
* the operator token: ``--token`` / ``PROVERPOOL_OPERATOR_TOKEN``, else the head's
  ``DATA_DIR/operator_token``.

Every failure is a :class:`~pool_api.cli.exit_codes.CliError` with its exit code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from pool_api.cli import exit_codes
from pool_api.cli.exit_codes import CliError

DEFAULT_POOL_URL = "http://127.0.0.1:8000"
HTTP_TIMEOUT_SECONDS = 30.0

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory (PROVERPOOL_DATA_DIR; default ~/.proverpool): join.json, "
        "operator_token.",
        show_default=False,
    ),
]
PoolOption = Annotated[
    str | None,
    typer.Option(
        "--pool",
        envvar="PROVERPOOL_URL",
        help="The pool's URL (default: the one `join` saved, else http://127.0.0.1:8000).",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="PROVERPOOL_OPERATOR_TOKEN",
        help="Operator token (default: DATA_DIR/operator_token of the head).",
        show_default=False,
    ),
]


def data_dir_of(data_dir: Path | None) -> Path:
    if data_dir is not None:
        return data_dir
    return Path(os.environ.get("PROVERPOOL_DATA_DIR") or Path.home() / ".proverpool")


def saved_join(data_dir: Path) -> dict:
    """What ``join`` saved in ``data_dir`` (``{}`` when nothing)."""
    from pool_api import membership
    from pool_api.errors import JoinError

    try:
        return membership.load_state(data_dir)
    except JoinError as exc:
        raise CliError(str(exc)) from exc


def pool_url(pool: str | None, data_dir: Path) -> str:
    return pool or saved_join(data_dir).get("pool_url") or DEFAULT_POOL_URL


class PoolHttp:
    """The pool's HTTP API; every failure a :class:`CliError` with the right exit code."""

    def __init__(self, url: str, token: str | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise CliError(f"{url!r} is not a pool URL (expected http(s)://host:port)")
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, timeout=HTTP_TIMEOUT_SECONDS, headers=headers)

    def __enter__(self) -> PoolHttp:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise CliError(
                f"the pool at {self.url} did not answer in time: {exc}", exit_codes.TIMED_OUT
            ) from exc
        except httpx.HTTPError as exc:
            raise CliError(
                f"cannot reach the pool at {self.url}: {exc}", exit_codes.UNREACHABLE
            ) from exc
        if response.status_code >= 400:
            raise CliError(
                f"the pool refused {method} {path}: {detail(response)}",
                exit_codes.for_http_status(response.status_code),
            )
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise CliError(f"{self.url} is not a proverpool pool ({path}: no JSON)") from exc


def detail(response: httpx.Response) -> str:
    """The ``detail`` of an error answer in one line (a validation error's first ``msg``)."""
    try:
        found = response.json().get("detail")
    except (ValueError, AttributeError):
        found = None
    if isinstance(found, list) and found and isinstance(found[0], dict):
        first = found[0]
        found = f"{'.'.join(str(p) for p in first.get('loc', []))}: {first.get('msg')}"
    return f"{response.status_code} {found if found is not None else response.text[:200]}"


def contributor_client(data_dir: Path | None) -> tuple[PoolHttp, int]:
    """A client with the API key ``join`` saved, and the contributor's id."""
    directory = data_dir_of(data_dir)
    state = saved_join(directory)
    if not state.get("api_key") or not state.get("pool_url"):
        raise CliError(
            f"no saved API key in {directory / 'join.json'}: run `proverpool join URL "
            "--invite …` first, or pass --data-dir"
        )
    return PoolHttp(state["pool_url"], state["api_key"]), int(state["contributor_id"])


def operator_client(pool: str | None, token: str | None, data_dir: Path | None) -> PoolHttp:
    """A client with the operator token (``--token``, else the head's token file)."""
    directory = data_dir_of(data_dir)
    if not token:
        try:
            token = (directory / "operator_token").read_text().strip()
        except OSError:
            raise CliError(
                f"no operator token: pass --token (PROVERPOOL_OPERATOR_TOKEN) or --data-dir "
                f"of the head (no {directory / 'operator_token'})"
            ) from None
    return PoolHttp(pool_url(pool, directory), token)
