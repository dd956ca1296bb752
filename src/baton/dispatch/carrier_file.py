"""Load carriers from YAML or JSON, and write them back (see ``examples/carriers.yaml``).

Document shape::

    carriers:
      - id: rapido                       # unique
        name: Rápido Entregas
        fleet_type: 3pl                  # captive | 3pl | gig
        service_area:
          h3: [88a8a2a4e3fffff]          # H3 cells, any resolution
          polygons: [[[-15.70, -47.95], [-15.70, -47.80], [-15.85, -47.80]]]   # rings of [lat, lng]
        service_levels: [same_day, next_day]     # same_day | next_day | two_hour
        cutoff: "14:00"                  # local time (timezone below) after which same-day is refused
        timezone: America/Sao_Paulo
        daily_capacity: 400              # orders per day
        rate_card: {base: 9.5, per_km: 0.8, per_parcel: 1.0, per_kg: 0.2, currency: BRL,
                    surcharges: [{name: cold, amount: 6, when_tag: cold_chain}]}
        performance: {acceptance_rate: 0.9, on_time_pct: 0.93, failed_attempt_pct: 0.04,
                      pod_compliance: 0.98, rating: 4.4}
        features: [refrigerated]
        endpoint: http://127.0.0.1:8701  # tender API base URL
        feed_format: generic             # generic | rapido | flashbox (inbound status format)
        webhook_secret: s3cret           # HMAC key of its status webhook
        tender_timeout_s: 120
        feed_silence_s: 900              # status feed silent this long with open orders -> down (0: never)
        origin: [-15.80, -47.90]         # hub [lat, lng]
        couriers: [gig-17, gig-42]       # gig couriers (driver ids) Baton offers orders to directly

Every error names the file, line and field.
"""

from __future__ import annotations

from datetime import time
from typing import Any

import h3

from baton.dispatch.carriers import (
    Carrier,
    Performance,
    RateCard,
    ServiceArea,
    ServiceLevel,
    Surcharge,
)
from baton.dispatch.source import Doc, Node, SourceError, load_document
from baton.domain.errors import ValidationError
from baton.domain.fleet import FleetType
from baton.domain.values import LatLng

CARRIER_FIELDS = (
    "id", "name", "fleet_type", "service_area", "service_levels", "cutoff", "timezone", "daily_capacity",
    "rate_card", "performance", "features", "endpoint", "feed_format", "webhook_secret", "tender_timeout_s",
    "origin", "active", "feed_silence_s", "couriers",
)
FEED_FORMATS = ("generic", "rapido", "flashbox")


def _latlng(doc: Doc, path: tuple[str | int, ...], value: Any) -> LatLng:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise doc.error(path, f"must be [lat, lng] in degrees, got {value!r}")
    try:
        return LatLng(float(value[0]), float(value[1]))
    except ValidationError as exc:
        raise doc.error(path, str(exc)) from exc


def _time(node: Node, key: str) -> time | None:
    text = node.text(key, None)
    if text is None:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError as exc:
        raise node.error(key, f"must be a local time HH:MM, got {text!r}") from exc


def _area(node: Node) -> ServiceArea:
    if not node.has("service_area"):
        return ServiceArea()
    area = node.child("service_area", ("h3", "polygons"))
    cells = area.str_list("h3", [])
    for i, cell in enumerate(cells):
        if not h3.is_valid_cell(cell):
            raise node.doc.error((*area.path, "h3", i), f"{cell!r} is not a valid H3 cell")
    rings = area.raw("polygons", [])
    if not isinstance(rings, list):
        raise area.error("polygons", "must be a list of rings of [lat, lng]")
    polygons = []
    for i, ring in enumerate(rings):
        if not isinstance(ring, list) or len(ring) < 3:
            raise node.doc.error((*area.path, "polygons", i), "a polygon needs a list of at least 3 [lat, lng]")
        polygons.append(tuple(_latlng(node.doc, (*area.path, "polygons", i, j), p) for j, p in enumerate(ring)))
    try:
        return ServiceArea(frozenset(cells), tuple(polygons))
    except ValidationError as exc:
        raise area.error(None, str(exc)) from exc


def _rate_card(node: Node) -> RateCard:
    if not node.has("rate_card"):
        return RateCard()
    rc = node.child("rate_card", ("base", "per_km", "per_parcel", "per_kg", "surcharges", "currency"))
    surcharges = []
    for s in rc.list_of_nodes("surcharges", ("name", "amount", "when_tag", "when_feature", "when_sla")):
        surcharges.append(Surcharge(s.text("name"), float(s.number("amount", minimum=0)), s.text("when_tag", None),
                                    s.text("when_feature", None), s.text("when_sla", None)))
    currency = rc.text("currency", "BRL")
    if len(currency) != 3 or not currency.isalpha():
        raise rc.error("currency", f"must be an ISO 4217 code like BRL, got {currency!r}")
    return RateCard(
        float(rc.number("base", 0.0, minimum=0)), float(rc.number("per_km", 0.0, minimum=0)),
        float(rc.number("per_parcel", 0.0, minimum=0)), float(rc.number("per_kg", 0.0, minimum=0)),
        tuple(surcharges), currency.upper(),
    )


