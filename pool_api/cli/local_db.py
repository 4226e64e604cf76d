"""The pool's database for the commands that open it directly (``ledger``, ``db``).

Which database: ``--database-url``, else ``PROVERPOOL_DATABASE_URL``, else the embedded
SQLite file ``DATA_DIR/pool.db`` (``--data-dir``, else ``PROVERPOOL_DATA_DIR``, else
``~/.proverpool``).  Nothing here creates a database: a SQLite file that is not there is
"no pool database at …; pass --data-dir" (exit 2), never a fresh empty file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError

from pool_api.cli import exit_codes
from pool_api.cli.exit_codes import CliError

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the pool's database; default: PROVERPOOL_DATABASE_URL or "
        "the embedded SQLite file DATA_DIR/pool.db.",
        show_default=False,
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="The pool's data directory, as given to `proverpool head` (PROVERPOOL_DATA_DIR; "
        "default ~/.proverpool).",
        show_default=False,
    ),
]


def database_url(database_url: str | None, data_dir: Path | None) -> str:
    """The URL of an existing pool database, or :class:`CliError`."""
    from pydantic import ValidationError

    from pool_api.settings import Settings

    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url:
        overrides["database_url"] = database_url
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise CliError(f"invalid setting: {exc.errors()[0]['msg']}") from exc
    url = settings.database_url or f"sqlite:///{settings.data_dir / 'pool.db'}"
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise CliError(f"not a database URL: {url!r}") from exc
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or not Path(path).is_file():
            raise CliError(
                f"no pool database at {path or url}; pass --data-dir (the head's) or --database-url"
            )
    return url


@contextmanager
def pool_engine(database_url_option: str | None, data_dir: Path | None) -> Iterator[Engine]:
    """An engine on the existing pool database, disposed at the end."""
    from pool_api.store.db import make_engine

    engine = make_engine(database_url(database_url_option, data_dir))
    try:
        yield engine
    finally:
        engine.dispose()


def where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def database_error(engine: Engine, exc: Exception) -> CliError:
    """A one-line error for a database that cannot be read: not the pool's (2: a table or
    the database missing), or not answering (3)."""
    from sqlalchemy.exc import OperationalError

    first = str(exc).splitlines()[0]
    if isinstance(exc, OperationalError) and not (
        "no such table" in first or "does not exist" in first
    ):
        return CliError(
            f"cannot reach the database at {where(engine)}: {first}", exit_codes.UNREACHABLE
        )
    return CliError(
        f"cannot read the pool's tables at {where(engine)}: {first} (is this the pool's "
        "database? pass the head's --data-dir or --database-url; an external database "
        "is migrated with `proverpool db upgrade`)"
    )
