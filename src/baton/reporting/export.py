"""Write a plan's routes as CSV and GeoJSON (RFC 7946: coordinates in ``[lng, lat]`` order)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from baton.domain.fleet import Depot
from baton.domain.order import Order
from baton.domain.plan import Plan

ROUTE_COLUMNS = [
    "route_id", "vehicle_id", "driver_id", "sequence", "kind", "order_id", "external_ref", "lat", "lng",
    "planned_arrival", "planned_departure", "window_start", "window_end", "leg_km", "leg_minutes",
]


def write_routes_csv(path: Path, plan: Plan, orders: dict[str, Order], depots: dict[str, Depot]) -> Path:
    """One row per stop (deliveries and breaks), instants in ISO 8601 with offset, km and minutes."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=ROUTE_COLUMNS)
        writer.writeheader()
        for route in plan.routes:
            for stop in route.stops:
                order = orders.get(stop.order_id) if stop.order_id else None
                window = order.window_at(stop.planned_arrival) if order else None
                loc = order.location if order else depots[route.start_depot_id].location
                writer.writerow({
                    "route_id": route.id,
                    "vehicle_id": route.vehicle_id,
                    "driver_id": route.driver_id or "",
                    "sequence": stop.sequence,
                    "kind": stop.kind.value,
                    "order_id": stop.order_id or "",
                    "external_ref": (order.external_ref or "") if order else "",
                    "lat": f"{loc.lat:.6f}",
                    "lng": f"{loc.lng:.6f}",
                    "planned_arrival": stop.planned_arrival.isoformat(),
                    "planned_departure": stop.planned_departure.isoformat(),
                    "window_start": window.start.isoformat() if window else "",
                    "window_end": window.end.isoformat() if window else "",
                    "leg_km": f"{stop.leg_distance_m / 1000:.3f}",
                    "leg_minutes": f"{stop.leg_duration_s / 60:.1f}",
                })
    return path


def write_unassigned_csv(path: Path, plan: Plan) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["order_id", "reason"])
        for u in plan.unassigned:
            writer.writerow([u.order_id, u.reason])
    return path


def plan_geojson(plan: Plan, orders: dict[str, Order], depots: dict[str, Depot]) -> dict[str, Any]:
    """A FeatureCollection: one LineString per route (depot → stops → depot) and one Point per delivery."""
    features: list[dict[str, Any]] = []
    for route in plan.routes:
        start = depots[route.start_depot_id].location
        end = depots[route.end_depot_id].location
        coords = [[start.lng, start.lat]]
        for stop in route.stops:
            if stop.order_id is None:
                continue
            loc = orders[stop.order_id].location
            coords.append([loc.lng, loc.lat])
            features.append({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [loc.lng, loc.lat]},
                "properties": {"route_id": route.id, "order_id": stop.order_id, "sequence": stop.sequence,
                               "eta": stop.planned_arrival.isoformat()},
            })
        coords.append([end.lng, end.lat])
        features.append({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": coords},
            "properties": {"route_id": route.id, "vehicle_id": route.vehicle_id, "driver_id": route.driver_id,
                           "stops": len(route.order_ids), "distance_km": route.distance_m / 1000,
                           "start": route.start.isoformat(), "end": route.end.isoformat()},
        })
    return {"type": "FeatureCollection", "features": features}


def write_plan(out_dir: Path, plan: Plan, orders: dict[str, Order], depots: dict[str, Depot]) -> list[Path]:
    """Write ``routes.csv``, ``routes.geojson`` and ``unassigned.csv`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    geo = out_dir / "routes.geojson"
    geo.write_text(json.dumps(plan_geojson(plan, orders, depots)), encoding="utf-8")
    return [
        write_routes_csv(out_dir / "routes.csv", plan, orders, depots),
        geo,
        write_unassigned_csv(out_dir / "unassigned.csv", plan),
    ]