def _performance(node: Node) -> Performance:
    if not node.has("performance"):
        return Performance()
    p = node.child("performance", ("acceptance_rate", "on_time_pct", "failed_attempt_pct", "pod_compliance",
                                   "rating"))
    return Performance(
        float(p.number("acceptance_rate", 1.0, minimum=0, maximum=1)),
        float(p.number("on_time_pct", 1.0, minimum=0, maximum=1)),
        float(p.number("failed_attempt_pct", 0.0, minimum=0, maximum=1)),
        float(p.number("pod_compliance", 1.0, minimum=0, maximum=1)),
        float(p.number("rating", 4.0, minimum=0, maximum=5)),
    )


def carrier_from_node(node: Node) -> Carrier:
    """One carrier from a mapping node.

    Raises:
        SourceError: naming the line and field of the first problem.
    """
    fleet = node.text("fleet_type")
    if fleet not in {f.value for f in FleetType}:
        raise node.error("fleet_type", f"must be one of captive, 3pl, gig, got {fleet!r}")
    feed = node.text("feed_format", "generic")
    if feed not in FEED_FORMATS:
        raise node.error("feed_format", f"must be one of {', '.join(FEED_FORMATS)}, got {feed!r}")
    levels = node.str_list("service_levels", [lv.value for lv in ServiceLevel],
                           choices=[lv.value for lv in ServiceLevel])
    origin = node.raw("origin", None)
    try:
        return Carrier(
            id=node.text("id"), name=node.text("name", node.data.get("id", "")), fleet_type=FleetType(fleet),
            service_area=_area(node), service_levels=frozenset(ServiceLevel(v) for v in levels),
            cutoff=_time(node, "cutoff"), timezone=node.text("timezone", "UTC"),
            daily_capacity=node.integer("daily_capacity", 1000, minimum=0), rate_card=_rate_card(node),
            performance=_performance(node),
            features=frozenset(f.lower() for f in node.str_list("features", [])),
            endpoint=node.text("endpoint", None), feed_format=feed, webhook_secret=node.text("webhook_secret", None),
            tender_timeout_s=node.integer("tender_timeout_s", 300, minimum=1),
            origin=None if origin is None else _latlng(node.doc, (*node.path, "origin"), origin),
            active=node.boolean("active", True), feed_silence_s=node.integer("feed_silence_s", 900, minimum=0),
            couriers=tuple(node.str_list("couriers", [])),
        )
    except SourceError:
        raise
    except ValidationError as exc:
        raise node.error(None, str(exc)) from exc


def load_carriers(text: str, source: str = "<text>") -> list[Carrier]:
    """Parse a carriers document (YAML or JSON, shape in the module docstring).

    Raises:
        SourceError: on a syntax error, unknown/missing/invalid field or duplicate id (with line).
    """
    doc = load_document(text, source)
    if not isinstance(doc.value, dict):
        raise doc.error((), "must be a mapping with a 'carriers' list")
    root = Node(doc, (), ("carriers",))
    out: list[Carrier] = []
    seen: set[str] = set()
    for node in root.list_of_nodes("carriers", CARRIER_FIELDS):
        carrier = carrier_from_node(node)
        if carrier.id in seen:
            raise node.error("id", f"duplicate carrier id {carrier.id!r}")
        seen.add(carrier.id)
        out.append(carrier)
    return out


def carrier_to_dict(c: Carrier) -> dict[str, Any]:
    """The document form of a carrier (round-trips through :func:`load_carriers`)."""
    rc = c.rate_card
    return {
        "id": c.id, "name": c.name, "fleet_type": c.fleet_type.value,
        "service_area": {"h3": sorted(c.service_area.h3_cells),
                         "polygons": [[[p.lat, p.lng] for p in ring] for ring in c.service_area.polygons]},
        "service_levels": sorted(lv.value for lv in c.service_levels),
        **({"cutoff": c.cutoff.strftime("%H:%M")} if c.cutoff else {}),
        "timezone": c.timezone, "daily_capacity": c.daily_capacity,
        "rate_card": {"base": rc.base, "per_km": rc.per_km, "per_parcel": rc.per_parcel, "per_kg": rc.per_kg,
                      "currency": rc.currency,
                      "surcharges": [{k: v for k, v in vars(s).items() if v is not None} for s in rc.surcharges]},
        "performance": dict(vars(c.performance)), "features": sorted(c.features),
        **({"endpoint": c.endpoint} if c.endpoint else {}), "feed_format": c.feed_format,
        **({"webhook_secret": c.webhook_secret} if c.webhook_secret else {}),
        "tender_timeout_s": c.tender_timeout_s,
        **({"origin": [c.origin.lat, c.origin.lng]} if c.origin else {}), "active": c.active,
        "feed_silence_s": c.feed_silence_s, **({"couriers": list(c.couriers)} if c.couriers else {}),
    }
