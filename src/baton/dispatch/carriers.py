"""Carriers: the captive fleet, 3PL carriers and gig networks as first-class dispatch resources.

A :class:`Carrier` has a service area (H3 cells and/or polygons), service levels, a same-day
cut-off, a daily capacity (orders per day), a :class:`RateCard` (in ``currency``), a
:class:`Performance` record and an ``endpoint`` (base URL of its tender API, see
:mod:`baton.adapters.carriers.http`). Pure: no I/O. Units: km, kg, money in the rate card's
currency, local times of day in the carrier's IANA ``timezone``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

import h3

from baton.domain.errors import ValidationError
from baton.domain.fleet import FleetType
from baton.domain.order import Order, SlaTier
from baton.domain.values import LatLng


class ServiceLevel(StrEnum):
    """What a carrier offers: delivery the same day, the next day, or within a 2-hour slot."""

    SAME_DAY = "same_day"
    NEXT_DAY = "next_day"
    TWO_HOUR = "two_hour"


#: The service level an order's SLA tier needs from a carrier.
SLA_TO_LEVEL: dict[SlaTier, ServiceLevel] = {
    SlaTier.SAME_DAY: ServiceLevel.SAME_DAY,
    SlaTier.EXPRESS: ServiceLevel.TWO_HOUR,
    SlaTier.STANDARD: ServiceLevel.NEXT_DAY,
    SlaTier.SCHEDULED: ServiceLevel.NEXT_DAY,
}


def haversine_km(a: LatLng, b: LatLng) -> float:
    """Great-circle distance in km between two WGS84 points."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lng - a.lng)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def point_in_polygon(p: LatLng, ring: tuple[LatLng, ...]) -> bool:
    """Even-odd ray casting on a ring of ``(lat, lng)`` vertices (fine for city-sized areas)."""
    inside = False
    n = len(ring)
    for i in range(n):
        a, b = ring[i], ring[(i + 1) % n]
        if (a.lat > p.lat) != (b.lat > p.lat):
            lng_at = a.lng + (p.lat - a.lat) * (b.lng - a.lng) / (b.lat - a.lat)
            if p.lng < lng_at:
                inside = not inside
    return inside


@dataclass(frozen=True)
class ServiceArea:
    """Where a resource delivers: H3 cells (any resolution, mixed allowed) and/or polygons.

    Empty (no cells, no polygons) means "everywhere". ``polygons`` are rings of ``(lat, lng)``.

    Raises:
        ValidationError: on an invalid H3 cell or a polygon with fewer than 3 vertices.
    """

    h3_cells: frozenset[str] = frozenset()
    polygons: tuple[tuple[LatLng, ...], ...] = ()

    def __post_init__(self) -> None:
        for cell in self.h3_cells:
            if not h3.is_valid_cell(cell):
                raise ValidationError(f"service_area.h3: {cell!r} is not a valid H3 cell")
        for ring in self.polygons:
            if len(ring) < 3:
                raise ValidationError("service_area.polygons: a polygon needs at least 3 vertices")
        object.__setattr__(self, "_resolutions", frozenset(h3.get_resolution(c) for c in self.h3_cells))

    @property
    def unbounded(self) -> bool:
        return not self.h3_cells and not self.polygons

    def covers(self, p: LatLng) -> bool:
        """True when ``p`` lies in one of the cells or polygons (or the area is unbounded)."""
        if self.unbounded:
            return True
        resolutions: frozenset[int] = getattr(self, "_resolutions")  # noqa: B009
        for res in resolutions:
            if h3.latlng_to_cell(p.lat, p.lng, res) in self.h3_cells:
                return True
        return any(point_in_polygon(p, ring) for ring in self.polygons)


@dataclass(frozen=True)
class Surcharge:
    """An extra charge applied when the order has ``when_tag``/``when_feature`` or ``when_sla``
    (any that is set must match), or always when none is set."""

    name: str
    amount: float
    when_tag: str | None = None
    when_feature: str | None = None
    when_sla: str | None = None

    def applies(self, order: Order) -> bool:
        if self.when_tag is not None and self.when_tag not in order.tags:
            return False
        if self.when_feature is not None and self.when_feature not in order.required_features:
            return False
        return self.when_sla is None or self.when_sla == order.sla_tier.value


@dataclass(frozen=True)
class RateCard:
    """Price of one delivery: ``base`` + ``per_km`` x km + ``per_parcel`` x parcels + ``per_kg`` x kg
    + applicable surcharges, in ``currency`` (ISO 4217)."""

    base: float = 0.0
    per_km: float = 0.0
    per_parcel: float = 0.0
    per_kg: float = 0.0
    surcharges: tuple[Surcharge, ...] = ()
    currency: str = "BRL"

    def __post_init__(self) -> None:
        for name in ("base", "per_km", "per_parcel", "per_kg"):
            if getattr(self, name) < 0:
                raise ValidationError(f"rate_card.{name} must be >= 0, got {getattr(self, name)}")

    def quote(self, order: Order, distance_km: float) -> Quote:
        """The price of delivering ``order`` ``distance_km`` from the resource's origin."""
        parts = {
            "base": self.base,
            "distance": self.per_km * distance_km,
            "parcels": self.per_parcel * order.size.parcels,
            "weight": self.per_kg * order.size.weight_kg,
        }
        for s in self.surcharges:
            if s.applies(order):
                parts[f"surcharge:{s.name}"] = s.amount
        return Quote(round(sum(parts.values()), 2), self.currency, {k: round(v, 2) for k, v in parts.items()})


