"""Content-addressed blob directory: job inputs and results, named by their SHA-256.

Blobs are 0600 in 0700 directories (issue 14 item 12).  A write goes to a temporary file
of its own (``mkstemp``: unique per call, so concurrent writers of one blob never share
it), is flushed to disk and renamed over the final name; an identical blob already
there is left as it is (issue 14 item 16).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from pool_api.private_files import ensure_private_dir


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
            raise ValueError(f"not a sha256 name: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` once (atomically) and return its SHA-256 hex name."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self._path(sha256)
        if path.exists():
            return sha256
        if not path.parent.is_dir():
            ensure_private_dir(self.root)
            ensure_private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{sha256}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)  # same content either way: the last rename wins harmlessly
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return sha256

    def get(self, sha256: str) -> bytes:
        return self._path(sha256).read_bytes()
