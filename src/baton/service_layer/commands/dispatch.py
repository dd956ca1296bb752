"""Dispatch commands (issue 6): carriers, rules, tenders, carrier health, inbound status feeds."""

from __future__ import annotations

from dataclasses import dataclass

from baton.dispatch.carriers import Carrier
from baton.dispatch.feeds import StatusUpdate
from baton.dispatch.rules import RuleSet
from baton.service_layer.commands.base import Command


@dataclass(frozen=True, kw_only=True)
class RegisterCarriers(Command):
    """Add or replace carriers (by id), e.g. loaded with :func:`baton.dispatch.carrier_file.load_carriers`."""

    carriers: list[Carrier]


@dataclass(frozen=True, kw_only=True)
class LoadDispatchRules(Command):
    """Make ``rules`` the active dispatch policy (a version, once stored, never changes)."""

    rules: RuleSet


@dataclass(frozen=True, kw_only=True)
class DispatchOrders(Command):
    """Decide a resource for every ``created`` order without a dispatch decision (or only ``order_ids``,
    re-deciding them) and start tendering; returns a summary ``{action: count}``."""

    order_ids: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class RespondToTender(Command):
    """A carrier's later answer to a ``pending`` offer, or a gig courier's answer to an offer made to
    them (``driver_id``: the courier answering; the offer must be theirs, else ``NotFound``). A late
    or contradicting answer is refused (``TenderClosed``) and recorded; repeating the same answer is a no-op."""

    tender_id: str
    accepted: bool
    reason: str = ""
    driver_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExpireTenders(Command):
    """Time out every offer whose deadline is at or before ``at`` and move its order on."""


@dataclass(frozen=True, kw_only=True)
class CheckCarrierHealth(Command):
    """Probe carriers (``probe``), check their feeds' silence, open/close circuit breakers, and
    re-tender the open, not-picked-up orders of carriers found down."""

    probe: bool = True


@dataclass(frozen=True, kw_only=True)
class MarkCarrierDown(Command):
    """An operator takes a carrier out of service now; its open orders are re-tendered."""

    carrier_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class IngestCarrierStatus(Command):
    """Apply normalised inbound carrier statuses (duplicates by message id are ignored)."""

    updates: list[StatusUpdate]


@dataclass(frozen=True, kw_only=True)
class AssignDrivers(Command):
    """Match the current plan's planned routes (or only ``route_ids``) to drivers by shift, skills,
    zone familiarity and workload (:func:`baton.dispatch.drivers.assign_drivers`)."""

    route_ids: list[str] | None = None
