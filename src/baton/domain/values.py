"""Value objects: immutable, validated on construction, no I/O.

Units used throughout Baton's domain:

* coordinates: WGS84 degrees, always in ``(lat, lng)`` order;
* durations: seconds (``int``);
* distances: metres (``int``) unless a name says ``_km``;
* weights: kilograms, volumes: litres;
* money: ``float`` in the organisation's currency (see :class:`Money` for the code);
* instants: timezone-aware :class:`datetime.datetime`; naive datetimes are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from baton.domain.errors import ValidationError


def require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` if it is timezone-aware.

    Raises:
        ValidationError: when ``value`` has no tzinfo (naive datetimes are ambiguous).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


@dataclass(frozen=True, slots=True)
class LatLng:
    """A WGS84 position in degrees, ``lat`` in [-90, 90], ``lng`` in [-180, 180].

    Raises:
        ValidationError: when a coordinate is out of range or not finite.
    """

    lat: float
    lng: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0):
            raise ValidationError(f"lat must be within [-90, 90] degrees, got {self.lat}")
        if not (-180.0 <= self.lng <= 180.0):
            raise ValidationError(f"lng must be within [-180, 180] degrees, got {self.lng}")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A closed interval ``[start, end]`` of timezone-aware instants.

    Raises:
        ValidationError: when an end is naive or ``end < start``.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        require_aware(self.start, "time window start")
        require_aware(self.end, "time window end")
        if self.end < self.start:
            raise ValidationError(
                f"time window ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})"
            )

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant <= self.end

    def lateness(self, instant: datetime) -> timedelta:
        """How far ``instant`` is after the window's end (zero when on time or early)."""
        return max(instant - self.end, timedelta(0))

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Size:
    """What an order occupies, in several dimensions: parcels (count), weight (kg), volume (L).

    Raises:
        ValidationError: when a dimension is negative.
    """

    parcels: int = 1
    weight_kg: float = 0.0
    volume_l: float = 0.0

    def __post_init__(self) -> None:
        for name in ("parcels", "weight_kg", "volume_l"):
            if getattr(self, name) < 0:
                raise ValidationError(f"size.{name} must be >= 0, got {getattr(self, name)}")

    def __add__(self, other: Size) -> Size:
        return Size(
            self.parcels + other.parcels,
            self.weight_kg + other.weight_kg,
            self.volume_l + other.volume_l,
        )

    def fits_in(self, capacity: Size) -> bool:
        """True when no dimension exceeds ``capacity``'s."""
        return not self.exceeded_dimensions(capacity)

    def exceeded_dimensions(self, capacity: Size) -> list[str]:
        """Names of the dimensions (``parcels``, ``weight_kg``, ``volume_l``) above ``capacity``."""
        return [
            name
            for name in ("parcels", "weight_kg", "volume_l")
            if getattr(self, name) > getattr(capacity, name) + 1e-9
        ]


@dataclass(frozen=True, slots=True)
class Customer:
    """The person receiving an order. Phone in E.164 where known (``+5561...``)."""

    name: str
    phone: str | None = None
    email: str | None = None
    language: str = "en"


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address as free text plus its geocoded position."""

    line: str
    location: LatLng
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class CostRates:
    """What a vehicle costs to run, in ``currency`` (ISO 4217).

    ``per_km`` per kilometre driven, ``per_hour`` per hour of route duration (driving,
    service and waiting: the driver is paid for all of it), ``fixed_per_day`` once per
    vehicle used in a day.
    """

    per_km: float = 0.0
    per_hour: float = 0.0
    fixed_per_day: float = 0.0
    currency: str = "BRL"

    def __post_init__(self) -> None:
        for name in ("per_km", "per_hour", "fixed_per_day"):
            if getattr(self, name) < 0:
                raise ValidationError(f"cost.{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True, slots=True)
class BreakRule:
    """A driver break rule: ``duration_s`` of rest after at most ``after_work_s`` of work.

    The default (30 min after at most 4 h 30 of work) follows EU Regulation (EC)
    No 561/2006 art. 7 (45 min after 4.5 h driving, splittable) in its common
    simplified company form; set ``duration_s=0`` for no break.
    """

    after_work_s: int = 4 * 3600 + 1800
    duration_s: int = 1800

    def __post_init__(self) -> None:
        if self.after_work_s <= 0 or self.duration_s < 0:
            raise ValidationError("break rule needs after_work_s > 0 and duration_s >= 0")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused a state change: ``kind`` is ``system``, ``user``, ``driver``, ``carrier`` or ``customer``."""

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Actor:
        kind, _, ident = text.partition(":")
        return cls(kind, ident)


SYSTEM = Actor("system", "baton")

EMPTY_FEATURES: frozenset[str] = frozenset()


def features(*names: str) -> frozenset[str]:
    """A normalised (lower-case, stripped) feature/skill set, e.g. ``features("Refrigerated")``."""
    return frozenset(n.strip().lower() for n in names if n.strip())


__all__ = [
    "EMPTY_FEATURES",
    "SYSTEM",
    "Actor",
    "Address",
    "BreakRule",
    "CostRates",
    "Customer",
    "LatLng",
    "Size",
    "TimeWindow",
    "features",
    "require_aware",
]
