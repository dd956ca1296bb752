"""Content-addressed object stores for POD media (photos, signatures).

:class:`ObjectStore` is the port: ``put(data, content_type) -> sha256`` (idempotent: the same bytes
always give the same key and are stored once), ``get(sha256) -> bytes`` (raises :class:`ObjectMissing`),
``exists(sha256) -> bool``. Adapters:

* :class:`~baton.adapters.objectstore.fs.FileSystemObjectStore` (default): ``<root>/<aa>/<bb>/<sha256>``
  under ``<BATON_HOME>/objects``;
* :class:`~baton.adapters.objectstore.s3.S3ObjectStore`: any S3-compatible server (AWS S3, MinIO,
  Ceph, moto) over HTTP(S) with AWS Signature V4, signed here with the standard library over
  ``httpx`` (already a dependency) rather than pulling boto3/botocore (~80 MB) for three calls.

:func:`make_object_store` picks one from a URL (``BATON_OBJECT_STORE``):
``s3://bucket?endpoint=http://host:9000&region=us-east-1&prefix=pod/`` (credentials from
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``), ``file:///path``, or a plain directory path.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qs, urlparse

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class ObjectMissing(KeyError):
    """No object is stored under that SHA-256."""


class ObjectStoreError(RuntimeError):
    """The store could not be reached or refused a request (message says which and why)."""


@runtime_checkable
class ObjectStore(Protocol):
    def put(self, data: bytes, content_type: str) -> str:
        """Store ``data`` (once) and return its SHA-256 (lower-case hex)."""

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``.

        Raises:
            ObjectMissing: when nothing is stored under it.
        """

    def exists(self, sha256: str) -> bool:
        """True when something is stored under ``sha256``."""


def check_key(sha256: str) -> str:
    """``sha256`` when it is 64 lower-case hex digits.

    Raises:
        ValueError: otherwise (a key is never a path).
    """
    if not SHA256_RE.match(sha256):
        raise ValueError(f"sha256: expected 64 lower-case hex digits, got {sha256[:80]!r}")
    return sha256


def make_object_store(url: str | None = None) -> ObjectStore:
    """The store named by ``url`` (``None``: ``BATON_OBJECT_STORE``, else ``<BATON_HOME>/objects``).

    Raises:
        ValueError: on an unsupported scheme or an ``s3://`` URL without a bucket.
    """
    from baton.adapters.objectstore.fs import FileSystemObjectStore

    url = url or os.environ.get("BATON_OBJECT_STORE") or None
    if url is None:
        from baton.adapters.db import baton_home

        return FileSystemObjectStore(baton_home() / "objects")
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        from baton.adapters.objectstore.s3 import S3ObjectStore

        if not parsed.netloc:
            raise ValueError(f"BATON_OBJECT_STORE: s3 URL needs a bucket: {url}")
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return S3ObjectStore(
            bucket=parsed.netloc, endpoint=query.get("endpoint", "https://s3.amazonaws.com"),
            region=query.get("region", os.environ.get("AWS_REGION", "us-east-1")),
            access_key=os.environ.get("AWS_ACCESS_KEY_ID", ""),
            secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            prefix=query.get("prefix", parsed.path.lstrip("/")),
        )
    if parsed.scheme == "file":
        return FileSystemObjectStore(Path(parsed.path))
    if parsed.scheme == "":
        return FileSystemObjectStore(Path(url))
    raise ValueError(f"BATON_OBJECT_STORE: unsupported scheme {parsed.scheme!r} (use s3://, file:// or a path)")
