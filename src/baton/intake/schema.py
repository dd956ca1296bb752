"""The import schema: one pydantic model per row kind (orders, vehicles, drivers, depots).

Each model validates one CSV row or JSON object and converts it to the domain object with
``to_domain()``. Parse a raw record (a mapping of column/key -> value) with ``parse()``: it
drops empty cells, accepts the CSV spellings (``tw1_start`` columns, ``;``-separated lists) and
raises :class:`RowInvalid` listing every bad field with a one-line message, e.g.
``('lat', 'must be within [-90, 90] degrees, got 91.0')``.

Units: coordinates WGS84 degrees ``(lat, lng)``; durations seconds unless the name says
``_h`` (hours) or ``_minutes``; weights kg; volumes L; money in ``currency`` (ISO 4217);
instants ISO-8601 **with** a UTC offset (``2025-03-10T09:00:00-03:00``). The full schema is in
``docs/import-format.md``.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, NamedTuple, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic import ValidationError as PydanticValidationError

from baton.domain.fleet import Depot, Driver, FleetType, Vehicle
from baton.domain.order import Order, SlaTier
from baton.domain.values import (
    Address,
    BreakRule,
    CostRates,
    Customer,
    LatLng,
    Size,
    TimeWindow,
    features,
)

T = TypeVar("T")

WHOLE_ROW = "(row)"
"""The ``field`` reported for a problem that concerns the row as a whole."""


class FieldProblem(NamedTuple):
    """One invalid field of a row: the column/key (``time_windows[0].end`` for nested JSON) and why."""

    field: str
    message: str


class RowInvalid(ValueError):
    """A row failed validation; ``problems`` lists every bad field (never empty)."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


# --- reusable field types -----------------------------------------------------------------


def _bounded(
    lo: float, hi: float = math.inf, unit: str = "", *, open_lo: bool = False
) -> Callable[[float], float]:
    """A check that a number is finite and within ``[lo, hi]`` (``(lo, hi]`` when ``open_lo``)."""

    def check(value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {value}")
        suffix = f" {unit}" if unit else ""
        if open_lo and value <= lo:
            raise ValueError(f"must be > {lo:g}{suffix}, got {value}")
        if value < lo or value > hi:
            bound = f">= {lo:g}" if hi == math.inf else f"within [{lo:g}, {hi:g}]"
            raise ValueError(f"must be {bound}{suffix}, got {value}")
        return value

    return check


def _non_empty(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _aware_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                "must be an ISO-8601 date-time with UTC offset (e.g. 2025-03-10T09:00:00-03:00), "
                f"got {text!r}"
            ) from None
    if not isinstance(value, datetime):
        raise ValueError(f"must be an ISO-8601 date-time string, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"must include a UTC offset (e.g. {value.isoformat()}-03:00), got naive {value.isoformat()!r}"
        )
    return value


def _split_list(value: Any) -> Any:
    """``"a; b"`` -> ``["a", "b"]``; lists pass through (validated as ``list[str]`` afterwards)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _pattern(regex: str, example: str, normalise: Callable[[str], str] = str.strip) -> Callable[[str], str]:
    """A check that the normalised string matches ``regex``; the message shows ``example``."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        normalised = normalise(value)
        if not compiled.match(normalised):
            raise ValueError(f"must be {example}, got {value!r}")
        return normalised

    return check


def _timezone(value: str) -> str:
    value = value.strip()
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"must be an IANA time zone like America/Sao_Paulo, got {value!r}") from None
    return value


Text = Annotated[str, AfterValidator(_non_empty)]
Lat = Annotated[float, AfterValidator(_bounded(-90, 90, "degrees"))]
Lng = Annotated[float, AfterValidator(_bounded(-180, 180, "degrees"))]
NonNegInt = Annotated[int, AfterValidator(_bounded(0))]
NonNegFloat = Annotated[float, AfterValidator(_bounded(0))]
PositiveFloat = Annotated[float, AfterValidator(_bounded(0, open_lo=True))]
AwareDatetime = Annotated[datetime, BeforeValidator(_aware_datetime)]
Labels = Annotated[list[str], BeforeValidator(_split_list)]
Phone = Annotated[str, AfterValidator(_pattern(
    r"^\+[1-9]\d{6,14}$", "an E.164 phone number like +5561999990000", lambda v: re.sub(r"[\s().-]", "", v)))]
