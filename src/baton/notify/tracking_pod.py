"""The proof-of-delivery summary a customer sees on the tracking page (issue 8 §3, issue 9 POD).

Only what the customer needs and may see: when, the recipient's *first name* and relation, the safe-place
flag, and the media hashes of the order's latest ``delivered`` POD (signature image, photos), served by
``GET /t/{token}/pod/{sha256}`` only when the hash belongs to THAT order's delivered POD. No GPS position,
no driver notes, no barcodes, no full name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from baton.adapters.prove_records import ProveRecords
from baton.prove.model import Pod, PodKind

#: Leading bytes → content type of the media the driver API accepts.
_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"RIFF", "image/webp"))


@dataclass(frozen=True)
class PodSummary:
    """``delivered_at``: local ``HH:MM`` (and ``day`` ``dd/mm``) in ``tz``; ``recipient_first_name`` and
    ``recipient_relation`` (``None`` when not captured); ``signature``: SHA-256 or ``None``; ``photos``:
    SHA-256s."""

    pod_id: str
    delivered_at: str
    day: str
    recipient_first_name: str | None
    recipient_relation: str | None
    safe_place: bool
    signature: str | None
    photos: list[str] = field(default_factory=list)

    @property
    def media(self) -> set[str]:
        return set(self.photos) | ({self.signature} if self.signature else set())


def latest_delivered_pod(session: Session, org_id: str, order_id: str) -> Pod | None:
    pods = [p for p in ProveRecords(session, org_id).pods_of(order_id) if p.kind == PodKind.DELIVERED]
    return pods[-1] if pods else None


def pod_summary(session: Session, org_id: str, order_id: str, tz: ZoneInfo) -> PodSummary | None:
    """The summary of the order's latest delivered POD, or ``None`` when there is none."""
    pod = latest_delivered_pod(session, org_id, order_id)
    if pod is None:
        return None
    at: datetime = pod.device_time.astimezone(tz)
    name = (pod.recipient_name or "").split()
    return PodSummary(pod_id=pod.id, delivered_at=at.strftime("%H:%M"), day=at.strftime("%d/%m"),
                      recipient_first_name=name[0] if name else None, recipient_relation=pod.recipient_relation,
                      safe_place=bool(pod.safe_place), signature=pod.signature_sha256,
                      photos=list(pod.photo_sha256s))


def sniff(data: bytes) -> str:
    """The image content type of ``data`` (``application/octet-stream`` when unknown)."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    return "application/octet-stream"
