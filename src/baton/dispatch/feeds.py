"""Inbound carrier status feeds: authenticate, parse and normalise carriers' messages.

Three formats (a carrier's ``feed_format``), all authenticated with HMAC-SHA256 of the raw body
under the carrier's ``webhook_secret``, hex-encoded, in a header:

* ``generic`` — Baton's JSON webhook, header ``X-Baton-Signature: sha256=<hex>``::

      {"message_id": "m-1", "order_id": "o-1", "status": "delivered",
       "occurred_at": "2026-03-02T10:15:00-03:00", "reason": null}

  ``status`` in Baton's vocabulary: ``picked_up``, ``out_for_delivery``, ``delivered``,
  ``failed_attempt``, ``returned``.
* ``rapido`` — a Brazilian 3PL's JSON, header ``X-Rapido-Assinatura: <hex>``::

      {"evento": {"id": "ev-9", "pedido": "o-1", "codigo": "ENT", "data_hora": "2026-03-02T10:15:00-03:00",
                  "motivo": "cliente ausente"}}

  codes ``COL`` (coletado), ``ROT`` (em rota), ``ENT`` (entregue), ``INS`` (insucesso), ``DEV`` (devolvido).
* ``flashbox`` — CSV batches, header ``X-Flashbox-Signature: <hex>``; columns
  ``msg,ref,state,ts,note`` with ``ts`` in Unix seconds and ``state`` in ``PICKUP``, ``ON_ROUTE``,
  ``DELIVERED``, ``FAILED``, ``RETURNED``.

:func:`parse_feed` returns :class:`StatusUpdate` values or raises :class:`FeedError` whose
``status_code`` is 401 (authentication) or 400 (malformed) and whose message names the field.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from baton.dispatch.carriers import Carrier

STATUSES = ("picked_up", "out_for_delivery", "delivered", "failed_attempt", "returned")
RAPIDO_CODES = {"COL": "picked_up", "ROT": "out_for_delivery", "ENT": "delivered", "INS": "failed_attempt",
                "DEV": "returned"}
FLASHBOX_STATES = {"PICKUP": "picked_up", "ON_ROUTE": "out_for_delivery", "DELIVERED": "delivered",
                   "FAILED": "failed_attempt", "RETURNED": "returned"}
SIGNATURE_HEADERS = {"generic": "x-baton-signature", "rapido": "x-rapido-assinatura",
                     "flashbox": "x-flashbox-signature"}


class FeedError(ValueError):
    """A status message was refused: ``status_code`` 401 (unauthenticated) or 400 (malformed)."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        self.status_code = status_code
        super().__init__(message)


@dataclass(frozen=True)
class StatusUpdate:
    """A carrier status normalised to Baton's vocabulary (:data:`STATUSES`); ``occurred_at`` aware."""

    carrier_id: str
    message_id: str
    order_id: str
    status: str
    external_status: str
    occurred_at: datetime
    reason: str | None = None


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body`` under ``secret`` (what a carrier puts in its signature header)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def authenticate(carrier: Carrier, body: bytes, headers: dict[str, str]) -> None:
    """Check the signature header of ``carrier``'s feed format.

    Raises:
        FeedError: 401 when the carrier has no secret, the header is missing or the signature is wrong.
    """
    name = SIGNATURE_HEADERS[carrier.feed_format]
    lower = {k.lower(): v for k, v in headers.items()}
    if not carrier.webhook_secret:
        raise FeedError(f"carrier {carrier.id} has no webhook_secret configured; refusing its feed", 401)
    given = lower.get(name)
    if not given:
        raise FeedError(f"missing signature header {name}", 401)
    given = given.removeprefix("sha256=")
    if not hmac.compare_digest(given, sign(carrier.webhook_secret, body)):
        raise FeedError(f"bad signature in {name}", 401)


def _instant(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise FeedError(f"{field}: must be an ISO 8601 instant with offset, got {value!r}")
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise FeedError(f"{field}: not an ISO 8601 instant: {value!r}") from exc
    if at.tzinfo is None:
        raise FeedError(f"{field}: needs a UTC offset, got {value!r}")
    return at


def _text(obj: dict[str, Any], key: str, prefix: str = "") -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise FeedError(f"{prefix}{key}: required non-empty string, got {value!r}")
    return value.strip()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise FeedError(f"body is not valid JSON: {exc}") from exc


def _generic(carrier: Carrier, body: bytes) -> list[StatusUpdate]:
    data = _json(body)
    if not isinstance(data, dict):
        raise FeedError("body must be a JSON object")
    status = _text(data, "status")
    if status not in STATUSES:
        raise FeedError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    reason = data.get("reason")
    return [StatusUpdate(carrier.id, _text(data, "message_id"), _text(data, "order_id"), status, status,
                         _instant(data.get("occurred_at"), "occurred_at"), str(reason) if reason else None)]


def _rapido(carrier: Carrier, body: bytes) -> list[StatusUpdate]:
    data = _json(body)
    event = data.get("evento") if isinstance(data, dict) else None
    if not isinstance(event, dict):
        raise FeedError("evento: required object")
    code = _text(event, "codigo", "evento.")
    if code not in RAPIDO_CODES:
        raise FeedError(f"evento.codigo: unknown code {code!r} (known: {', '.join(RAPIDO_CODES)})")
    motivo = event.get("motivo")
    return [StatusUpdate(carrier.id, _text(event, "id", "evento."), _text(event, "pedido", "evento."),
                         RAPIDO_CODES[code], code, _instant(event.get("data_hora"), "evento.data_hora"),
                         str(motivo) if motivo else None)]


def _flashbox(carrier: Carrier, body: bytes) -> list[StatusUpdate]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FeedError("body is not UTF-8 text") from exc
    reader = csv.DictReader(io.StringIO(text))
    needed = {"msg", "ref", "state", "ts"}
    if reader.fieldnames is None or not needed <= set(reader.fieldnames):
        raise FeedError(f"CSV header must contain {', '.join(sorted(needed))}, got {reader.fieldnames}")
    out = []
    for i, row in enumerate(reader, start=2):
        state = (row.get("state") or "").strip()
        if state not in FLASHBOX_STATES:
            raise FeedError(f"line {i}: state: unknown {state!r} (known: {', '.join(FLASHBOX_STATES)})")
        try:
            at = datetime.fromtimestamp(int(row.get("ts") or ""), UTC)
        except ValueError as exc:
            raise FeedError(f"line {i}: ts: must be Unix seconds, got {row.get('ts')!r}") from exc
        for key in ("msg", "ref"):
            if not (row.get(key) or "").strip():
                raise FeedError(f"line {i}: {key}: required")
        note = (row.get("note") or "").strip()
        out.append(StatusUpdate(carrier.id, row["msg"].strip(), row["ref"].strip(), FLASHBOX_STATES[state], state,
                                at, note or None))
    if not out:
        raise FeedError("CSV has no rows")
    return out


PARSERS = {"generic": _generic, "rapido": _rapido, "flashbox": _flashbox}


def parse_feed(carrier: Carrier, body: bytes, headers: dict[str, str]) -> list[StatusUpdate]:
    """Authenticate and normalise one inbound message (or CSV batch) from ``carrier``.

    Raises:
        FeedError: 401 on authentication failure, 400 on a malformed message (names the field).
    """
    authenticate(carrier, body, headers)
    return PARSERS[carrier.feed_format](carrier, body)
