"""Carrier (3PL/gig) PODs normalised into Baton's POD model, and the compliance score (pure).

Carriers report POD data in their status feeds next to the ``delivered`` status; :func:`extract_pods`
reads it from each feed format (see :mod:`baton.dispatch.feeds`):

* ``generic``: ``{"status": "delivered", ..., "pod": {"recipient_name", "recipient_relation", "signature_url",
  "photo_urls": [], "lat", "lng"}}``;
* ``rapido``: ``{"evento": {"codigo": "ENT", ..., "comprovante": {"recebedor", "parentesco", "assinatura_url",
  "fotos": [], "lat", "lng"}}}``;
* ``flashbox``: optional CSV columns ``recipient``, ``signature_url``, ``photo_url``, ``lat``, ``lng``.

Carrier media stay at the carrier (their URLs are recorded in ``notes``-free ``evidence`` and hashed into
the custody chain as text, not fetched). A carrier POD is *complete* when it names the recipient and has a
signature or at least one photo. :func:`compliance` = share of a carrier's deliveries with a complete POD.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class CarrierPod:
    """One carrier's delivery proof for ``order_id`` at ``occurred_at`` (aware)."""

    order_id: str
    occurred_at: datetime
    recipient_name: str | None = None
    recipient_relation: str | None = None
    signature_url: str | None = None
    photo_urls: tuple[str, ...] = ()
    lat: float | None = None
    lng: float | None = None
    external_ref: str | None = None

    @property
    def complete(self) -> bool:
        return bool(self.recipient_name) and (bool(self.signature_url) or bool(self.photo_urls))

    def evidence(self) -> dict[str, Any]:
        return {"signature_url": self.signature_url, "photo_urls": list(self.photo_urls),
                "external_ref": self.external_ref}


def _float(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def extract_pods(feed_format: str, body: bytes, statuses: dict[str, tuple[str, datetime]]) -> list[CarrierPod]:
    """The POD data of the ``delivered`` messages in ``body``.

    ``statuses``: ``message_id -> (order_id, occurred_at)`` of the already parsed delivered updates (the
    feed parser's output); messages without POD data yield an empty (incomplete) POD.
    """
    out: list[CarrierPod] = []
    if feed_format == "flashbox":
        for row in csv.DictReader(io.StringIO(body.decode("utf-8", "replace"))):
            msg = (row.get("msg") or "").strip()
            if msg in statuses:
                order_id, at = statuses[msg]
                photo = (row.get("photo_url") or "").strip()
                out.append(CarrierPod(order_id, at, (row.get("recipient") or "").strip() or None, None,
                                      (row.get("signature_url") or "").strip() or None, (photo,) if photo else (),
                                      _float(row.get("lat")), _float(row.get("lng")), msg))
        return out
    try:
        data = json.loads(body)
    except ValueError:
        return out
    if feed_format == "rapido":
        ev = data.get("evento", {}) if isinstance(data, dict) else {}
        msg, pod = str(ev.get("id", "")), ev.get("comprovante") or {}
        keys = ("recebedor", "parentesco", "assinatura_url", "fotos")
    else:
        ev = data if isinstance(data, dict) else {}
        msg, pod = str(ev.get("message_id", "")), ev.get("pod") or {}
        keys = ("recipient_name", "recipient_relation", "signature_url", "photo_urls")
    if msg in statuses and isinstance(pod, dict):
        order_id, at = statuses[msg]
        photos = pod.get(keys[3]) or []
        out.append(CarrierPod(order_id, at, pod.get(keys[0]) or None, pod.get(keys[1]) or None,
                              pod.get(keys[2]) or None, tuple(str(p) for p in photos if p),
                              _float(pod.get("lat")), _float(pod.get("lng")), msg))
    return out


@dataclass
class Compliance:
    carrier_id: str
    deliveries: int = 0
    complete: int = 0
    missing: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Share (0..1) of deliveries with a complete POD; 0 without deliveries."""
        return self.complete / self.deliveries if self.deliveries else 0.0


def compliance(rows: list[tuple[str, str, bool]]) -> list[Compliance]:
    """Per carrier, from ``(carrier_id, order_id, complete)`` of each delivered order; sorted by carrier."""
    out: dict[str, Compliance] = {}
    for carrier_id, order_id, complete in rows:
        c = out.setdefault(carrier_id, Compliance(carrier_id))
        c.deliveries += 1
        if complete:
            c.complete += 1
        else:
            c.missing.append(order_id)
    return [out[k] for k in sorted(out)]
