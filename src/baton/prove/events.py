"""Proof-of-delivery events, registered in :data:`baton.domain.events.EVENT_TYPES` on import
(:mod:`baton.adapters.orm_prove` imports this module). Names are ``pod.*``, ``custody.*``, ``claim.*``,
``driver.*``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from baton.domain.events import EVENT_TYPES, Event


@dataclass(frozen=True, kw_only=True)
class PodCaptured(Event):
    """A POD was stored (``kind`` delivered|failed; ``flags`` e.g. far_from_address, reassigned)."""

    name: ClassVar[str] = "pod.captured"
    aggregate: ClassVar[str] = "order"
    order_id: str
    pod_id: str
    kind: str
    source: str
    route_id: str | None = None
    content_hash: str = ""
    flags: list[str] | None = None
    device_time: str | None = None


@dataclass(frozen=True, kw_only=True)
class CustodyRecorded(Event):
    """A custody link was appended to an order's chain."""

    name: ClassVar[str] = "custody.recorded"
    aggregate: ClassVar[str] = "order"
    order_id: str
    seq: int
    kind: str
    hash: str


@dataclass(frozen=True, kw_only=True)
class ClaimChanged(Event):
    """A claim was opened or moved (``status`` the new one)."""

    name: ClassVar[str] = "claim.changed"
    aggregate: ClassVar[str] = "claim"
    claim_id: str
    order_id: str
    status: str
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class DriverActionRecorded(Event):
    """A driver action without an order state change (breaks, issues, conflicts); ``details`` JSON."""

    name: ClassVar[str] = "driver.action"
    aggregate: ClassVar[str] = "route"
    route_id: str
    action: str
    client_action_id: str
    status: str
    order_id: str | None = None
    device_time: str | None = None
    details: dict[str, Any] | None = None


for _cls in (PodCaptured, CustodyRecorded, ClaimChanged, DriverActionRecorded):
    EVENT_TYPES[_cls.name] = _cls
