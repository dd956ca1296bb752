"""Synthetic proof of delivery for the main job's simulated drivers (issue 9).

The simulated day (:mod:`baton.demo.simulate`) issues ``CompleteDelivery``/``FailDelivery`` as a driver
would. :class:`DemoPods` sends each of them instead through the *same* command the driver app uses
(:class:`~baton.service_layer.commands.ApplyDriverActions`), with evidence that is synthetic but
plausible and seeded per order (the same seed gives the same evidence):

* **signature**: a small PNG (300 × 90 px, greyscale) of a pen stroke drawn with Pillow;
* **photo**: a JPEG (240 × 180 px) of a parcel at a door (failed attempts: the door without the parcel);
* **recipient**: the customer (about 75 %) or a relation (``family``, ``neighbour``, ``doorman``) with a
  generated name;
* **GPS**: the stop's address jittered by a few metres (Gaussian, σ 9 m; about 2 % of captures 160–300 m
  away, which the server flags ``far_from_address``), ``accuracy_m`` 4–25 m;
* **device time**: the simulated instant; **server time**: that plus a 1–20 s upload delay;
* **barcodes**: every parcel scanned; **age check**: verified when the order requires one.

Media go into the given object store (the demo's ``<out>/objects``) and are registered as
``POST /api/v1/driver/media`` does, but in one batch (``RegisterMediaMany``) for the whole day before it
starts (:meth:`DemoPods.prepare`), which keeps the demo's extra run time small. A failed attempt
(``not_home``) records its reason and a photo; the server's next step for ``not_home`` is ``reattempt``.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from PIL import Image, ImageDraw

from baton.adapters.objectstore import ObjectStore
from baton.demo.enrich import FIRST_NAMES
from baton.domain.order import Order
from baton.domain.plan import Plan
from baton.prove.requirements import RuleSet, parcels_of, requirements_for
from baton.service_layer import commands
from baton.service_layer.commands import ApplyDriverActions, RegisterMediaMany
from baton.service_layer.messagebus import MessageBus

RELATIONS = ("family", "neighbour", "doorman")
_METRES_PER_DEG = 111_320.0


def signature_png(rng: random.Random) -> bytes:
    """A 300 × 90 greyscale PNG of one cursive-like pen stroke (a sum of random sines)."""
    img = Image.new("L", (300, 90), 255)
    draw = ImageDraw.Draw(img)
    waves = [(rng.uniform(8, 22), rng.uniform(0.03, 0.12), rng.uniform(0, 6.3)) for _ in range(3)]
    loops = rng.uniform(0.15, 0.35)
    points = []
    for k in range(0, 260, 3):
        x = 20 + k + 9 * math.sin(k * loops)
        y = 45 + sum(a * math.sin(f * k + p) for a, f, p in waves) / 2 + 10 * math.cos(k * loops)
        points.append((x, y))
    draw.line(points, fill=20, width=2)
    end = rng.uniform(150, 270)
    draw.line([(end - 60, 75), (end, 72)], fill=20, width=2)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def doorstep_jpeg(rng: random.Random, label: str, *, parcel: bool = True) -> bytes:
    """A 240 × 180 JPEG of a door (random wall and door colours), with a labelled parcel when ``parcel``."""
    wall = tuple(rng.randint(150, 235) for _ in range(3))
    img = Image.new("RGB", (240, 180), wall)  # type: ignore[arg-type]
    draw = ImageDraw.Draw(img)
    door = tuple(rng.randint(40, 140) for _ in range(3))
    left = rng.randint(60, 120)
    draw.rectangle([left, 20, left + 80, 180], fill=door, outline=(30, 30, 30))  # type: ignore[arg-type]
    draw.ellipse([left + 62, 100, left + 70, 108], fill=(210, 180, 60))
    draw.rectangle([0, 165, 240, 180], fill=(120, 115, 110))
    if parcel:
        x = rng.randint(10, 150)
        draw.rectangle([x, 125, x + 70, 170], fill=(181, 137, 82), outline=(90, 60, 30))
        draw.rectangle([x + 31, 125, x + 39, 170], fill=(220, 200, 150))
        draw.rectangle([x + 4, 130, x + 28, 142], fill=(250, 250, 250))
        draw.text((x + 5, 131), label[-4:], fill=(0, 0, 0))
    else:
        draw.text((8, 8), "no answer", fill=(20, 20, 20))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=70)
    return buf.getvalue()


def jitter(rng: random.Random, lat: float, lng: float) -> tuple[float, float, float]:
    """``(lat, lng, accuracy_m)``: a phone's fix near ``(lat, lng)`` (see the module docstring)."""
    if rng.random() < 0.02:
        distance, accuracy = rng.uniform(160, 300), rng.uniform(15, 25)
    else:
        distance, accuracy = abs(rng.gauss(0, 9)), rng.uniform(4, 15)
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / _METRES_PER_DEG
    dlng = distance * math.sin(bearing) / (_METRES_PER_DEG * max(0.01, math.cos(math.radians(lat))))
    return round(lat + dlat, 7), round(lng + dlng, 7), round(accuracy, 1)