Email = Annotated[str, AfterValidator(_pattern(
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an e-mail address like ana@example.com"))]
Language = Annotated[str, AfterValidator(_pattern(
    r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", "a BCP 47 language tag like pt-BR or en"))]
Currency = Annotated[str, AfterValidator(_pattern(
    r"^[A-Z]{3}$", "a 3-letter ISO 4217 code like BRL", lambda v: v.strip().upper()))]
Timezone = Annotated[str, AfterValidator(_timezone)]


# --- base row -----------------------------------------------------------------------------


def _describe(error: Mapping[str, Any]) -> str:
    """A one-line message for a pydantic error, without pydantic's ``Value error,`` prefix."""
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    message = str(error["msg"]).replace("Input should be", "must be", 1)
    return f"{message[:1].lower()}{message[1:]}, got {error['input']!r}"


def _loc_name(loc: tuple[int | str, ...]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or WHOLE_ROW


class RowModel(BaseModel, Generic[T]):
    """Shared behaviour of the row models (see the module docstring)."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, str_strip_whitespace=True, coerce_numbers_to_str=True  # ids as numbers
    )

    id: Text
    kind: ClassVar[str] = "row"
    csv_only_keys: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def known_keys(cls) -> frozenset[str]:
        """Every column/key this row kind understands (anything else is ignored with a warning)."""
        return frozenset(cls.model_fields) | cls.csv_only_keys

    @classmethod
    def required_keys(cls) -> frozenset[str]:
        return frozenset(name for name, f in cls.model_fields.items() if f.is_required())

    @classmethod
    def _fold(cls, data: dict[str, Any]) -> tuple[dict[str, str], list[FieldProblem]]:
        """Rewrite alternative spellings in ``data`` in place.

        Returns ``{canonical field: source key}`` (to name fields as the file does) and problems
        found while folding.
        """
        return {}, []

    @classmethod
    def parse(cls, record: Mapping[str, Any]) -> Self:
        """Validate one raw record; ``None`` and blank strings count as absent.

        Raises:
            RowInvalid: listing every invalid or missing field.
        """
        data = {
            k: v for k, v in record.items()
            if isinstance(k, str) and v is not None and not (isinstance(v, str) and not v.strip())
        }
        aliases, problems = cls._fold(data)
        try:
            row = cls.model_validate(data)
        except PydanticValidationError as exc:
            for err in exc.errors():
                name = _loc_name(err["loc"])
                problems.append(FieldProblem(aliases.get(name, name), _describe(err)))
        if problems:
            raise RowInvalid(problems)
        return row

    def to_domain(self) -> T:
        """The domain object this row describes.

        Raises:
            baton.domain.errors.ValidationError: only for a rule the schema does not check itself.
        """
        raise NotImplementedError


# --- orders -------------------------------------------------------------------------------


class WindowRow(BaseModel):
    """One time window: ``start`` and ``end`` aware instants, ``end >= start``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: AwareDatetime
    end: AwareDatetime

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and end < start:
            raise ValueError(f"window ends ({end.isoformat()}) before it starts ({start.isoformat()})")
        return end


_CSV_WINDOW_KEYS = (("tw_start", "tw_end"), ("tw1_start", "tw1_end"), ("tw2_start", "tw2_end"))


class OrderRow(RowModel[Order]):
    """One order. Required: ``id``, ``customer_name``, ``address``, ``lat``, ``lng``.

    Time windows: JSON ``time_windows: [{"start", "end"}, ...]``; CSV columns ``tw_start/tw_end``
    or ``tw1_start/tw1_end`` and ``tw2_start/tw2_end`` (never both spellings in one row).
    No window = deliverable any time. Lists (``required_features``, ``tags``) are JSON lists or
    ``;``-separated strings.
    """

    kind: ClassVar[str] = "order"
    csv_only_keys: ClassVar[frozenset[str]] = frozenset(k for pair in _CSV_WINDOW_KEYS for k in pair)

    external_ref: str | None = None
    customer_name: Text
    phone: Phone | None = None
    email: Email | None = None
    language: Language = "en"
    address: Text
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None
    lat: Lat
    lng: Lng
    time_windows: list[WindowRow] = Field(default_factory=list)
    service_time_s: NonNegInt = 300
    parcels: NonNegInt = 1
    weight_kg: NonNegFloat = 0.0
    volume_l: NonNegFloat = 0.0
    required_features: Labels = Field(default_factory=list)
    priority: Annotated[int, AfterValidator(_bounded(1, 5, "(1 low .. 5 critical)"))] = 1
    sla_tier: Annotated[SlaTier, BeforeValidator(_lower)] = SlaTier.STANDARD
    declared_value: NonNegFloat = 0.0
    currency: Currency = "BRL"
    notes: str = ""
    tags: Labels = Field(default_factory=list)

    @classmethod
    def _fold(cls, data: dict[str, Any]) -> tuple[dict[str, str], list[FieldProblem]]:
        used = [pair for pair in _CSV_WINDOW_KEYS if pair[0] in data or pair[1] in data]
        if used and ("time_windows" in data or (("tw_start", "tw_end") in used and len(used) > 1)):
            return {}, [FieldProblem("time_windows", "give one of time_windows, tw_start/tw_end or "
                                                      "tw1_*/tw2_* columns, not several")]
        aliases: dict[str, str] = {}
        if used:
            data["time_windows"] = [{k: data.pop(src) for k, src in (("start", start), ("end", end))
                                     if src in data} for start, end in used]
        for i, (start, end) in enumerate(used):
            aliases |= {f"time_windows[{i}].start": start, f"time_windows[{i}].end": end,
                        f"time_windows[{i}]": f"{start}/{end}"}
        return aliases, []

    def to_domain(self) -> Order:
        return Order(
            id=self.id,
            external_ref=self.external_ref,
            customer=Customer(self.customer_name, self.phone, self.email, self.language),
            address=Address(self.address, LatLng(self.lat, self.lng), self.city, self.postal_code,
                            self.country),
            time_windows=[TimeWindow(w.start, w.end) for w in self.time_windows],
            service_time_s=self.service_time_s,
            size=Size(self.parcels, self.weight_kg, self.volume_l),
            required_features=features(*self.required_features),
            priority=self.priority,
            sla_tier=self.sla_tier,
            declared_value=self.declared_value,
            currency=self.currency,
            notes=self.notes,
            tags=features(*self.tags),
        )


# --- fleet --------------------------------------------------------------------------------


class VehicleRow(RowModel[Vehicle]):
    """One vehicle. Required: ``id``, ``start_depot_id`` and the three capacities.

    Capacities are per dimension (parcels count, kg, L); costs are in ``currency``;
    ``end_depot_id`` empty = returns to the start depot.
    """

    kind: ClassVar[str] = "vehicle"

    name: str = ""
    start_depot_id: Text
    end_depot_id: str | None = None
    capacity_parcels: NonNegInt
    capacity_weight_kg: NonNegFloat
    capacity_volume_l: NonNegFloat
    features: Labels = Field(default_factory=list)
    cost_per_km: NonNegFloat = 0.0
    cost_per_hour: NonNegFloat = 0.0
    fixed_cost_per_day: NonNegFloat = 0.0
    currency: Currency = "BRL"
    fleet_type: Annotated[FleetType, BeforeValidator(_lower)] = FleetType.CAPTIVE
    carrier_id: str | None = None
    speed_factor: PositiveFloat = 1.0

    def to_domain(self) -> Vehicle:
        return Vehicle(
            id=self.id,
            name=self.name,
            capacity=Size(self.capacity_parcels, self.capacity_weight_kg, self.capacity_volume_l),
            start_depot_id=self.start_depot_id,
            end_depot_id=self.end_depot_id,
            features=features(*self.features),
            costs=CostRates(self.cost_per_km, self.cost_per_hour, self.fixed_cost_per_day, self.currency),
            fleet_type=self.fleet_type,
            carrier_id=self.carrier_id,
            speed_factor=self.speed_factor,
        )


class DriverRow(RowModel[Driver]):
    """One driver. Required: ``id``, ``name``, ``shift_start``, ``shift_end`` (aware, end after start).

    ``max_working_time_h`` hours (default 9), a break of ``break_minutes`` (default 30, 0 = none)
    after at most ``break_after_h`` hours of work (default 4.5).
    """

    kind: ClassVar[str] = "driver"

    name: Text
    phone: Phone | None = None
    shift_start: AwareDatetime
    shift_end: AwareDatetime
    max_working_time_h: Annotated[float, AfterValidator(_bounded(0.25, 24, "hours"))] = 9.0
    break_after_h: Annotated[float, AfterValidator(_bounded(0.25, 24, "hours"))] = 4.5
    break_minutes: Annotated[float, AfterValidator(_bounded(0, 240, "minutes"))] = 30.0
    skills: Labels = Field(default_factory=list)
    vehicle_id: str | None = None

    @field_validator("shift_end")
    @classmethod
    def _end_after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("shift_start")
        if start is not None and end <= start:
            raise ValueError(f"shift ends ({end.isoformat()}) before or when it starts ({start.isoformat()})")
        return end

    def to_domain(self) -> Driver:
        return Driver(
            id=self.id,
            name=self.name,
            phone=self.phone,
            shift_start=self.shift_start,
            shift_end=self.shift_end,
            max_working_time_s=round(self.max_working_time_h * 3600),
            break_rule=BreakRule(round(self.break_after_h * 3600), round(self.break_minutes * 60)),
            skills=features(*self.skills),
            vehicle_id=self.vehicle_id,
        )


class DepotRow(RowModel[Depot]):
    """One depot. Required: ``id``, ``lat``, ``lng``; ``timezone`` IANA (default ``UTC``).

    ``address`` is informational (the domain :class:`Depot` keeps only the position);
    ``opens``/``closes`` optional aware instants; ``loading_time_s`` seconds per route start.
    """

    kind: ClassVar[str] = "depot"

    name: str = ""
    lat: Lat
    lng: Lng
    timezone: Timezone = "UTC"
    address: str = ""
    opens: AwareDatetime | None = None
    closes: AwareDatetime | None = None
    loading_time_s: NonNegInt = 0

    def to_domain(self) -> Depot:
        return Depot(
            id=self.id,
            name=self.name or self.id,
            location=LatLng(self.lat, self.lng),
            timezone=self.timezone,
            opens=self.opens,
            closes=self.closes,
            loading_time_s=self.loading_time_s,
        )


__all__ = [
    "WHOLE_ROW",
    "DepotRow",
    "DriverRow",
    "FieldProblem",
    "OrderRow",
    "RowInvalid",
    "RowModel",
    "VehicleRow",
    "WindowRow",
]
