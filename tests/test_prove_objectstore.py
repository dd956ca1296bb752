"""Object stores for POD media: filesystem and S3-compatible over real HTTP (moto server)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.adapters.objectstore import ObjectMissing, make_object_store
from baton.adapters.objectstore.fs import FileSystemObjectStore
from baton.adapters.objectstore.s3 import S3ObjectStore


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _roundtrip(store: FileSystemObjectStore | S3ObjectStore) -> None:
    data = b"\x89PNG fake photo bytes " + bytes(range(256))
    sha = store.put(data, "image/png")
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.exists(sha)
    assert store.get(sha) == data
    assert store.put(data, "image/png") == sha  # idempotent
    missing = "0" * 64
    assert not store.exists(missing)
    with pytest.raises(ObjectMissing):
        store.get(missing)
    with pytest.raises(ValueError, match="sha256"):
        store.get("../../etc/passwd")


def test_filesystem_store(tmp_path: Path) -> None:
    store = FileSystemObjectStore(tmp_path / "objects")
    _roundtrip(store)
    assert len(list((tmp_path / "objects").rglob("*"))) == 3  # two fan-out dirs + one file


def test_s3_store_over_http_against_moto(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = make_object_store(f"s3://baton-pod?endpoint={s3_endpoint}&region=us-east-1&prefix=media/")
    assert isinstance(store, S3ObjectStore)
    store.create_bucket()
    _roundtrip(store)
    # the object really is in the bucket, under the prefix, as moto sees it over HTTP
    import httpx

    listing = httpx.get(f"{s3_endpoint}/baton-pod?list-type=2").text
    assert "media/" in listing


def test_make_object_store_paths(tmp_path: Path) -> None:
    assert isinstance(make_object_store(str(tmp_path)), FileSystemObjectStore)
    assert isinstance(make_object_store(f"file://{tmp_path}"), FileSystemObjectStore)
    with pytest.raises(ValueError, match="scheme"):
        make_object_store("ftp://x")
