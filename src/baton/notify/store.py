"""Reading and writing notification settings, preferences, template overrides and the message log.

Every function works in the caller's session and does not commit.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from baton.adapters import orm_notify as tn
from baton.adapters.orm import utcnow
from baton.notify.model import NotifySettings, Preference


def load_settings(session: Session, org_id: str) -> NotifySettings | None:
    """The organisation's settings, or ``None`` when notifications were never configured."""
    row = session.execute(select(tn.settings).where(tn.settings.c.org_id == org_id)).mappings().first()
    if row is None:
        return None
    data = {k: v for k, v in row.items() if k != "updated_at"}
    data["channels"] = tuple(data["channels"])
    return NotifySettings(**data)


def save_settings(session: Session, settings: NotifySettings) -> NotifySettings:
    """Insert or replace the organisation's settings; an empty ``signing_secret`` gets a random one."""
    if not settings.signing_secret:
        from dataclasses import replace

        settings = replace(settings, signing_secret=secrets.token_urlsafe(32))
    values: dict[str, Any] = asdict(settings) | {"channels": list(settings.channels), "updated_at": utcnow()}
    session.execute(delete(tn.settings).where(tn.settings.c.org_id == settings.org_id))
    session.execute(insert(tn.settings).values(**values))
    return settings


def load_preferences(session: Session, org_id: str, keys: list[str]) -> dict[str, Preference]:
    """Preferences of the customers ``keys`` that have any, by key."""
    if not keys:
        return {}
    p = tn.preferences
    rows = session.execute(select(p).where(p.c.org_id == org_id, p.c.customer_key.in_(sorted(set(keys)))))
    return {
        r.customer_key: Preference(r.customer_key, tuple(r.channels) if r.channels else None, r.opted_out,
                                   r.language, r.timezone, r.quiet_start, r.quiet_end)
        for r in rows
    }


def save_preference(session: Session, org_id: str, pref: Preference) -> None:
    """Insert or replace one customer's preferences."""
    p = tn.preferences
    session.execute(delete(p).where(p.c.org_id == org_id, p.c.customer_key == pref.customer_key))
    session.execute(insert(p).values(
        org_id=org_id, customer_key=pref.customer_key, channels=list(pref.channels) if pref.channels else None,
        opted_out=pref.opted_out, language=pref.language, timezone=pref.timezone, quiet_start=pref.quiet_start,
        quiet_end=pref.quiet_end, updated_at=utcnow()))


def load_overrides(session: Session, org_id: str) -> dict[tuple[str, str], str]:
    """The organisation's template overrides: ``{(kind, language): source}``."""
    t = tn.templates
    return {(r.kind, r.language): r.source for r in session.execute(select(t).where(t.c.org_id == org_id))}


def save_template(session: Session, org_id: str, kind: str, language: str, source: str) -> None:
    """Insert or replace one template override (validate it first with ``render.validate_template``)."""
    t = tn.templates
    session.execute(delete(t).where(t.c.org_id == org_id, t.c.kind == kind, t.c.language == language))
    session.execute(insert(t).values(org_id=org_id, kind=kind, language=language, source=source,
                                     updated_at=utcnow()))


def message_log(session: Session, org_id: str, order_id: str) -> list[dict[str, Any]]:
    """Every message of one order, oldest first, as dicts of the ``notify_messages`` columns."""
    m = tn.messages
    rows = session.execute(select(m).where(m.c.org_id == org_id, m.c.order_id == order_id)
                           .order_by(m.c.created_at, m.c.event_at, m.c.id)).mappings()
    return [dict(r) for r in rows]


def set_status(session: Session, message_id: str, status: str, **values: Any) -> None:
    """Set a message's status (and any other columns)."""
    session.execute(update(tn.messages).where(tn.messages.c.id == message_id).values(status=status, **values))
