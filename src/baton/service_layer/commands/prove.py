"""Commands of proof of delivery (issue 9), handled in :mod:`baton.service_layer.prove_handlers`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from baton.service_layer.commands.base import Command


@dataclass(frozen=True, kw_only=True)
class ApplyDriverActions(Command):
    """Apply a driver's queued actions in order (see ``POST /api/v1/driver/actions``).

    ``actions``: raw action dicts (validated here, one result each); ``driver_id``: the caller's driver;
    ``store``: the :class:`baton.adapters.objectstore.ObjectStore` holding media; ``rules``: a
    :class:`baton.prove.requirements.RuleSet` (``None``: defaults).
    Returns ``list[dict]``: ``{"client_action_id", "status", "message", "pod_id"?}`` per action.
    """

    driver_id: str
    actions: list[dict[str, Any]]
    store: Any
    rules: Any = None


@dataclass(frozen=True, kw_only=True)
class RegisterMedia(Command):
    """Record an uploaded media object (already in the object store) for the organisation."""

    sha256: str
    size: int
    content_type: str


@dataclass(frozen=True, kw_only=True)
class RegisterMediaMany(Command):
    """Record many media objects (already in the object store) in one transaction.

    ``items``: ``(sha256, size in bytes, content_type)`` each; the ones already known are skipped.
    Returns how many were new.
    """

    items: list[tuple[str, int, str]]


@dataclass(frozen=True, kw_only=True)
class MoveClaim(Command):
    """Move a claim along its lifecycle (``to``: under_review, refunded or rejected)."""

    claim_id: str
    to: str
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordCarrierPod(Command):
    """Store a carrier's POD for an order delivered by that carrier (normalised, source=carrier).

    ``pod``: a :class:`baton.prove.carrier_pod.CarrierPod`.
    """

    carrier_id: str
    pod: Any
    extra: dict[str, Any] = field(default_factory=dict)
