"""GPS ping validation: types and ranges (pydantic), future timestamps, teleports, duplicates.

A ping is ``{"vehicle_id", "device_id"?, "lat", "lng", "accuracy_m"?, "speed_mps"?, "heading_deg"?,
"ts"}`` with ``lat``/``lng`` WGS84 degrees, ``accuracy_m`` metres (68 % radius), ``speed_mps``
metres per second, ``heading_deg`` degrees clockwise from north and ``ts`` an ISO 8601 instant
*with offset*. ``device_id`` defaults to ``vehicle_id``; (device, ts) identifies a ping.

Every refused ping gets a :class:`Rejection` naming the reason (``lat_out_of_range``,
``future_timestamp``, ``teleport``, ...) and the field; nothing refused is used as a position.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import asin, cos, sin, sqrt
from typing import Any, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

EARTH_RADIUS_M = 6_371_008.8


_RAD = math.pi / 180.0


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (degrees, lat/lng order; haversine on a
    sphere of the mean Earth radius, IUGG: 6,371,008.8 m)."""
    p1, p2 = lat1 * _RAD, lat2 * _RAD
    h1, h2 = sin((p2 - p1) * 0.5), sin((lng2 - lng1) * _RAD * 0.5)
    a = h1 * h1 + cos(p1) * cos(p2) * h2 * h2
    return 2.0 * EARTH_RADIUS_M * asin(min(1.0, sqrt(a)))


@dataclass(frozen=True)
class PingSettings:
    """Validation limits.

    ``future_tolerance_s``: how far ahead of the server clock a timestamp may be (phone clock skew);
    ``max_age_s``: older pings are refused (beyond the trail's retention); ``max_accuracy_m``: fixes
    less precise than this are refused; ``max_speed_mps``: reported speed limit; ``teleport_speed_mps``:
    an implied speed (distance beyond both fixes' accuracy / time) above this is a teleport.
    """

    future_tolerance_s: int = 30
    max_age_s: int = 24 * 3600
    max_accuracy_m: float = 250.0
    max_speed_mps: float = 70.0
    teleport_speed_mps: float = 55.0


class PingIn(BaseModel):
    """The wire form of one ping (see the module docstring)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    vehicle_id: str = Field(min_length=1, max_length=128)
    device_id: str | None = Field(default=None, min_length=1, max_length=128)
    lat: float = Field(ge=-90.0, le=90.0, allow_inf_nan=False)
    lng: float = Field(ge=-180.0, le=180.0, allow_inf_nan=False)
    accuracy_m: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    speed_mps: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    heading_deg: float | None = Field(default=None, ge=0.0, lt=360.0, allow_inf_nan=False)
    ts: AwareDatetime


_BATCH: TypeAdapter[list[PingIn]] = TypeAdapter(list[PingIn])

#: most pings accepted in one request
MAX_BATCH = 5000


class BatchError(ValueError):
    """A request body that is not a batch of pings; ``status``: the HTTP status to answer (422, 413)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def pings_of(body: object, max_batch: int = MAX_BATCH) -> list[object]:
    """The raw pings of a parsed request body: ``{"pings": [...]}``, a list of pings, or one ping object.

    Raises:
        BatchError: not a list (422), or more than ``max_batch`` pings (413).
    """
    pings = body.get("pings", [body]) if isinstance(body, dict) else body
    if not isinstance(pings, list):
        raise BatchError("pings: expected a list of pings")
    if len(pings) > max_batch:
        raise BatchError(f"pings: at most {max_batch} per request, got {len(pings)}", 413)
    return pings


def pings_of_json(body: bytes | str, max_batch: int = MAX_BATCH) -> list[object]:
    """:func:`pings_of` for a raw JSON request body.

    Raises:
        BatchError: not JSON (422), not a list (422), or more than ``max_batch`` pings (413).
    """
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise BatchError(f"body: not JSON ({exc})") from exc
    return pings_of(parsed, max_batch)


class Ping(NamedTuple):
    """A validated ping (``ts`` aware; a named tuple: the ingest path builds thousands a second)."""

    device_id: str
    vehicle_id: str
    ts: datetime
    lat: float
    lng: float
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading_deg: float | None = None


@dataclass(frozen=True)
class Rejection:
    """Why the ping at ``index`` of a batch was refused; ``field`` names the offending field."""

    index: int
    reason: str
    field: str | None
    detail: str
    device_id: str | None
    vehicle_id: str | None
    raw: dict[str, Any]


@dataclass
class Validated:
    """A batch after validation: ``accepted`` pings, ``rejected`` ones, ``duplicates`` inside the batch."""

    accepted: list[Ping] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: int = 0


_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}


def _reason_for(err: Mapping[str, Any]) -> tuple[str, str | None]:
    loc = err.get("loc") or ()
    name = str(loc[0]) if loc else None
    kind = str(err.get("type", ""))
    if name is None:
        return "invalid_ping", None
    if kind == "missing":
        return f"{name}_missing", name
    if kind in _RANGE_ERRORS:
        return f"{name}_out_of_range", name
    if kind == "timezone_aware":
        return "ts_without_offset", name
    return f"{name}_invalid", name


