"""What every request of the API needs: settings, the database, a per-organisation message bus, pub/sub.

One :class:`ApiContext` is built by :func:`baton.entrypoints.api.app.create_app` and kept in
``app.state.ctx``. Writes go through :meth:`ApiContext.bus` (the service layer's message bus
over a unit of work scoped to the caller's organisation); every event the bus commits is also
published on the organisation's live channel (:meth:`ApiContext.channel`) for dashboards.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from baton.adapters.db import make_engine, migrate, session_factory
from baton.adapters.pubsub import PubSub, make_pubsub
from baton.adapters.travel import make_provider
from baton.adapters.travel.base import TravelTimeProvider
from baton.domain.events import Event
from baton.entrypoints.api.accounts import AccountStore
from baton.entrypoints.api.live_runtime import LiveRuntime, LiveRuntimes
from baton.entrypoints.api.security import DEFAULT_TOKEN_TTL_S, TokenService, resolve_secret_key
from baton.service_layer.handlers import Dependencies
from baton.service_layer.messagebus import MessageBus
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork

#: Longest planning run one API request may ask for, seconds.
MAX_PLAN_SECONDS = 300.0


@dataclass(frozen=True)
class ApiSettings:
    """Configuration of one API process.

    ``database_url``: SQLAlchemy URL (``None``: ``BATON_DATABASE_URL`` or the embedded SQLite file).
    ``secret_key``: signs tokens and cookies (``None``: ``BATON_SECRET_KEY`` or ``<BATON_HOME>/secret_key``).
    ``redis_url``: live fan-out across processes (``None``: ``BATON_REDIS_URL``, else in-process).
    ``tiles_url``: the dashboard's map tile template (``None``: ``BATON_TILES_URL``, else no tiles).
    ``operator_org``: the organisation whose admins may manage every organisation
    (``BATON_OPERATOR_ORG``, else ``default``). Execution (GPS ingestion, ETAs, execution exceptions)
    runs per organisation, for every organisation.
    ``token_ttl_s``: lifetime of access tokens and dashboard sessions, seconds.
    ``secure_cookies``: mark the session cookie ``Secure`` (serve over HTTPS).
    ``ingest_process``: validate and store GPS pings in one spawned ingest process per organisation
    (:mod:`baton.execute.ingest_process`; ``BATON_INGEST_PROCESS=1``) instead of the server's threads:
    about 1.3–1.5× the pings/s on 2 cores (docs/benchmarks.md); needs a database other processes can open
    (PostgreSQL or an SQLite file, not ``sqlite://`` in memory).
    """

    database_url: str | None = None
    secret_key: str | None = None
    redis_url: str | None = None
    tiles_url: str | None = None
    operator_org: str = "default"
    token_ttl_s: int = DEFAULT_TOKEN_TTL_S
    secure_cookies: bool = False
    ingest_process: bool = False

    @classmethod
    def from_env(cls, **overrides: Any) -> ApiSettings:
        """Settings from ``BATON_*`` variables, ``overrides`` (not ``None``) taking precedence."""
        values: dict[str, Any] = {
            "redis_url": os.environ.get("BATON_REDIS_URL") or None,
            "tiles_url": os.environ.get("BATON_TILES_URL") or None,
            "secure_cookies": os.environ.get("BATON_SECURE_COOKIES", "").lower() in ("1", "true", "yes"),
            "ingest_process": os.environ.get("BATON_INGEST_PROCESS", "").lower() in ("1", "true", "yes"),
        }
        if os.environ.get("BATON_OPERATOR_ORG"):
            values["operator_org"] = os.environ["BATON_OPERATOR_ORG"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass
class ApiContext:
    """Shared, thread-safe objects of one API process."""

    settings: ApiSettings
    engine: Engine
    sessions: sessionmaker[Session]
    travel: TravelTimeProvider
    accounts: AccountStore
    tokens: TokenService
    secret: str
    pubsub: PubSub
    extra: dict[str, Any] = field(default_factory=dict)
    live: LiveRuntimes = field(init=False)

    def __post_init__(self) -> None:
        self.live = LiveRuntimes(lambda org_id, forward: LiveRuntime(self.bus(org_id, relay=False), forward))

    @classmethod
    def build(cls, settings: ApiSettings, travel: TravelTimeProvider | None = None) -> ApiContext:
        """Connect and migrate the database, resolve the secret and the pub/sub adapter.

        Raises:
            baton.entrypoints.api.security.InsecureConfiguration: without a usable secret in production.
            sqlalchemy.exc.SQLAlchemyError: when the database cannot be reached or migrated.
        """
        engine = make_engine(settings.database_url)
        migrate(engine)
        sessions = session_factory(engine)
        secret = resolve_secret_key(settings.secret_key)
        provider = travel or make_provider(os.environ.get("BATON_TRAVEL", "great-circle"))
        return cls(settings=settings, engine=engine, sessions=sessions, travel=provider,
                   accounts=AccountStore(sessions), tokens=TokenService(secret, settings.token_ttl_s),
                   secret=secret, pubsub=make_pubsub(settings.redis_url))

    @staticmethod
    def channel(org_id: str) -> str:
        """The live channel of an organisation's events."""
        return f"baton:events:{org_id}"

    def uow(self, org_id: str) -> SqlAlchemyUnitOfWork:
        """A unit of work confined to ``org_id`` (for reads)."""
        return SqlAlchemyUnitOfWork(self.sessions, org_id=org_id)

    def bus(self, org_id: str, *, relay: bool = True) -> MessageBus:
        """A message bus confined to ``org_id``; its committed events are published live and, with
        ``relay`` (every bus but the live board's own), handed to the organisation's live board
        when its day is being orchestrated (:mod:`baton.entrypoints.api.live_runtime`)."""
        bus = MessageBus(self.uow(org_id), Dependencies(travel=self.travel))
        channel = self.channel(org_id)

        def publish(event: Event) -> None:
            self.pubsub.publish(channel, event_message(event))

        bus.subscribe(None, publish)
        if relay:
            def to_live(event: Event) -> None:
                runtime = self.live.get(org_id)
                if runtime is not None:
                    runtime.relay(event)

            bus.subscribe(None, to_live)
        return bus

    def close(self) -> None:
        self.pubsub.close()
        self.engine.dispose()


def event_message(event: Event) -> dict[str, Any]:
    """The JSON form of an event sent to dashboards: ``name``, ``aggregate_id``, ``occurred_at``, ``actor``, payload."""
    return {"name": event.name, "aggregate_id": event.aggregate_id, "occurred_at": event.occurred_at.isoformat(),
            "actor": event.actor, "payload": event.payload()}
