"""Wire Baton: database, unit of work, travel-time provider, message bus."""

from __future__ import annotations

from collections.abc import Callable

from baton.adapters.db import make_engine, migrate, session_factory
from baton.adapters.travel import make_provider
from baton.adapters.travel.base import TravelTimeProvider
from baton.service_layer.handlers import Dependencies
from baton.service_layer.messagebus import MessageBus
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork


def bootstrap(
    database_url: str | None = None,
    travel: TravelTimeProvider | None = None,
    on_planning_progress: Callable[[float, float], None] | None = None,
) -> MessageBus:
    """A ready :class:`MessageBus` on a migrated database.

    ``database_url``: SQLAlchemy URL; ``None`` = ``BATON_DATABASE_URL`` or the embedded SQLite file.
    ``travel``: travel-time provider; ``None`` = ``BATON_TRAVEL`` (``great-circle`` or an OSRM URL).
    """
    import os

    engine = make_engine(database_url)
    migrate(engine)
    from baton.notify.outbox import install as install_notification_outbox

    install_notification_outbox()  # no-op for organisations without enabled notify_settings
    from baton.service_layer.prove_hooks import install as install_custody_hook

    install_custody_hook()  # pickup/handover custody links and carrier PODs, in the events' transaction
    uow = SqlAlchemyUnitOfWork(session_factory(engine))
    provider = travel or make_provider(os.environ.get("BATON_TRAVEL", "great-circle"))
    return MessageBus(uow, Dependencies(travel=provider, on_planning_progress=on_planning_progress))
