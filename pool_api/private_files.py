"""Files of the data directory that only their owner may read (issue 14 items 11 and 12).

Everything under ``PROVERPOOL_DATA_DIR`` is the pool's: the SQLite file, the tokens,
the embedded Redis (socket, dump, log), blobs, ``join.json``.  The directory is 0700
and each of those files 0600, whatever the umask and whatever mode an older version
left (:func:`secure_data_dir` tightens them).  Secrets generated on first use
(:func:`read_or_create_secret`) are created atomically: a complete temporary file is
linked to the final name, so among processes starting together exactly one wins and
every one reads the winner's whole token, never an empty or partial file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
#: Files directly under the data directory that hold data or secrets of the pool.
OWNED_PREFIXES = ("pool.db", "operator_token", "ray_auth_token", "redis", "join.json")
SECRET_WAIT_SECONDS = 2.0


class SecretFileError(RuntimeError):
    """A secret file exists but holds nothing usable."""


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) if needed and make it 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def tighten(path: Path) -> None:
    """0700 for a directory, no group/other bits on a socket, 0600 for anything else."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        return
    if stat.S_ISDIR(st.st_mode):
        wanted = DIR_MODE
    elif stat.S_ISSOCK(st.st_mode):
        wanted = mode & 0o700
    else:
        wanted = FILE_MODE
    if mode != wanted:
        with contextlib.suppress(FileNotFoundError):
            path.chmod(wanted)


def create_private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists; either way leave it 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private_text(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, mode 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def secure_data_dir(data_dir: Path) -> None:
    """Make ``data_dir`` 0700 and tighten what the pool keeps there (umask-proof).

    The blob tree is walked only while its top directory is still loose (a data
    directory written by an older version): blobs written since are 0600 already.
    """
    ensure_private_dir(data_dir)
    for entry in data_dir.iterdir():
        if entry.name.startswith(OWNED_PREFIXES):
            tighten(entry)
    blobs = data_dir / "blobs"
    if blobs.is_dir() and stat.S_IMODE(blobs.stat().st_mode) != DIR_MODE:
        for root, dirs, files in os.walk(blobs):
            for name in dirs + files:
                tighten(Path(root) / name)
        tighten(blobs)


def _read_secret(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


def _publish_once(path: Path, secret: str) -> bool:
    """Create ``path`` holding ``secret`` unless it exists; whether this call created it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # atomic: fails if the name exists, never shows a partial file
            return True
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: exclusive create instead
            try:
                out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            except FileExistsError:
                return False
            with os.fdopen(out, "w") as handle:
                handle.write(secret + "\n")
            return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def read_or_create_secret(path: Path, generate: Callable[[], str]) -> str:
    """The secret kept in ``path`` (0600), generated with ``generate()`` if there is none.

    Safe among processes starting together: exactly one creates the file, all return its
    token.  A file that stays empty (a crash of an older, non-atomic version) is an error
    naming the file, rather than a token nobody can present.
    """
    ensure_private_dir(path.parent)
    deadline = time.monotonic() + SECRET_WAIT_SECONDS
    while True:
        secret = _read_secret(path)
        if secret:
            tighten(path)
            return secret
        if secret is None:
            candidate = generate()
            if _publish_once(path, candidate):
                return candidate
            continue  # another process won: read its token
        if time.monotonic() > deadline:  # empty: a writer without hard links still busy?
            raise SecretFileError(f"{path} is empty: delete it to have a new secret generated")
        time.sleep(0.01)
