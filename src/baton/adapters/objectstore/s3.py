"""S3-compatible object store over HTTP with AWS Signature Version 4 (path-style URLs).

Objects are ``<prefix><sha256>``; ``put`` skips the upload when ``HEAD`` finds the key (content
addressing makes the same key the same bytes). The signature follows the AWS SigV4 specification
(canonical request → string to sign → HMAC chain of date/region/service), payload hash included
as ``x-amz-content-sha256``.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote, urlparse

import httpx

from baton.adapters.objectstore import ObjectMissing, ObjectStoreError, check_key


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_headers(method: str, url: str, *, region: str, access_key: str, secret_key: str, payload: bytes = b"",
                  headers: dict[str, str] | None = None, service: str = "s3",
                  now: datetime | None = None) -> dict[str, str]:
    """The headers (``Authorization``, ``x-amz-date``, ``x-amz-content-sha256``, ``host`` and ``headers``)
    of a SigV4-signed request (no query string)."""
    now = now or datetime.now(UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    parsed = urlparse(url)
    payload_hash = hashlib.sha256(payload).hexdigest()
    signed = {k.lower(): v.strip() for k, v in (headers or {}).items()}
    signed |= {"host": parsed.netloc, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash}
    names = sorted(signed)
    canonical = "\n".join([
        method, quote(parsed.path or "/", safe="/-_.~"), "",
        "".join(f"{n}:{signed[n]}\n" for n in names), ";".join(names), payload_hash,
    ])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                               f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return signed


class S3ObjectStore:
    """Objects in ``bucket`` at ``endpoint`` (e.g. ``http://127.0.0.1:9000``), path-style.

    Raises (from every method): :class:`ObjectStoreError` when the server is unreachable or
    answers an unexpected status (the message carries the status and S3 error code).
    """

    def __init__(self, bucket: str, endpoint: str, region: str = "us-east-1", access_key: str = "",
                 secret_key: str = "", prefix: str = "", timeout_s: float = 30.0,
                 client: httpx.Client | None = None) -> None:
        self.bucket = bucket
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.access_key = access_key
        self.secret_key = secret_key
        self.prefix = prefix
        self.client = client or httpx.Client(timeout=timeout_s)

    def _url(self, key: str = "") -> str:
        return f"{self.endpoint}/{self.bucket}" + (f"/{quote(key, safe='/-_.~')}" if key else "")

    def _request(self, method: str, key: str = "", data: bytes = b"",
                 headers: dict[str, str] | None = None) -> httpx.Response:
        url = self._url(key)
        signed = sigv4_headers(method, url, region=self.region, access_key=self.access_key,
                               secret_key=self.secret_key, payload=data, headers=headers)
        try:
            return self.client.request(method, url, content=data or None, headers=signed)
        except httpx.HTTPError as exc:
            raise ObjectStoreError(f"S3 {method} {url}: {exc}") from exc

    @staticmethod
    def _fail(resp: httpx.Response, what: str) -> ObjectStoreError:
        return ObjectStoreError(f"S3 {what}: HTTP {resp.status_code} {resp.text[:300]}")

    def create_bucket(self) -> None:
        """Create the bucket (no error when it already exists and is ours)."""
        resp = self._request("PUT")
        if resp.status_code not in (200, 409):
            raise self._fail(resp, f"create bucket {self.bucket}")

    def put(self, data: bytes, content_type: str) -> str:
        sha = hashlib.sha256(data).hexdigest()
        if self.exists(sha):
            return sha
        resp = self._request("PUT", self.prefix + sha, data, {"content-type": content_type})
        if resp.status_code != 200:
            raise self._fail(resp, f"put {sha}")
        return sha

    def get(self, sha256: str) -> bytes:
        resp = self._request("GET", self.prefix + check_key(sha256))
        if resp.status_code == 404:
            raise ObjectMissing(sha256)
        if resp.status_code != 200:
            raise self._fail(resp, f"get {sha256}")
        return resp.content

    def exists(self, sha256: str) -> bool:
        resp = self._request("HEAD", self.prefix + check_key(sha256))
        if resp.status_code == 404:
            return False
        if resp.status_code != 200:
            raise self._fail(resp, f"head {sha256}")
        return True
