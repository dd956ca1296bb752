"""Validation of driver actions (the body items of ``POST /api/v1/driver/actions``).

Every error is a :class:`ValidationError` whose message starts with the field at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from baton.domain.errors import ValidationError
from baton.prove.model import ACTION_TYPES, ISSUE_KINDS, FailReason

_SHA = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")


@dataclass(frozen=True)
class Action:
    client_action_id: str
    type: str
    route_id: str | None
    order_id: str | None
    device_time: datetime
    lat: float | None
    lng: float | None
    accuracy_m: float | None
    payload: dict[str, Any]

    def row(self, driver_id: str, status: str, message: str, pod_id: str | None, server_time: datetime
            ) -> dict[str, Any]:
        return {"client_action_id": self.client_action_id, "type": self.type, "route_id": self.route_id,
                "order_id": self.order_id, "driver_id": driver_id, "status": status, "message": message,
                "pod_id": pod_id, "device_time": self.device_time, "server_time": server_time, "lat": self.lat,
                "lng": self.lng, "accuracy_m": self.accuracy_m, "payload": self.payload}


def _num(raw: dict[str, Any], key: str, lo: float, hi: float) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ValidationError(f"{key}: must be a number within {lo}..{hi}, got {value!r}")
    return float(value)


def _text(payload: dict[str, Any], key: str, limit: int = 500) -> None:
    value = payload.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise ValidationError(f"payload.{key}: must be text of at most {limit} characters")


def _shas(payload: dict[str, Any], key: str) -> None:
    value = payload.get(key, [])
    if not isinstance(value, list) or len(value) > 20 or not all(isinstance(v, str) and _SHA.match(v) for v in value):
        raise ValidationError(f"payload.{key}: must be a list of at most 20 SHA-256 hex digests")


def parse_action(raw: Any) -> Action:
    """Validate one action.

    Raises:
        ValidationError: naming the first field at fault.
    """
    if not isinstance(raw, dict):
        raise ValidationError("action: must be a JSON object")
    cid = raw.get("client_action_id")
    if not isinstance(cid, str) or not _ID.match(cid):
        raise ValidationError("client_action_id: required, 8-64 characters of [A-Za-z0-9_.:-] (a UUID)")
    kind = raw.get("type")
    if kind not in ACTION_TYPES:
        raise ValidationError(f"type: must be one of {', '.join(ACTION_TYPES)}, got {kind!r}")
    try:
        at = datetime.fromisoformat(str(raw.get("device_time")))
    except ValueError:
        raise ValidationError(f"device_time: not an ISO 8601 instant: {raw.get('device_time')!r}") from None
    if at.tzinfo is None:
        raise ValidationError("device_time: needs a UTC offset (e.g. 2026-03-02T10:15:00-03:00)")
    route_id, order_id = raw.get("route_id"), raw.get("order_id")
    if not isinstance(route_id, str) or not route_id:
        raise ValidationError("route_id: required")
    if kind in ("arrive", "complete", "fail") and (not isinstance(order_id, str) or not order_id):
        raise ValidationError(f"order_id: required for {kind}")
    if order_id is not None and not isinstance(order_id, str):
        raise ValidationError("order_id: must be a string or null")
    lat, lng = _num(raw, "lat", -90, 90), _num(raw, "lng", -180, 180)
    if (lat is None) != (lng is None):
        raise ValidationError("lat: give both lat and lng, or neither")
    accuracy = _num(raw, "accuracy_m", 0, 100_000)
    payload = raw.get("payload") or {}
    if not isinstance(payload, dict):
        raise ValidationError("payload: must be a JSON object")
    for key in ("recipient_name", "recipient_relation", "notes"):
        _text(payload, key, 2000 if key == "notes" else 200)
    _shas(payload, "photo_sha256s")
    sig = payload.get("signature_sha256")
    if sig is not None and (not isinstance(sig, str) or not _SHA.match(sig)):
        raise ValidationError("payload.signature_sha256: must be a SHA-256 hex digest")
    codes = payload.get("scanned_barcodes", [])
    if not isinstance(codes, list) or not all(isinstance(c, str) and 0 < len(c) <= 128 for c in codes):
        raise ValidationError("payload.scanned_barcodes: must be a list of barcode strings")
    for key in ("age_verified", "safe_place"):
        if payload.get(key) is not None and not isinstance(payload[key], bool):
            raise ValidationError(f"payload.{key}: must be true or false")
    if kind == "fail" and payload.get("reason") not in {r.value for r in FailReason}:
        raise ValidationError(f"payload.reason: must be one of {', '.join(r.value for r in FailReason)}")
    if kind == "report_issue" and payload.get("kind") not in ISSUE_KINDS:
        raise ValidationError(f"payload.kind: must be one of {', '.join(ISSUE_KINDS)}")
    return Action(cid, kind, route_id, order_id, at, lat, lng, accuracy, dict(payload))
