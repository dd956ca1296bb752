"""What the customer's tracking page shows, read from the unit of work (no HTTP here)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from baton.adapters.travel.base import TravelTimeProvider
from baton.domain.errors import NotFound
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import Route
from baton.notify.actions import CANCELLABLE, SAFE_PLACE_TAG
from baton.notify.engine import eta_window
from baton.notify.model import NotifySettings, Preference, audience, zone
from baton.notify.slots import offered_slots
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork

S = OrderStatus
#: The driver's live position is shown only when at most this many stops remain before the customer's.
LIVE_STOPS = 3

LABELS = {
    "en": {"created": "Order received", "planned": "Scheduled", "dispatched": "Ready to leave",
           "out_for_delivery": "Out for delivery", "arrived": "Driver at your door", "delivered": "Delivered",
           "failed_attempt": "Delivery attempt failed", "returned_to_depot": "Back at the depot",
           "reattempt": "New attempt scheduled", "cancelled": "Cancelled"},
    "pt-BR": {"created": "Pedido recebido", "planned": "Agendado", "dispatched": "Pronto para sair",
              "out_for_delivery": "Saiu para entrega", "arrived": "Entregador na sua porta", "delivered": "Entregue",
              "failed_attempt": "Tentativa de entrega sem sucesso", "returned_to_depot": "De volta ao centro",
              "reattempt": "Nova tentativa agendada", "cancelled": "Cancelado"},
}


@dataclass
class TrackingView:
    """The page's data. Times are local ``HH:MM`` strings in the customer's zone (``*_iso``: ISO 8601);
    positions WGS84 ``(lat, lng)``; ``distance_km`` great-circle from the driver to the customer."""

    order_id: str
    ref: str
    language: str
    status: str
    status_label: str
    timeline: list[dict[str, str]]
    eta_from: str | None = None
    eta_to: str | None = None
    eta_iso: str | None = None
    day: str | None = None
    driver_first_name: str | None = None
    vehicle: str | None = None
    stops_before: int | None = None
    driver_position: tuple[float, float] | None = None
    destination: tuple[float, float] = (0.0, 0.0)
    distance_km: float | None = None
    delivered_at: str | None = None
    safe_place_ok: bool = False
    instructions: str = ""
    can_cancel: bool = False
    can_rate: bool = False
    rating: int | None = None
    slots: list[dict[str, str]] = field(default_factory=list)
    brand: dict[str, str] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """The JSON the page's live updates carry."""
        return {k: v for k, v in asdict(self).items() if k not in ("slots", "brand", "instructions")}


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _latest_eta(uow: SqlAlchemyUnitOfWork, order: Order, route: Route | None) -> datetime | None:
    for event in reversed(uow.events_for(order.id)):
        if event.name == "eta.changed":
            return datetime.fromisoformat(str(event.payload()["new_eta"]))
    if route is not None:
        try:
            return route.stop_for(order.id).planned_arrival
        except KeyError:
            return None
    return None


def build_view(uow: SqlAlchemyUnitOfWork, order_id: str, settings: NotifySettings, pref: Preference | None,
               travel: TravelTimeProvider, now: datetime, with_slots: bool = True) -> TrackingView:
    """The tracking view of ``order_id`` (call inside ``with uow``).

    Raises:
        NotFound: when the order does not exist.
    """
    order = uow.orders.get(order_id)
    aud = audience(order.customer, settings, pref)
    lang, tz = aud.language, zone(aud.timezone)
    labels = LABELS[lang]

    def hhmm(t: datetime) -> str:
        return t.astimezone(tz).strftime("%H:%M")

    timeline = []
    for e in uow.events_for(order.id):
        if e.name == "order.status_changed":
            to = str(e.payload()["to_status"])
            timeline.append({"status": to, "label": labels.get(to, to), "at": hhmm(e.occurred_at),
                             "at_iso": e.occurred_at.isoformat()})
    route = None
    if order.route_id:
        try:
            route = uow.plans.get_route(order.route_id)
        except NotFound:
            route = None
    view = TrackingView(
        order_id=order.id, ref=order.external_ref or order.id, language=lang, status=order.status.value,
        status_label=labels[order.status.value], timeline=timeline,
        destination=(order.location.lat, order.location.lng), safe_place_ok=SAFE_PLACE_TAG in order.tags,
        instructions=order.notes, can_cancel=order.status in CANCELLABLE,
        brand={"name": settings.brand_name, "color": settings.brand_color, "support": settings.support_contact},
    )
    if order.status == S.DELIVERED:
        done = [t for t in timeline if t["status"] == "delivered"]
        view.delivered_at = done[-1]["at"] if done else None
        view.can_rate = True
        from sqlalchemy import select

        from baton.adapters import orm_notify as tn

        assert uow.session is not None
        view.rating = uow.session.execute(select(tn.csat.c.rating).where(
            tn.csat.c.org_id == uow.org_id, tn.csat.c.order_id == order.id)).scalar()
    elif order.status != S.CANCELLED:
        eta = _latest_eta(uow, order, route)
        if eta is not None:
            start, end = eta_window(eta)
            view.eta_from, view.eta_to, view.eta_iso = hhmm(start), hhmm(end), eta.isoformat()
            view.day = eta.astimezone(tz).strftime("%d/%m" if lang == "pt-BR" else "%b %d")
    if route is not None and order.status in (S.DISPATCHED, S.OUT_FOR_DELIVERY, S.ARRIVED):
        try:
            driver = uow.drivers.get(route.driver_id) if route.driver_id else None
            view.driver_first_name = driver.first_name if driver else None
            vehicle = uow.vehicles.get(route.vehicle_id)
            view.vehicle = vehicle.name or vehicle.id
        except NotFound:
            pass
        before = 0
        for s in route.stops:
            if s.order_id == order.id:
                break
            if s.order_id is not None and s.actual_departure is None:
                before += 1
        view.stops_before = before
        if order.status in (S.OUT_FOR_DELIVERY, S.ARRIVED) and before <= LIVE_STOPS:
            view.driver_position = _position(uow, route.vehicle_id)
            if view.driver_position is not None:
                view.distance_km = round(_km(view.driver_position, view.destination), 1)
    if with_slots:
        for slot in offered_slots(uow, order, travel, now):
            view.slots.append({"key": slot.key, "label": f"{hhmm(slot.start)}–{hhmm(slot.end)}"})
    return view


def _position(uow: SqlAlchemyUnitOfWork, vehicle_id: str) -> tuple[float, float] | None:
    """The vehicle's latest position, when the execution area stores positions."""
    try:
        from baton.adapters.repository.positions import PositionRepository
    except ImportError:  # pragma: no cover - execution area absent
        return None
    assert uow.session is not None
    latest = PositionRepository(uow.session, uow.org_id).newest(vehicle_id)
    return (latest.lat, latest.lng) if latest else None
