"""Claims of proof of delivery (issue 9): opening a claim with its event and webhook, moving it along
its lifecycle (``opened → under_review → refunded | rejected``). Split from
:mod:`baton.service_layer.prove_handlers`.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from baton.adapters.prove_records import ProveRecords
from baton.domain.errors import NotFound
from baton.domain.order import Order
from baton.prove.claims import Claim, ClaimStatus
from baton.prove.events import ClaimChanged
from baton.service_layer.commands import MoveClaim
from baton.service_layer.unit_of_work import AbstractUnitOfWork


def records(uow: AbstractUnitOfWork) -> ProveRecords:
    """The POD storage of ``uow``'s open session and organisation.

    Raises:
        RuntimeError: outside a SQL unit of work's ``with`` block.
    """
    session = getattr(uow, "session", None)
    if session is None:
        raise RuntimeError("proof-of-delivery storage needs a SQL unit of work inside its `with` block")
    return ProveRecords(session, getattr(uow, "org_id", "default"))


def new_claim(order: Order, at: datetime, reason: str, pod_id: str | None, photos: list[str]) -> Claim:
    return Claim(id=f"clm-{uuid.uuid4().hex[:12]}", order_id=order.id, status=ClaimStatus.OPENED, opened_at=at,
                 reason=reason.strip(), amount=order.declared_value, currency=order.currency, pod_id=pod_id,
                 photo_sha256s=list(photos), history=[{"status": "opened", "at": at.isoformat(), "actor": "",
                                                       "note": reason.strip()}])


def open_claim(uow: AbstractUnitOfWork, claim: Claim, at: datetime, actor: str) -> None:
    """Insert ``claim`` with its event and webhook (inside the caller's open transaction)."""
    claim.history[0]["actor"] = actor
    records(uow).add_claim(claim)
    uow.record(ClaimChanged(occurred_at=at, actor=actor, claim_id=claim.id, order_id=claim.order_id,
                            status=claim.status.value, note=claim.reason))
    _claim_webhook(uow, claim, at)


def _claim_webhook(uow: AbstractUnitOfWork, claim: Claim, at: datetime) -> None:
    """Queue ``claim.<status>`` to the organisation's webhook (notification outbox), when one is configured."""
    from baton.adapters import orm_notify as tn
    from baton.notify import store

    session = getattr(uow, "session", None)
    settings = store.load_settings(session, getattr(uow, "org_id", "default")) if session is not None else None
    if settings is None or not settings.webhook_url:
        return
    kind = f"claim.{claim.status.value}"
    body = json.dumps({"type": kind, "claim": claim.to_json(), "occurred_at": at.isoformat()}, sort_keys=True)
    session.execute(insert(tn.messages).values(  # type: ignore[union-attr]
        id=str(uuid.uuid4()), org_id=settings.org_id, dedupe_key=f"{claim.id}|{kind}|webhook", order_id=claim.order_id,
        customer_key="webhook", kind=kind, channel="webhook", recipient=settings.webhook_url, language="en",
        subject=kind, body=body, html=None, fallbacks=[], parent_id=None, status="pending", status_reason=None,
        event_at=at, not_before=at, created_at=datetime.now(UTC), attempts=0))


def move_claim(cmd: MoveClaim, uow: AbstractUnitOfWork, deps: Any) -> dict[str, Any]:
    """Raises: NotFound (unknown claim), IllegalTransition (not allowed from its state)."""
    with uow:
        rec = records(uow)
        claim = rec.claim(cmd.claim_id)
        if claim is None:
            raise NotFound(f"claim_id: unknown claim {cmd.claim_id}")
        if claim.move(cmd.to, at=cmd.at, actor=cmd.actor, note=cmd.note):
            rec.save_claim(claim)
            uow.record(ClaimChanged(occurred_at=cmd.at, actor=cmd.actor, claim_id=claim.id, order_id=claim.order_id,
                                    status=claim.status.value, note=cmd.note))
            _claim_webhook(uow, claim, cmd.at)
            uow.commit()
        return claim.to_json()
