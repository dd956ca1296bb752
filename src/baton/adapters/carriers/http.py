"""The HTTP carrier adapter: offer tenders to a carrier's API, withdraw them, probe its health.

Baton's carrier tender protocol (JSON over HTTP; a carrier's ``endpoint`` is the base URL)::

    POST   {endpoint}/tenders            body: TenderRequest.to_json()
           -> 200 {"tender_id": ..., "decision": "accepted" | "rejected" | "pending", "reason": "..."}
    DELETE {endpoint}/tenders/{tender_id}  -> 200/204/404 (withdraw; best effort)
    GET    {endpoint}/health              -> 200 {"status": "ok"}

``pending`` means the carrier answers later through ``POST /dispatch/tenders/{id}/response``
(see :mod:`baton.entrypoints.api_dispatch`). Transport errors and 5xx answers are retried with
exponential back-off (tenacity); when retries are exhausted :class:`CarrierUnavailable` is raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential


class CarrierUnavailable(Exception):
    """The carrier could not be reached or answered with a server error (after retries)."""


class CarrierProtocolError(Exception):
    """The carrier answered, but not in the tender protocol (bad status code or body)."""


class _Retryable(Exception):
    pass


@dataclass(frozen=True)
class TenderRequest:
    """What is offered: ids, drop-off ``(lat, lng)`` degrees, parcels, kg, SLA, deadline (ISO 8601),
    price offered in ``currency``."""

    tender_id: str
    order_id: str
    lat: float
    lng: float
    parcels: int
    weight_kg: float
    sla: str
    expires_at: str
    price: float
    currency: str

    def to_json(self) -> dict[str, Any]:
        return {"tender_id": self.tender_id, "order_id": self.order_id,
                "dropoff": {"lat": self.lat, "lng": self.lng}, "parcels": self.parcels,
                "weight_kg": self.weight_kg, "sla": self.sla, "expires_at": self.expires_at,
                "price": self.price, "currency": self.currency}


@dataclass(frozen=True)
class TenderAnswer:
    decision: str
    reason: str = ""


class HttpCarrierClient:
    """Talks to carriers' tender APIs. ``timeout_s`` per request; ``attempts`` tries per call
    (``backoff_s`` initial wait, doubled each retry)."""

    def __init__(self, timeout_s: float = 2.0, attempts: int = 3, backoff_s: float = 0.05,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._client = httpx.Client(timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, url: str, json: dict[str, Any] | None = None) -> httpx.Response:
        @retry(stop=stop_after_attempt(self.attempts), reraise=True,
               wait=wait_exponential(multiplier=self.backoff_s, max=self.backoff_s * 8),
               retry=retry_if_exception_type(_Retryable))
        def once() -> httpx.Response:
            try:
                response = self._client.request(method, url, json=json)
            except httpx.TransportError as exc:
                raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
            if response.status_code >= 500:
                raise _Retryable(f"HTTP {response.status_code}")
            return response

        try:
            return once()
        except _Retryable as exc:
            raise CarrierUnavailable(f"{method} {url}: {exc} (after {self.attempts} attempts)") from exc

    def offer(self, endpoint: str, request: TenderRequest) -> TenderAnswer:
        """Offer a tender; the carrier decides now (``accepted``/``rejected``) or later (``pending``).

        Raises:
            CarrierUnavailable: unreachable or 5xx after retries.
            CarrierProtocolError: a 4xx or a body without a valid ``decision``.
        """
        response = self._call("POST", f"{endpoint.rstrip('/')}/tenders", request.to_json())
        if response.status_code >= 400:
            raise CarrierProtocolError(f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            body = response.json()
            decision = body["decision"]
        except (ValueError, KeyError, TypeError) as exc:
            raise CarrierProtocolError(f"answer without 'decision': {response.text[:200]}") from exc
        if decision not in ("accepted", "rejected", "pending"):
            raise CarrierProtocolError(f"unknown decision {decision!r}")
        return TenderAnswer(decision, str(body.get("reason") or ""))

    def withdraw(self, endpoint: str, tender_id: str) -> bool:
        """Best-effort withdrawal; ``False`` when the carrier could not be told."""
        try:
            self._call("DELETE", f"{endpoint.rstrip('/')}/tenders/{tender_id}")
        except CarrierUnavailable:
            return False
        return True

    def healthy(self, endpoint: str) -> bool:
        """One health probe (no retries beyond the client's): ``True`` on HTTP 200."""
        try:
            return self._call("GET", f"{endpoint.rstrip('/')}/health").status_code == 200
        except CarrierUnavailable:
            return False
