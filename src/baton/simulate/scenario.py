"""Disruption scenarios: what goes wrong during a simulated day, read from YAML.

Times are local ``HH:MM`` of the day's depot timezone; percentages are 0-100. Keys (all
optional, defaults in :class:`Scenario`): ``travel_sigma``, ``travel_bias``, ``service_sigma``,
``not_home_pct``, ``cancellation_pct``, ``cancellations_between``, ``new_orders_per_hour``,
``new_orders_between``, ``new_order_lead_min``, ``new_order_window_min``, ``traffic_incidents``
(list of ``{start, end, factor, radius_km, lat?, lng?}``; ``radius_km: 0`` = city-wide; without
``lat``/``lng`` the centre is a random order's address), ``breakdowns`` (list of ``{at,
vehicle?}``), ``fleet`` (captive / 3PL / gig mix) and ``carrier_outage`` (``{carrier, at, until?}``): see
:mod:`baton.simulate.fleet`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from baton.domain.errors import ValidationError
from baton.simulate.fleet import FleetMix, Gig, Outage, ThirdParty


@dataclass(frozen=True)
class Incident:
    """Travel x ``factor`` from ``start`` to ``end`` (``HH:MM``) within ``radius_km`` of a centre."""

    start: str
    end: str
    factor: float
    radius_km: float = 0.0
    lat: float | None = None
    lng: float | None = None


@dataclass(frozen=True)
class Breakdown:
    """A van (``vehicle`` id, or a random one) stops for the day at ``at`` (``HH:MM``)."""

    at: str
    vehicle: str | None = None


@dataclass(frozen=True)
class Scenario:
    """A disruption scenario (see the module docstring for the keys and units)."""

    name: str = "custom"
    travel_sigma: float = 0.20
    travel_bias: float = 1.05
    service_sigma: float = 0.30
    not_home_pct: float = 5.0
    cancellation_pct: float = 0.0
    cancellations_between: tuple[str, str] = ("08:00", "14:00")
    new_orders_per_hour: float = 0.0
    new_orders_between: tuple[str, str] = ("08:00", "13:00")
    new_order_lead_min: int = 60
    new_order_window_min: int = 240
    holdout_pct: float = 0.0
    traffic_incidents: tuple[Incident, ...] = field(default_factory=tuple)
    breakdowns: tuple[Breakdown, ...] = field(default_factory=tuple)
    fleet: FleetMix | None = None
    carrier_outage: Outage | None = None


def minutes(hhmm: str) -> int:
    """``"HH:MM"`` → minutes after midnight.

    Raises:
        ValidationError: when the text is not ``HH:MM`` within a day.
    """
    try:
        h, m = str(hhmm).split(":")
        value = int(h) * 60 + int(m)
    except ValueError as exc:
        raise ValidationError(f"time {hhmm!r} must be HH:MM") from exc
    if not 0 <= value < 24 * 60:
        raise ValidationError(f"time {hhmm!r} is not within a day")
    return value


def parse_scenario(data: dict[str, Any]) -> Scenario:
    """Build a :class:`Scenario` from parsed YAML.

    Raises:
        ValidationError: on an unknown key or an invalid value (the message names the key).
    """
    known = set(Scenario.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationError(f"{unknown[0]}: unknown scenario key (known: {', '.join(sorted(known))})")
    values = dict(data)
    try:
        values["traffic_incidents"] = tuple(Incident(**i) for i in data.get("traffic_incidents") or [])
        values["breakdowns"] = tuple(Breakdown(**b) for b in data.get("breakdowns") or [])
    except TypeError as exc:
        raise ValidationError(f"traffic_incidents/breakdowns: {exc}") from exc
    values["fleet"] = _fleet(data["fleet"]) if data.get("fleet") is not None else None
    values["carrier_outage"] = _outage(data["carrier_outage"], values["fleet"]) \
        if data.get("carrier_outage") is not None else None
    for key in ("cancellations_between", "new_orders_between"):
        if key in values:
            pair = tuple(values[key])
            if len(pair) != 2:
                raise ValidationError(f"{key}: needs [start, end]")
            for x in pair:
                minutes(x)
            values[key] = pair
    scenario = Scenario(**values)
    for key in ("not_home_pct", "cancellation_pct", "holdout_pct"):
        if not 0 <= getattr(scenario, key) <= 100:
            raise ValidationError(f"{key}: must be within 0..100, got {getattr(scenario, key)}")
    for key in ("travel_sigma", "service_sigma", "new_orders_per_hour"):
        if getattr(scenario, key) < 0:
            raise ValidationError(f"{key}: must be >= 0")
    for inc in scenario.traffic_incidents:
        if not inc.factor > 0:
            raise ValidationError(f"traffic_incidents.factor: must be > 0, got {inc.factor}")
        minutes(inc.start)
        minutes(inc.end)
    for b in scenario.breakdowns:
        minutes(b.at)
    return scenario


def _fleet(data: Any) -> FleetMix:
    if not isinstance(data, dict):
        raise ValidationError("fleet: must be a mapping")
    allowed = {"captive", "captive_radius_km", "3pl", "gig", "rules", "health_check_s"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(f"fleet.{unknown[0]}: unknown key (known: {', '.join(sorted(allowed))})")
    try:
        third = tuple(ThirdParty(**{**t, "pickups": tuple(t.get("pickups", ("10:00", "13:00")))})
                      for t in data.get("3pl") or [])
        gig = Gig(**data["gig"]) if data.get("gig") is not None else None
    except TypeError as exc:
        raise ValidationError(f"fleet.3pl/gig: {exc}") from exc
    mix = FleetMix(captive=data.get("captive"), captive_radius_km=data.get("captive_radius_km"),
                   third_party=third, gig=gig, rules=data.get("rules"),
                   health_check_s=int(data.get("health_check_s", 300)))
    if mix.captive is not None and mix.captive < 1:
        raise ValidationError(f"fleet.captive: must be >= 1 van, got {mix.captive}")
    if mix.captive_radius_km is not None and mix.captive_radius_km <= 0:
        raise ValidationError("fleet.captive_radius_km: must be > 0")
    if mix.health_check_s < 1:
        raise ValidationError("fleet.health_check_s: must be >= 1")
    ids = [t.carrier for t in third]
    if len(set(ids)) != len(ids) or "captive" in ids or "gig" in ids:
        raise ValidationError("fleet.3pl.carrier: ids must be unique and not 'captive' or 'gig'")
    for t in third:
        if t.capacity < 0 or t.price_per_order < 0 or not 0 <= t.sla <= 1:
            raise ValidationError(f"fleet.3pl[{t.carrier}]: capacity and price_per_order >= 0, sla within 0..1")
        for p in t.pickups:
            minutes(p)
    if gig is not None and (gig.couriers < 0 or gig.price_per_order < 0 or gig.orders_per_courier < 1):
        raise ValidationError("fleet.gig: couriers and price_per_order >= 0, orders_per_courier >= 1")
    return mix


def _outage(data: Any, fleet: FleetMix | None) -> Outage:
    if not isinstance(data, dict):
        raise ValidationError("carrier_outage: must be a mapping {carrier, at, until?}")
    try:
        outage = Outage(**data)
    except TypeError as exc:
        raise ValidationError(f"carrier_outage: {exc}") from exc
    if fleet is None or outage.carrier not in {t.carrier for t in fleet.third_party}:
        raise ValidationError(f"carrier_outage.carrier: {outage.carrier!r} is not a 3PL of the scenario's fleet")
    minutes(outage.at)
    if outage.until is not None and minutes(outage.until) <= minutes(outage.at):
        raise ValidationError("carrier_outage.until: must be after at")
    return outage


#: Scenarios shipped with Baton, by name: ``standard`` (disruptions, own fleet only) and ``hybrid``
#: (the same plus 3PL carriers, a gig network and a 3PL outage).
BUNDLED = ("standard", "hybrid")


def load_scenario(path: Path | None = None) -> Scenario:
    """Read a scenario file; ``None`` = the standard scenario shipped with Baton; a bundled name
    (:data:`BUNDLED`, e.g. ``Path("hybrid")``) that is not an existing file = that shipped scenario.

    Raises:
        ValidationError: when the file is not a YAML mapping or a value is invalid.
        OSError: when the file cannot be read.
    """
    if path is None or (not path.exists() and str(path) in BUNDLED):
        name = "standard" if path is None else str(path)
        text = (resources.files("baton") / "simulate" / f"{name}.yaml").read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValidationError("scenario: the file must hold a YAML mapping")
    return parse_scenario(data)
