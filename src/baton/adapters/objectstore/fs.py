"""Filesystem object store: ``<root>/<sha[:2]>/<sha[2:4]>/<sha>``, written atomically (temp file + rename)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from baton.adapters.objectstore import ObjectMissing, check_key


class FileSystemObjectStore:
    """Content-addressed files under ``root`` (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        check_key(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes, content_type: str) -> str:
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.exists():
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(sha256) from None

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()
