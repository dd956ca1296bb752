"""Carriers as first-class resources: service areas (H3, polygons), service levels, cut-offs, rate
cards with surcharges, performance; loading from YAML/JSON with line-accurate errors; storage."""

from __future__ import annotations

import json
from pathlib import Path

import h3
import pytest

from baton.dispatch.carrier_file import carrier_to_dict, load_carriers
from baton.dispatch.carriers import RateCard, ServiceArea, Surcharge
from baton.dispatch.source import SourceError
from baton.domain import LatLng, Size, SlaTier
from baton.domain.errors import ValidationError
from baton.service_layer import commands
from dispatch_helpers import T0, make_bus
from factories import local, make_order

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "carriers.yaml"
CENTRE = LatLng(-15.7939, -47.8828)


def test_service_area_by_h3_cells_and_polygons() -> None:
    cell = h3.latlng_to_cell(CENTRE.lat, CENTRE.lng, 8)
    by_cell = ServiceArea(frozenset({cell}))
    assert by_cell.covers(CENTRE) and not by_cell.covers(LatLng(-15.70, -47.80))
    square = ServiceArea(polygons=((LatLng(-15.7, -47.9), LatLng(-15.7, -47.8), LatLng(-15.9, -47.8),
                                    LatLng(-15.9, -47.9)),))
    assert square.covers(CENTRE) and not square.covers(LatLng(-15.95, -47.85))
    assert ServiceArea().covers(LatLng(0, 0))
    with pytest.raises(ValidationError, match="not a valid H3 cell"):
        ServiceArea(frozenset({"zzz"}))


def test_rate_card_quote_itemises_every_part() -> None:
    card = RateCard(base=9.5, per_km=0.5, per_parcel=1.0, per_kg=0.2, currency="BRL",
                    surcharges=(Surcharge("cold", 6.0, when_tag="cold_chain"), Surcharge("express", 3.0,
                                                                                       when_sla="express")))
    o = make_order("o-1", size=Size(2, 10.0, 5.0), tags=frozenset({"cold_chain"}))
    q = card.quote(o, 10.0)
    assert q.parts == {"base": 9.5, "distance": 5.0, "parcels": 2.0, "weight": 2.0, "surcharge:cold": 6.0}
    assert (q.total, q.currency) == (24.5, "BRL")
    o.sla_tier = SlaTier.EXPRESS
    assert card.quote(o, 0).parts["surcharge:express"] == 3.0


def test_example_file_loads_with_every_attribute() -> None:
    carriers = {c.id: c for c in load_carriers(EXAMPLE.read_text(), str(EXAMPLE))}
    assert set(carriers) == {"captive", "rapido", "flashbox", "zapgig", "motoboys"}
    assert carriers["motoboys"].couriers == ("moto-ana", "moto-bia", "moto-caio")
    assert carriers["motoboys"].offers_to_couriers and not carriers["zapgig"].offers_to_couriers
    rapido = carriers["rapido"]
    assert rapido.fleet_type.value == "3pl" and rapido.daily_capacity == 400 and rapido.feed_format == "rapido"
    assert rapido.rate_card.surcharges[0].when_tag == "cold_chain" and rapido.performance.rating == 4.3
    assert rapido.service_area.covers(CENTRE)
    same_day = make_order("o-1", sla_tier=SlaTier.SAME_DAY)
    assert rapido.why_not(same_day, local(13, 59)) is None
    assert rapido.why_not(same_day, local(14, 1)) == "past its 14:00:00 cut-off for same_day"
    assert carriers["zapgig"].why_not(make_order("o-2"), local(9)) == "does not offer next_day (order SLA standard)"
    # round trip through the document form, as JSON
    again = load_carriers(json.dumps({"carriers": [carrier_to_dict(c) for c in carriers.values()]}))
    assert {c.id: c for c in again} == carriers


@pytest.mark.parametrize(("text", "line", "message"), [
    ("carriers:\n  - id: a\n    fleet_type: drone\n", 3, "fleet_type: must be one of captive, 3pl, gig"),
    ("carriers:\n  - id: a\n    fleet_type: 3pl\n    rate_card: {base: -1}\n", 4, "rate_card.base: must be >= 0"),
    ("carriers:\n  - id: a\n    fleet_type: 3pl\n    cutoff: noon\n", 4, "must be a local time"),
    ("carriers:\n  - id: a\n    fleet_type: 3pl\n    service_area:\n      h3: [nope]\n", 5,
     "h3\\[0\\]: 'nope' is not a valid H3"),
    ("carriers:\n  - id: a\n    fleet_type: 3pl\n    origin: [-15.7]\n", 4, r"must be \[lat, lng\]"),
    ("carriers:\n  - id: a\n    fleet_type: 3pl\n    performance: {rating: 7}\n", 4, "must be <= 5"),
    ("carriers:\n  - id: a\n    fleet_type: 3pl\n  - id: a\n    fleet_type: gig\n", 4, "duplicate carrier id"),
    ("carriers:\n  - id: a\n    fleet_type: 3pl\n    colour: red\n", 4, "unknown field 'colour'"),
    ("carriers:\n  - id: a\n    fleet_type: 3pl\n    service_levels: [tomorrow]\n", 4, "'tomorrow' is not one of"),
    ("carriers:\n  - id: a\n    fleet_type: gig\n    couriers: [c-1, c-1]\n", 2, "couriers must be distinct"),
])
def test_invalid_carrier_files_point_at_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(SourceError, match=message) as info:
        load_carriers(text, "carriers.yaml")
    assert info.value.line == line


def test_carriers_are_stored_and_replaced(db_url: str) -> None:
    from baton.adapters.carriers.repository import dispatch_store

    bus = make_bus(db_url)
    carriers = load_carriers(EXAMPLE.read_text())
    assert bus.handle(commands.RegisterCarriers(at=T0, carriers=carriers)) == 5
    changed = [c for c in load_carriers(EXAMPLE.read_text().replace("daily_capacity: 400", "daily_capacity: 5"))
               if c.id == "rapido"]
    bus.handle(commands.RegisterCarriers(at=T0, carriers=changed))
    with bus.uow:
        stored = {c.id: c for c in dispatch_store(bus.uow).carriers()}
    assert stored["rapido"].daily_capacity == 5 and stored["flashbox"] == {c.id: c for c in carriers}["flashbox"]