class DemoPods:
    """Runs the simulated day's deliveries and failures as driver actions with synthetic PODs.

    ``orders``: by id; ``plan``: gives each route's driver (routes without one keep the plain command);
    ``store``: where media go; ``rules``: completion requirements (``None``: defaults).
    Call :meth:`prepare` with the day's timeline first; :meth:`handle` is
    :func:`baton.demo.simulate.run_day`'s ``handle`` hook.
    """

    def __init__(self, store: ObjectStore, orders: dict[str, Order], plan: Plan, seed: int,
                 rules: RuleSet | None = None) -> None:
        self.store, self.orders, self.seed = store, orders, seed
        self.rules = rules or RuleSet()
        self.drivers = {r.id: r.driver_id for r in plan.routes}
        self.pods = 0
        self.media: dict[str, tuple[str | None, str]] = {}  # order id -> (signature sha, photo sha)

    def _rng(self, order_id: str) -> random.Random:
        return random.Random(f"{self.seed}:pod:{order_id}")

    def prepare(self, bus: MessageBus, timeline: Iterable[tuple[datetime, commands.Command]], at: datetime) -> int:
        """Draw and store the media of every delivery/failed attempt of ``timeline`` and register them in
        one transaction at ``at``; returns how many objects were drawn."""
        items: list[tuple[str, int, str]] = []

        def put(data: bytes, content_type: str) -> str:
            sha = self.store.put(data, content_type)
            items.append((sha, len(data), content_type))
            return sha

        for _, command in timeline:
            if not isinstance(command, commands.CompleteDelivery | commands.FailDelivery):
                continue
            if self.drivers.get(command.route_id) is None:
                continue
            rng = self._rng(command.order_id)
            delivered = isinstance(command, commands.CompleteDelivery)
            photo = put(doorstep_jpeg(rng, command.order_id, parcel=delivered), "image/jpeg")
            signature = put(signature_png(rng), "image/png") if delivered else None
            self.media[command.order_id] = (signature, photo)
        if items:
            bus.handle(RegisterMediaMany(at=at, actor="system:demo", items=items))
        return len(items)

    def handle(self, bus: MessageBus, instant: datetime, command: commands.Command) -> object:
        """Send ``command``; a delivery or failed attempt goes as an ``ApplyDriverActions`` with its POD.

        Raises:
            RuntimeError: when the server does not apply the action (a requirement unmet, a conflict).
        """
        driver_id = self.drivers.get(getattr(command, "route_id", ""))
        if not isinstance(command, commands.CompleteDelivery | commands.FailDelivery) or driver_id is None:
            return bus.handle(command)
        order = self.orders[command.order_id]
        if order.id not in self.media:
            raise RuntimeError(f"DemoPods.prepare did not see order {order.id}'s delivery")
        signature, photo = self.media[order.id]
        rng = random.Random(f"{self.seed}:pod-gps:{order.id}")
        lat, lng, accuracy = jitter(rng, order.location.lat, order.location.lng)
        server_at = instant + timedelta(seconds=rng.randint(1, 20))
        action: dict[str, Any] = {"client_action_id": f"demo-{self.seed}-{order.id}-{command.__class__.__name__}",
                                  "route_id": command.route_id, "order_id": order.id,
                                  "device_time": instant.isoformat(), "lat": lat, "lng": lng, "accuracy_m": accuracy}
        if isinstance(command, commands.FailDelivery):
            action |= {"type": "fail", "payload": {"reason": command.reason or "not_home", "photo_sha256s": [photo],
                                                   "notes": "Rang twice, no answer; card left at the door."}}
        else:
            name, relation = self._recipient(rng, order)
            action |= {"type": "complete", "payload": {
                "recipient_name": name, "recipient_relation": relation, "signature_sha256": signature,
                "photo_sha256s": [photo], "scanned_barcodes": [p["barcode"] for p in parcels_of(order)],
                "age_verified": True if requirements_for(order, self.rules).age_check else None}}
        results = bus.handle(ApplyDriverActions(at=server_at, actor=f"driver:{driver_id}", driver_id=driver_id,
                                                actions=[action], store=self.store, rules=self.rules))
        result = results[0] if isinstance(results, list) and results else {}
        if result.get("status") not in ("applied", "duplicate"):
            raise RuntimeError(f"demo POD for {order.id} not applied: {result}")
        self.pods += 1
        return results

    @staticmethod
    def _recipient(rng: random.Random, order: Order) -> tuple[str, str]:
        if rng.random() < 0.75:
            return order.customer.name, "self"
        surname = order.customer.name.split()[-1]
        return f"{rng.choice(FIRST_NAMES)} {surname}", rng.choice(RELATIONS)