@dataclass(frozen=True)
class Quote:
    """A price and how it was made (``parts``: name -> amount), in ``currency``."""

    total: float
    currency: str
    parts: dict[str, float]


@dataclass(frozen=True)
class Performance:
    """Track record: rates in [0, 1], ``rating`` in [0, 5]."""

    acceptance_rate: float = 1.0
    on_time_pct: float = 1.0
    failed_attempt_pct: float = 0.0
    pod_compliance: float = 1.0
    rating: float = 4.0

    def __post_init__(self) -> None:
        for name in ("acceptance_rate", "on_time_pct", "failed_attempt_pct", "pod_compliance"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValidationError(f"performance.{name} must be within [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.rating <= 5.0:
            raise ValidationError(f"performance.rating must be within [0, 5], got {self.rating}")


@dataclass(frozen=True)
class Carrier:
    """A dispatch resource. ``fleet_type`` says whose it is; ``id`` ``captive`` is the own fleet.

    ``origin`` (hub, ``(lat, lng)``) is where distances for the rate card are measured from
    (``None``: the order's nearest depot). ``cutoff`` is the local time after which same-day and
    two-hour orders are no longer accepted for today. ``daily_capacity`` counts orders per day.
    ``tender_timeout_s`` is how long an offer waits for an answer; ``feed_silence_s`` how long its
    status feed may stay silent while it holds open orders before it is considered down (0: never).
    ``features`` are what its vehicles offer (``refrigerated``...). ``webhook_secret`` authenticates
    its status feed (HMAC). ``couriers`` (driver ids) makes it a network whose couriers Baton offers
    orders to directly, one courier at a time (they accept or decline through the API or CLI);
    otherwise offers go to its ``endpoint``.

    Raises:
        ValidationError: on an empty id, a bad timezone, or negative capacity/timeout.
    """

    id: str
    name: str
    fleet_type: FleetType
    service_area: ServiceArea = field(default_factory=ServiceArea)
    service_levels: frozenset[ServiceLevel] = frozenset(ServiceLevel)
    cutoff: time | None = None
    timezone: str = "UTC"
    daily_capacity: int = 1000
    rate_card: RateCard = field(default_factory=RateCard)
    performance: Performance = field(default_factory=Performance)
    features: frozenset[str] = frozenset()
    endpoint: str | None = None
    feed_format: str = "generic"
    webhook_secret: str | None = None
    tender_timeout_s: int = 300
    origin: LatLng | None = None
    active: bool = True
    feed_silence_s: int = 900
    couriers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.id:
            raise ValidationError("carrier id must not be empty")
        object.__setattr__(self, "fleet_type", FleetType(self.fleet_type))
        if self.daily_capacity < 0:
            raise ValidationError(f"carrier {self.id}: daily_capacity must be >= 0")
        if self.feed_silence_s < 0:
            raise ValidationError(f"carrier {self.id}: feed_silence_s must be >= 0")
        if any(not c for c in self.couriers) or len(set(self.couriers)) != len(self.couriers):
            raise ValidationError(f"carrier {self.id}: couriers must be distinct, non-empty driver ids")
        if self.tender_timeout_s <= 0:
            raise ValidationError(f"carrier {self.id}: tender_timeout_s must be > 0")
        try:
            ZoneInfo(self.timezone)
        except Exception as exc:
            raise ValidationError(f"carrier {self.id}: unknown timezone {self.timezone!r}") from exc

    @property
    def offers_to_couriers(self) -> bool:
        """True when Baton offers this carrier's orders to its ``couriers`` itself (no tender API)."""
        return bool(self.couriers)

    def past_cutoff(self, now: datetime) -> bool:
        """True when ``now`` (aware) is after today's local cut-off."""
        if self.cutoff is None:
            return False
        return now.astimezone(ZoneInfo(self.timezone)).time() > self.cutoff

    def why_not(self, order: Order, now: datetime) -> str | None:
        """Why this carrier cannot take ``order`` at ``now`` (``None``: it can), capacity aside."""
        if not self.active:
            return "carrier inactive"
        level = SLA_TO_LEVEL[order.sla_tier]
        if level not in self.service_levels:
            return f"does not offer {level.value} (order SLA {order.sla_tier.value})"
        if level in (ServiceLevel.SAME_DAY, ServiceLevel.TWO_HOUR) and self.past_cutoff(now):
            return f"past its {self.cutoff} cut-off for {level.value}"
        if not self.service_area.covers(order.location):
            return "order outside its service area"
        missing = order.required_features - self.features
        if missing:
            return f"lacks {', '.join(sorted(missing))}"
        return None