def _safe_raw(raw: object) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return {str(k): (v if isinstance(v, str | int | float | bool) or v is None else str(v))
                for k, v in list(raw.items())[:20]}
    return {"value": str(raw)[:200]}


def validate_batch(
    raw: Sequence[object],
    now: datetime,
    latest: Mapping[str, tuple[datetime, float, float, float | None]],
    settings: PingSettings = PingSettings(),
) -> Validated:
    """Validate a batch of raw pings.

    ``now``: the server's aware clock; ``latest``: vehicle id → ``(ts, lat, lng, accuracy_m)`` of its
    latest stored position (the teleport reference). Pings of one vehicle are checked in time
    order against the previous accepted fix (stored or earlier in the batch), so out-of-order
    batches are fine. A (device, ts) seen twice in the batch counts once (``duplicates``).
    """
    out = Validated()
    candidates: list[tuple[int, Ping, object]] = []
    seen: set[tuple[str, datetime]] = set()
    future_limit = now + timedelta(seconds=settings.future_tolerance_s)
    oldest = now - timedelta(seconds=settings.max_age_s)
    try:  # fast path: the whole batch in one pydantic-core call; per ping only when something is wrong
        parsed: list[PingIn | None] = list(_BATCH.validate_python(raw))
    except ValidationError:
        parsed = [None] * len(raw)
    for index, item in enumerate(raw):
        try:
            p = parsed[index] or PingIn.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            reason, fld = _reason_for(first)
            ids = item if isinstance(item, Mapping) else {}
            out.rejected.append(Rejection(index, reason, fld, str(first.get("msg", "")),
                                          _opt_str(ids.get("device_id") or ids.get("vehicle_id")),
                                          _opt_str(ids.get("vehicle_id")), _safe_raw(item)))
            continue
        device = p.device_id or p.vehicle_id
        reason, fld, detail = "", None, ""
        if p.ts > future_limit:
            reason, fld = "future_timestamp", "ts"
            detail = f"{(p.ts - now).total_seconds():.0f} s ahead of the server clock"
        elif p.ts < oldest:
            reason, fld, detail = "stale_timestamp", "ts", f"older than {settings.max_age_s} s"
        elif p.accuracy_m is not None and p.accuracy_m > settings.max_accuracy_m:
            reason, fld = "accuracy_too_low", "accuracy_m"
            detail = f"{p.accuracy_m:.0f} m > {settings.max_accuracy_m:.0f} m"
        elif p.speed_mps is not None and p.speed_mps > settings.max_speed_mps:
            reason, fld, detail = "speed_out_of_range", "speed_mps", f"{p.speed_mps:.1f} m/s"
        if reason:
            out.rejected.append(Rejection(index, reason, fld, detail, device, p.vehicle_id, _safe_raw(item)))
            continue
        key = (device, p.ts)
        if key in seen:
            out.duplicates += 1
            continue
        seen.add(key)
        ping = Ping(device, p.vehicle_id, p.ts, p.lat, p.lng, p.accuracy_m, p.speed_mps, p.heading_deg)
        candidates.append((index, ping, item))
    candidates.sort(key=lambda c: (c[1].vehicle_id, c[1].ts))
    last: dict[str, tuple[datetime, float, float, float | None]] = dict(latest)
    for index, ping, raw_item in candidates:
        ref = last.get(ping.vehicle_id)
        if ref is not None:
            speed = implied_speed_mps(ref, ping)
            if speed > settings.teleport_speed_mps:
                out.rejected.append(Rejection(index, "teleport", "lat", f"implied speed {speed:.0f} m/s",
                                              ping.device_id, ping.vehicle_id, _safe_raw(raw_item)))
                continue
        if ref is None or ping.ts >= ref[0]:
            last[ping.vehicle_id] = (ping.ts, ping.lat, ping.lng, ping.accuracy_m)
        out.accepted.append(ping)
    out.rejected.sort(key=lambda r: r.index)
    return out


def implied_speed_mps(ref: tuple[datetime, float, float, float | None], ping: Ping) -> float:
    """Speed (m/s) needed to go from ``ref`` to ``ping``, after granting both fixes their accuracy."""
    dist = distance_m(ref[1], ref[2], ping.lat, ping.lng) - (ref[3] or 0.0) - (ping.accuracy_m or 0.0)
    if dist <= 0:
        return 0.0
    dt = abs((ping.ts - ref[0]).total_seconds())
    return dist / max(dt, 1.0)


def _opt_str(value: object) -> str | None:
    return str(value)[:128] if value is not None else None


@dataclass(frozen=True)
class IngestResult:
    """Outcome of one batch: ``accepted`` newly stored, ``duplicates`` already known (same device and
    ts), ``rejected`` refused with reasons; ``stored`` are the batch's valid pings (for geofence/ETA)."""

    accepted: int
    duplicates: int
    rejected: list[Rejection]
    stored: list[Ping]

    @classmethod
    def of(cls, checked: Validated, inserted: int) -> IngestResult:
        """The outcome of a validated batch of which ``inserted`` pings were new to the store."""
        return cls(inserted, checked.duplicates + len(checked.accepted) - inserted, checked.rejected,
                   checked.accepted)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": [
            {"index": r.index, "reason": r.reason, "field": r.field, "detail": r.detail} for r in self.rejected]}
