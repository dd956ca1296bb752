"""The proof-of-delivery model: what a POD holds, failure reasons and their next step, haversine distance.

Units: coordinates WGS84 degrees ``(lat, lng)``; ``accuracy_m`` and distances metres; instants aware.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from baton.domain.errors import ValidationError

EARTH_RADIUS_M = 6_371_008.8
#: Default radius (m) beyond which a POD's GPS point is flagged as far from the stop's address.
DEFAULT_RADIUS_M = 150.0


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two ``(lat, lng)`` points in degrees."""
    lat1, lng1, lat2, lng2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class PodKind(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"


class PodSource(StrEnum):
    DRIVER = "driver"
    CARRIER = "carrier"


class FailReason(StrEnum):
    NOT_HOME = "not_home"
    REFUSED = "refused"
    WRONG_ADDRESS = "wrong_address"
    ACCESS_PROBLEM = "access_problem"
    DAMAGED = "damaged"


class NextStep(StrEnum):
    REATTEMPT = "reattempt"
    RETURN_TO_DEPOT = "return_to_depot"
    CUSTOMER_CONTACT = "customer_contact"


#: The automatic next step of each failure reason (documented in docs/proof-of-delivery.md):
#: ``reattempt``: the order moves to ``reattempt`` (planned again, next slot);
#: ``return_to_depot``: the parcel stays on board and goes back to the depot when the route completes;
#: ``customer_contact``: the customer is asked (notification request) to confirm address/access, and the
#: parcel returns to the depot meanwhile.
NEXT_STEP: dict[FailReason, NextStep] = {
    FailReason.NOT_HOME: NextStep.REATTEMPT,
    FailReason.ACCESS_PROBLEM: NextStep.CUSTOMER_CONTACT,
    FailReason.WRONG_ADDRESS: NextStep.CUSTOMER_CONTACT,
    FailReason.REFUSED: NextStep.RETURN_TO_DEPOT,
    FailReason.DAMAGED: NextStep.RETURN_TO_DEPOT,
}

ISSUE_KINDS = ("vehicle_breakdown", "road_closed", "damaged_parcel")
ACTION_TYPES = ("arrive", "complete", "fail", "break_start", "break_end", "report_issue")


def iso(at: datetime) -> str:
    """The canonical text of an instant: UTC, microseconds (what hashes are computed over)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def round_coord(value: float | None) -> float | None:
    return None if value is None else round(float(value), 7)


@dataclass
class Pod:
    """One proof of delivery (or of a failed attempt).

    ``signature_sha256``/``photo_sha256s``: SHA-256 (hex) of media bytes in the object store.
    ``expected_barcodes``: the order's parcels; ``missing_barcodes``/``extra_barcodes``: the scan's
    difference. ``distance_m``: haversine from the stop's address to ``(lat, lng)``; ``flags``: e.g.
    ``far_from_address``, ``missing_parcels``, ``extra_parcels``, ``reassigned``, ``low_accuracy``.
    ``device_time``: when the phone captured it; ``server_time``: when Baton stored it.
    ``complete``: every completion requirement was met (carrier PODs: recipient + signature or photo).
    """

    id: str
    order_id: str
    kind: PodKind
    source: PodSource
    device_time: datetime
    server_time: datetime
    route_id: str | None = None
    driver_id: str | None = None
    carrier_id: str | None = None
    recipient_name: str | None = None
    recipient_relation: str | None = None
    signature_sha256: str | None = None
    photo_sha256s: list[str] = field(default_factory=list)
    expected_barcodes: list[str] = field(default_factory=list)
    scanned_barcodes: list[str] = field(default_factory=list)
    missing_barcodes: list[str] = field(default_factory=list)
    extra_barcodes: list[str] = field(default_factory=list)
    age_verified: bool | None = None
    safe_place: bool | None = None
    reason: str | None = None
    next_step: str | None = None
    notes: str | None = None
    lat: float | None = None
    lng: float | None = None
    accuracy_m: float | None = None
    stop_lat: float | None = None
    stop_lng: float | None = None
    distance_m: float | None = None
    flags: list[str] = field(default_factory=list)
    complete: bool = False
    client_action_id: str | None = None
    content_hash: str = ""

    def __post_init__(self) -> None:
        for name in ("device_time", "server_time"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise ValidationError(f"{name}: must be timezone-aware")
        self.kind = PodKind(self.kind)
        self.source = PodSource(self.source)

    @property
    def media(self) -> list[str]:
        """Every media SHA-256 this POD refers to (signature first), without duplicates."""
        shas = ([self.signature_sha256] if self.signature_sha256 else []) + list(self.photo_sha256s)
        return list(dict.fromkeys(shas))

    def content(self) -> dict[str, Any]:
        """The canonical content hashed into :attr:`content_hash` (every field but the hash itself)."""
        return {
            "id": self.id, "order_id": self.order_id, "kind": self.kind.value, "source": self.source.value,
            "device_time": iso(self.device_time), "server_time": iso(self.server_time), "route_id": self.route_id,
            "driver_id": self.driver_id, "carrier_id": self.carrier_id, "recipient_name": self.recipient_name,
            "recipient_relation": self.recipient_relation, "signature_sha256": self.signature_sha256,
            "photo_sha256s": list(self.photo_sha256s), "expected_barcodes": list(self.expected_barcodes),
            "scanned_barcodes": list(self.scanned_barcodes), "missing_barcodes": list(self.missing_barcodes),
            "extra_barcodes": list(self.extra_barcodes), "age_verified": self.age_verified,
            "safe_place": self.safe_place, "reason": self.reason, "next_step": self.next_step, "notes": self.notes,
            "lat": round_coord(self.lat), "lng": round_coord(self.lng), "accuracy_m": self.accuracy_m,
            "stop_lat": round_coord(self.stop_lat), "stop_lng": round_coord(self.stop_lng),
            "distance_m": self.distance_m, "flags": sorted(self.flags), "complete": self.complete,
            "client_action_id": self.client_action_id,
        }

    def to_json(self) -> dict[str, Any]:
        """The API form: :meth:`content` plus ``content_hash``."""
        return self.content() | {"content_hash": self.content_hash}


def parcel_flags(expected: list[str], scanned: list[str]) -> tuple[list[str], list[str]]:
    """``(missing, extra)`` barcodes of a scan against the order's parcels (order kept, no duplicates)."""
    seen = set(scanned)
    want = set(expected)
    missing = [b for b in expected if b not in seen]
    extra = list(dict.fromkeys(b for b in scanned if b not in want))
    return missing, extra


def location_flags(pod: Pod, radius_m: float = DEFAULT_RADIUS_M) -> None:
    """Fill ``distance_m`` (rounded to 0.1 m) and the ``far_from_address`` flag from the POD's GPS point."""
    if None in (pod.lat, pod.lng, pod.stop_lat, pod.stop_lng):
        if pod.lat is None and "no_gps" not in pod.flags:
            pod.flags.append("no_gps")
        return
    assert pod.lat is not None and pod.lng is not None and pod.stop_lat is not None and pod.stop_lng is not None
    pod.distance_m = round(haversine_m((pod.stop_lat, pod.stop_lng), (pod.lat, pod.lng)), 1)
    if pod.distance_m > radius_m and "far_from_address" not in pod.flags:
        pod.flags.append("far_from_address")
