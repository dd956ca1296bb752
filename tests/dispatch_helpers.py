"""Helpers for the dispatch tests: carriers, rules and a message bus on a test database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from baton.adapters.carriers.http import HttpCarrierClient
from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.dispatch.carriers import Carrier, Performance, RateCard
from baton.dispatch.rules import parse_rules
from baton.domain.fleet import FleetType
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from baton.service_layer.messagebus import MessageBus
from factories import local

T0 = local(9)


def carrier(cid: str, fleet: str = "3pl", *, endpoint: str | None = None, base: float = 10.0,
            rating: float = 4.0, **kw: Any) -> Carrier:
    """A carrier over the whole world with a flat price ``base`` (BRL) and ``rating``."""
    return Carrier(cid, cid.title(), FleetType(fleet), rate_card=RateCard(base=base),
                   performance=Performance(rating=rating), endpoint=endpoint, **kw)


def make_bus(db_url: str, *, attempts: int = 2) -> MessageBus:
    """A bus whose carrier client retries quickly (``attempts`` per call, 10 ms back-off)."""
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    bus.deps.carrier_client = HttpCarrierClient(timeout_s=2.0, attempts=attempts, backoff_s=0.01)
    return bus


def load_rules(bus: MessageBus, text: str, at: datetime = T0) -> None:
    bus.handle(commands.LoadDispatchRules(at=at, rules=parse_rules(text)))


CASCADE_3PL = """
version: 1
rules:
  - id: to-3pl
    candidates: {fleet_type: [3pl]}
    action: {type: cascade, order_by: [cost, -rating], fallback: unassigned}
default: {type: captive}
"""
