"""Table models for access control: organisations, users, API keys and idempotency records.

They live on the same :data:`baton.adapters.orm.metadata` as the rest of Baton's storage and
are created by the migration ``0002_access_control``. Conventions as in :mod:`baton.adapters.orm`:
instants are timezone-aware (:class:`~baton.adapters.orm.UtcDateTime`), label lists are JSON.

* ``organisations``: one row per tenant; ``id`` is the ``org_id`` every other table carries.
* ``users``: people who log in with an e-mail (unique across Baton, stored lower-case) and an
  argon2 password hash; ``role`` is ``admin``, ``dispatcher``, ``viewer``, ``driver`` or
  ``carrier``; drivers carry the ``driver_id`` and carriers the ``carrier_id`` they are limited to.
* ``api_keys``: machine credentials; only ``prefix`` (for lookup) and the SHA-256 of the whole
  key are stored, never the key; ``scopes`` is a JSON list such as ``["orders:read"]``.
* ``idempotency_keys``: the stored outcome of a create request sent with an ``Idempotency-Key``
  header, per organisation, principal and key (``request_hash`` is an HMAC of method, path and body).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Table, func
from sqlalchemy.orm import Mapped, mapped_column

from baton.adapters.orm import Base, JsonType, table_of, utcnow

ROLES: tuple[str, ...] = ("admin", "dispatcher", "viewer", "driver", "carrier")
_ROLE_CHECK = "role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")"


class OrganisationRow(Base):
    """A tenant. ``id`` (e.g. ``acme``) is the ``org_id`` of all its data."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class UserRow(Base):
    """A person who logs in. ``email`` is unique across organisations and stored lower-case."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64), ForeignKey("organisations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    driver_id: Mapped[str | None] = mapped_column(String(128))
    carrier_id: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    __table_args__ = (
        CheckConstraint(_ROLE_CHECK, name="role"),
        Index("ix_users_org_id", "org_id"),
    )


class ApiKeyRow(Base):
    """A machine credential: ``prefix`` identifies it, ``key_hash`` (SHA-256 hex) verifies it."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64), ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    driver_id: Mapped[str | None] = mapped_column(String(128))
    carrier_id: Mapped[str | None] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_api_keys_org_id", "org_id"),)


class IdempotencyRow(Base):
    """The outcome of one create request made with an ``Idempotency-Key``.

    ``state`` is ``pending`` while the request runs and ``done`` once ``status_code``,
    ``response_body`` and ``response_headers`` hold what was answered.
    """

    __tablename__ = "idempotency_keys"

    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal: Mapped[str] = mapped_column(String(160), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[Any] = mapped_column(JsonType, nullable=True)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)


organisations = table_of(OrganisationRow)
users = table_of(UserRow)
api_keys = table_of(ApiKeyRow)
idempotency_keys = table_of(IdempotencyRow)

#: The access-control tables, parents before children.
AUTH_TABLES: tuple[Table, ...] = (organisations, users, api_keys, idempotency_keys)
