"""Loader for Loggi Benchmark for Urban Deliveries (loggibud) CVRP day files (JSON).

Format (see the loggibud repository, github.com/loggi/loggibud)::

    {"name": "cvrp-0-df-0", "region": "df-0",
     "origin": {"lng": -47.80, "lat": -15.65},
     "vehicle_capacity": 180,
     "deliveries": [{"id": "2e87...", "point": {"lng": ..., "lat": ...}, "size": 1}, ...]}

Loggi writes points as ``{"lng", "lat"}`` objects; Baton's :class:`LatLng` is ``(lat, lng)``:
this loader reads both by key, never by position. ``size`` and ``vehicle_capacity`` are in one
abstract capacity unit (a van holds 180). The files carry no time windows, service times or fleet.

Delivery ids are **not** guaranteed unique: loggibud's own Rio test days repeat a few deliveries
verbatim (``cvrp-0-rj-0``: 2, ``cvrp-0-rj-3``: 3). They are kept, as the benchmark counts them;
:attr:`LoggiDay.duplicate_ids` lists them, so key by position when you need a unique key.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baton.domain.errors import ValidationError
from baton.domain.values import LatLng
from baton.intake.files import ImportFileError


@dataclass(frozen=True, slots=True)
class LoggiDelivery:
    """One delivery: loggi's ``id``, its WGS84 ``location`` (lat, lng) and ``size`` (capacity units, >= 1)."""

    id: str
    location: LatLng
    size: int


@dataclass(frozen=True)
class LoggiDay:
    """One loggibud delivery day: one depot, identical vans of ``vehicle_capacity`` units."""

    name: str
    region: str
    depot: LatLng
    vehicle_capacity: int
    deliveries: list[LoggiDelivery]

    @property
    def total_size(self) -> int:
        """Sum of the deliveries' sizes, capacity units."""
        return sum(d.size for d in self.deliveries)

    @property
    def duplicate_ids(self) -> list[str]:
        """Ids that occur more than once in ``deliveries`` (sorted)."""
        return sorted(k for k, count in Counter(d.id for d in self.deliveries).items() if count > 1)

    @property
    def min_vehicles(self) -> int:
        """Lower bound on the vans needed: ``ceil(total_size / vehicle_capacity)``."""
        return -(-self.total_size // self.vehicle_capacity)


class _Malformed(Exception):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")


def _get(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, dict):
        raise _Malformed(where or "(top level)", f"must be a JSON object, got {type(obj).__name__}")
    if key not in obj:
        raise _Malformed(f"{where}.{key}" if where else key, "is missing")
    return obj[key]


def _text(obj: Any, key: str, where: str = "") -> str:
    value = _get(obj, key, where)
    if not isinstance(value, str) or not value:
        raise _Malformed(f"{where}.{key}" if where else key, f"must be a non-empty string, got {value!r}")
    return value


def _positive_int(obj: Any, key: str, where: str = "") -> int:
    value = _get(obj, key, where)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _Malformed(f"{where}.{key}" if where else key, f"must be a positive integer, got {value!r}")
    return value


def _point(obj: Any, key: str, where: str = "") -> LatLng:
    full = f"{where}.{key}" if where else key
    point = _get(obj, key, where)
    coords = []
    for axis in ("lat", "lng"):
        value = _get(point, axis, full)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _Malformed(f"{full}.{axis}", f"must be a finite number of degrees, got {value!r}")
        coords.append(float(value))
    try:
        return LatLng(lat=coords[0], lng=coords[1])
    except ValidationError as exc:
        raise _Malformed(full, str(exc)) from None


def load_loggi_day(path: Path | str) -> LoggiDay:
    """Read one loggibud CVRP day file.

    Raises:
        ImportFileError: when the file is missing or unreadable, not valid JSON, or malformed; the
            reason names the offending key, e.g. ``deliveries[3].point.lat: is missing``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImportFileError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(path, f"cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        reason = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise ImportFileError(path, reason) from None
    try:
        name, region = _text(data, "name"), _text(data, "region")
        depot, capacity = _point(data, "origin"), _positive_int(data, "vehicle_capacity")
        raw_deliveries = _get(data, "deliveries", "")
        if not isinstance(raw_deliveries, list):
            raise _Malformed("deliveries", f"must be a list, got {type(raw_deliveries).__name__}")
        deliveries = [
            LoggiDelivery(_text(item, "id", where), _point(item, "point", where),
                          _positive_int(item, "size", where))
            for i, item in enumerate(raw_deliveries)
            for where in (f"deliveries[{i}]",)
        ]
        return LoggiDay(name, region, depot, capacity, deliveries)
    except _Malformed as exc:
        raise ImportFileError(path, f"not a loggibud CVRP day: {exc}") from None


__all__ = ["LoggiDay", "LoggiDelivery", "load_loggi_day"]
