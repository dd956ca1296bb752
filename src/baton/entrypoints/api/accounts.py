"""Organisations, users and API keys: storage operations on :mod:`baton.adapters.orm_auth`.

Used by the API (login, authentication, ``/admin``) and by ``baton admin`` on the command line.
Each method runs in its own short transaction. E-mails are compared and stored lower-case.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from baton.adapters import orm_auth
from baton.adapters.orm import utcnow
from baton.entrypoints.api.access import ROLES, SCOPES
from baton.entrypoints.api.security import hash_password, new_api_key

_ORG_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """An account request is invalid (``field`` names what is wrong)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class AccountConflict(AccountError):
    """The e-mail or organisation id is already taken."""


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class User:
    """A stored user (``password_hash`` is argon2id)."""

    id: str
    org_id: str
    email: str
    name: str
    role: str
    driver_id: str | None
    carrier_id: str | None
    active: bool
    created_at: datetime
    password_hash: str


@dataclass(frozen=True)
class ApiKey:
    """A stored API key: never the key itself, only its ``prefix`` and SHA-256 ``key_hash``."""

    id: str
    org_id: str
    name: str
    prefix: str
    key_hash: str
    scopes: tuple[str, ...]
    driver_id: str | None
    carrier_id: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def usable(self, now: datetime) -> bool:
        """True when neither revoked nor expired at ``now``."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def _user(r: Any) -> User:
    return User(r.id, r.org_id, r.email, r.name, r.role, r.driver_id, r.carrier_id, r.active, r.created_at,
                r.password_hash)


def _key(r: Any) -> ApiKey:
    return ApiKey(r.id, r.org_id, r.name, r.prefix, r.key_hash, tuple(r.scopes), r.driver_id, r.carrier_id,
                  r.created_by, r.created_at, r.expires_at, r.revoked_at)


def normalise_email(email: str) -> str:
    """``email`` stripped and lower-cased.

    Raises:
        AccountError: when it does not look like an e-mail address.
    """
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError("email", f"must be an e-mail address like ana@example.com, got {email!r}")
    return email


class AccountStore:
    """Organisations, users and API keys in the database behind ``sessions``."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    # organisations ------------------------------------------------------------------------
    def ensure_organisation(self, org_id: str, name: str | None = None) -> bool:
        """Create organisation ``org_id`` unless it exists; True when it was created.

        Raises:
            AccountError: when ``org_id`` is not 1-64 of ``a-z 0-9 _ -`` starting with a letter or digit.
        """
        if not _ORG_ID.match(org_id):
            raise AccountError("org_id", "must be 1-64 characters of a-z, 0-9, '_' and '-', "
                                         f"starting with a letter or digit, got {org_id!r}")
        if self.get_organisation(org_id) is not None:
            return False
        try:
            with self.sessions.begin() as s:
                s.execute(insert(orm_auth.organisations).values(id=org_id, name=name or org_id, created_at=utcnow()))
        except IntegrityError:
            return False  # created concurrently
        return True

    def get_organisation(self, org_id: str) -> Organisation | None:
        t = orm_auth.organisations
        with self.sessions() as s:
            r = s.execute(select(t).where(t.c.id == org_id)).first()
        return None if r is None else Organisation(r.id, r.name, r.created_at)

    def list_organisations(self) -> list[Organisation]:
        t = orm_auth.organisations
        with self.sessions() as s:
            return [Organisation(r.id, r.name, r.created_at) for r in s.execute(select(t).order_by(t.c.id))]

    # users --------------------------------------------------------------------------------
    def create_user(
        self, org_id: str, email: str, password: str, role: str, *, name: str = "",
        driver_id: str | None = None, carrier_id: str | None = None, password_hash: str | None = None,
    ) -> User:
        """Add a user to an existing organisation; ``password_hash`` skips hashing ``password``.

        Raises:
            AccountError: on a bad e-mail, an unknown role, a driver without ``driver_id``, a
                carrier without ``carrier_id``, an empty password or an unknown organisation.
            AccountConflict: when the e-mail is already registered.
        """
        email = normalise_email(email)
        if role not in ROLES:
            raise AccountError("role", f"must be one of {', '.join(ROLES)}, got {role!r}")
        if role == "driver" and not driver_id:
            raise AccountError("driver_id", "is required for the driver role")
        if role == "carrier" and not carrier_id:
            raise AccountError("carrier_id", "is required for the carrier role")
        if password_hash is None and not password:
            raise AccountError("password", "must not be empty")
        if self.get_organisation(org_id) is None:
            raise AccountError("org_id", f"unknown organisation {org_id!r}")
        row = {"id": uuid.uuid4().hex, "org_id": org_id, "email": email, "name": name, "role": role,
               "driver_id": driver_id if role == "driver" else None,
               "carrier_id": carrier_id if role == "carrier" else None, "active": True,
               "created_at": utcnow(), "password_hash": password_hash or hash_password(password)}
        try:
            with self.sessions.begin() as s:
                s.execute(insert(orm_auth.users).values(**row))
        except IntegrityError:
            raise AccountConflict("email", f"{email} is already registered") from None
        return _user(SimpleNamespace(**row))

    def user_by_email(self, email: str) -> User | None:
        t = orm_auth.users
        with self.sessions() as s:
            r = s.execute(select(t).where(t.c.email == email.strip().lower())).first()
        return None if r is None else _user(r)

    def user_by_id(self, user_id: str) -> User | None:
        t = orm_auth.users
        with self.sessions() as s:
            r = s.execute(select(t).where(t.c.id == user_id)).first()
        return None if r is None else _user(r)

    def list_users(self, org_id: str) -> list[User]:
        t = orm_auth.users
        with self.sessions() as s:
            return [_user(r) for r in s.execute(select(t).where(t.c.org_id == org_id).order_by(t.c.email))]

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        t = orm_auth.users
        with self.sessions.begin() as s:
            s.execute(update(t).where(t.c.id == user_id).values(password_hash=password_hash))

    def deactivate_user(self, org_id: str, user_id: str) -> bool:
        """Stop a user of ``org_id`` from logging in or using their tokens; False when there is no such user."""
        t = orm_auth.users
        with self.sessions.begin() as s:
            result = s.execute(update(t).where(t.c.org_id == org_id, t.c.id == user_id).values(active=False))
        return bool(getattr(result, "rowcount", 0))

    # API keys -----------------------------------------------------------------------------
    def create_api_key(
        self, org_id: str, name: str, scopes: list[str], *, created_by: str, driver_id: str | None = None,
        carrier_id: str | None = None, expires_at: datetime | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key for ``org_id``: ``(stored record, the key itself)``; the key is shown only once.

        Raises:
            AccountError: on an empty name, an unknown scope, both a driver and a carrier, or an
                unknown organisation.
        """
        if not name.strip():
            raise AccountError("name", "must not be empty")
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise AccountError("scopes", f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
        if driver_id and carrier_id:
            raise AccountError("carrier_id", "a key is bound to a driver or to a carrier, not both")
        if self.get_organisation(org_id) is None:
            raise AccountError("org_id", f"unknown organisation {org_id!r}")
        key, prefix, key_hash = new_api_key()
        row = {"id": uuid.uuid4().hex, "org_id": org_id, "name": name.strip(), "prefix": prefix,
               "key_hash": key_hash, "scopes": sorted(set(scopes)), "driver_id": driver_id or None,
               "carrier_id": carrier_id or None, "created_by": created_by, "created_at": utcnow(),
               "expires_at": expires_at, "revoked_at": None}
        with self.sessions.begin() as s:
            s.execute(insert(orm_auth.api_keys).values(**row))
        return _key(SimpleNamespace(**row)), key

    def api_key_by_prefix(self, prefix: str) -> ApiKey | None:
        t = orm_auth.api_keys
        with self.sessions() as s:
            r = s.execute(select(t).where(t.c.prefix == prefix)).first()
        return None if r is None else _key(r)

    def list_api_keys(self, org_id: str) -> list[ApiKey]:
        t = orm_auth.api_keys
        with self.sessions() as s:
            rows = s.execute(select(t).where(t.c.org_id == org_id).order_by(t.c.created_at, t.c.id))
            return [_key(r) for r in rows]

    def revoke_api_key(self, org_id: str, key_id: str) -> bool:
        """Revoke a key of ``org_id`` (from now on it authenticates nothing); False when there is none."""
        t = orm_auth.api_keys
        with self.sessions.begin() as s:
            result = s.execute(update(t).where(t.c.org_id == org_id, t.c.id == key_id, t.c.revoked_at.is_(None))
                               .values(revoked_at=utcnow()))
            if getattr(result, "rowcount", 0):
                return True
            return s.execute(select(t.c.id).where(t.c.org_id == org_id, t.c.id == key_id)).first() is not None
