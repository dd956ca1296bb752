"""Credentials: argon2 password hashes, HS256 JWT access tokens, API keys and the signing secret.

* Passwords are hashed with argon2id (argon2-cffi defaults: 64 MiB, 3 passes).
* Access tokens are JWTs signed with HS256 (PyJWT) carrying ``sub`` (user id), ``org``,
  ``role``, ``iat`` and ``exp``; they live :data:`DEFAULT_TOKEN_TTL_S` seconds by default.
* API keys look like ``bk_<prefix>_<secret>``: ``prefix`` (10 hex characters) finds the key,
  the SHA-256 of the whole key verifies it. Keys are 160+ bits of randomness, so a fast hash
  is safe for them (argon2 on every request would not be).
* The signing secret comes from :func:`resolve_secret_key`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

log = logging.getLogger(__name__)

SECRET_ENV = "BATON_SECRET_KEY"
ENV_ENV = "BATON_ENV"
SECRET_FILE = "secret_key"
MIN_SECRET_LENGTH = 32
#: Access-token lifetime: 8 hours (a working shift), seconds.
DEFAULT_TOKEN_TTL_S = 8 * 3600
API_KEY_PREFIX = "bk_"
_ALGORITHM = "HS256"

_hasher = PasswordHasher()
_dummy_hash: str | None = None


class InvalidToken(Exception):
    """An access token is malformed, badly signed or expired (the message says which)."""


class InsecureConfiguration(RuntimeError):
    """Baton refuses to start: no secret key in production, or one that is too short."""


# --- passwords ------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (about 0.1-0.2 s of CPU).

    Raises:
        ValueError: when ``password`` is empty.
    """
    if not password:
        raise ValueError("password must not be empty")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``password_hash``.

    With ``password_hash=None`` (unknown user) a dummy hash is verified anyway, so that
    answering "no such user" takes as long as "wrong password".
    """
    global _dummy_hash
    if password_hash is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_hex(16))
        password_hash = _dummy_hash
        password = password + "\x00never"
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


# --- access tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenClaims:
    """What a verified access token says: user id, organisation, role and expiry (aware, UTC)."""

    user_id: str
    org_id: str
    role: str
    expires_at: datetime


class TokenService:
    """Issues and verifies HS256 access tokens with ``secret``; tokens live ``ttl_s`` seconds.

    Raises:
        InsecureConfiguration: when ``secret`` is shorter than :data:`MIN_SECRET_LENGTH` characters.
    """

    def __init__(self, secret: str, ttl_s: int = DEFAULT_TOKEN_TTL_S) -> None:
        check_secret(secret)
        self._secret = secret
        self.ttl_s = ttl_s

    def issue(self, user_id: str, org_id: str, role: str, now: datetime | None = None) -> str:
        """A signed token for the user, valid ``ttl_s`` seconds from ``now`` (default: now)."""
        issued = now or datetime.now(UTC)
        claims = {"sub": user_id, "org": org_id, "role": role, "typ": "access",
                  "iat": int(issued.timestamp()), "exp": int((issued + timedelta(seconds=self.ttl_s)).timestamp())}
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def verify(self, token: str) -> TokenClaims:
        """The claims of a valid token.

        Raises:
            InvalidToken: when the token is malformed, not signed with this secret, expired,
                or lacks a claim.
        """
        try:
            claims = jwt.decode(token, self._secret, algorithms=[_ALGORITHM],
                                options={"require": ["sub", "org", "role", "exp"]})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the access token has expired") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid access token: {exc}") from None
        if claims.get("typ") != "access":
            raise InvalidToken("not an access token")
        return TokenClaims(str(claims["sub"]), str(claims["org"]), str(claims["role"]),
                           datetime.fromtimestamp(int(claims["exp"]), UTC))


# --- API keys ------------------------------------------------------------------------------


def new_api_key() -> tuple[str, str, str]:
    """A fresh API key: ``(key, prefix, sha256_hex)``; show ``key`` once, store the other two."""
    prefix = secrets.token_hex(5)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(30)}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> str:
    """The SHA-256 (hex) of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_prefix(key: str) -> str | None:
    """The lookup prefix of a ``bk_<prefix>_<secret>`` key, ``None`` when ``key`` has not that shape."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    prefix, sep, rest = key[len(API_KEY_PREFIX):].partition("_")
    return prefix if sep and rest and len(prefix) == 10 else None


def api_key_matches(key: str, key_hash: str) -> bool:
    """Constant-time check of ``key`` against its stored SHA-256."""
    return hmac.compare_digest(hash_api_key(key), key_hash)


def request_fingerprint(secret: str, method: str, path: str, body: Any) -> str:
    """HMAC-SHA256 (hex) of a request's method, path and canonical JSON body, keyed by ``secret``.

    Keyed so that a stored fingerprint reveals nothing about a body holding a password.
    """
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


# --- the signing secret --------------------------------------------------------------------


def check_secret(secret: str) -> str:
    """Return ``secret`` when it is long enough.

    Raises:
        InsecureConfiguration: when it has fewer than :data:`MIN_SECRET_LENGTH` characters.
    """
    if len(secret) < MIN_SECRET_LENGTH:
        raise InsecureConfiguration(
            f"the secret key must have at least {MIN_SECRET_LENGTH} characters, got {len(secret)} "
            f"(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')")
    return secret


def is_production() -> bool:
    """True when ``BATON_ENV`` is ``prod`` or ``production``."""
    return os.environ.get(ENV_ENV, "").strip().lower() in ("prod", "production")


def resolve_secret_key(explicit: str | None = None, home: Path | None = None) -> str:
    """The key that signs access tokens: ``explicit``, else env ``BATON_SECRET_KEY``, else a local file.

    Without either, in production (``BATON_ENV=production``) Baton refuses to start. Elsewhere
    (development, tests, a laptop demo) it reads ``<BATON_HOME>/secret_key``, generating it
    (48 random bytes, file mode 0600) with a warning the first time, so that tokens survive
    restarts and every worker process signs with the same key.

    Raises:
        InsecureConfiguration: in production without a key, or when the key is too short.
        OSError: when the secret file cannot be read or written.
    """
    if explicit:
        return check_secret(explicit)
    from_env = os.environ.get(SECRET_ENV, "").strip()
    if from_env:
        return check_secret(from_env)
    if is_production():
        raise InsecureConfiguration(f"{SECRET_ENV} is not set: refusing to start with {ENV_ENV}=production")
    if home is None:
        from baton.adapters.db import baton_home

        home = baton_home()
    path = home / SECRET_FILE
    if not path.exists():
        # write a private temporary file, then link it into place: atomic, and the first one wins
        tmp = home / f".{SECRET_FILE}.{secrets.token_hex(6)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
            log.warning("%s is not set: generated a signing key in %s (set %s in production)",
                        SECRET_ENV, path, SECRET_ENV)
        except FileExistsError:
            pass  # another process created it first: use theirs
        finally:
            tmp.unlink()
    return check_secret(path.read_text().strip())
