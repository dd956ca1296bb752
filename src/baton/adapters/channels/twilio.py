"""SMS and WhatsApp through a Twilio-compatible Messages API, over :mod:`httpx`.

``POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`` with form fields ``To``,
``From``, ``Body`` and ``StatusCallback``, HTTP basic auth ``account_sid:auth_token``; the
message id goes in the ``Idempotency-Key`` header (and ``I-Twilio-Idempotency-Token``). WhatsApp
numbers are prefixed ``whatsapp:``. ``base_url`` is configurable (Twilio: ``https://api.twilio.com``;
any compatible provider or a local fake).

Delivery receipts: the provider POSTs ``MessageSid``/``MessageStatus`` to the status callback,
signed with ``X-Twilio-Signature`` (base64 HMAC-SHA1 of the URL followed by the sorted
form fields, keyed with the auth token): check it with :func:`valid_signature`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from baton.adapters.channels.base import (
    OutgoingMessage,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
)

#: Twilio ``MessageStatus`` values → Baton message status.
STATUS_MAP = {"queued": "sent", "accepted": "sent", "sending": "sent", "sent": "sent", "delivered": "delivered",
              "read": "delivered", "undelivered": "failed", "failed": "failed"}


def signature(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """Twilio's request signature for ``url`` and form ``params``."""
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def valid_signature(url: str, params: Mapping[str, str], auth_token: str, header: str | None) -> bool:
    """True when ``header`` (``X-Twilio-Signature``) signs ``url`` + ``params`` with ``auth_token``."""
    return bool(header) and hmac.compare_digest(signature(url, params, auth_token), header or "")


@dataclass
class TwilioChannel:
    """One sender identity (``from_number``, E.164) on one account; ``whatsapp=True`` for WhatsApp."""

    base_url: str
    account_sid: str
    auth_token: str
    from_number: str
    whatsapp: bool = False
    status_callback: str | None = None
    timeout_s: float = 10.0
    client: httpx.Client = field(default_factory=httpx.Client)

    def _address(self, number: str) -> str:
        return f"whatsapp:{number}" if self.whatsapp and not number.startswith("whatsapp:") else number

    def send(self, message: OutgoingMessage) -> SendResult:
        """Create the message at the provider.

        Raises:
            TransientChannelError: network error, timeout, HTTP 429 or 5xx.
            PermanentChannelError: any other HTTP 4xx (e.g. Twilio 21211 invalid ``To`` number).
        """
        url = f"{self.base_url.rstrip('/')}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        data = {"To": self._address(message.recipient), "From": self._address(message.sender or self.from_number),
                "Body": message.body}
        if self.status_callback:
            data["StatusCallback"] = self.status_callback
        headers = {"Idempotency-Key": message.message_id, "I-Twilio-Idempotency-Token": message.message_id}
        try:
            resp = self.client.post(url, data=data, headers=headers, auth=(self.account_sid, self.auth_token),
                                    timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise TransientChannelError(f"provider unreachable: {exc}") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransientChannelError(f"provider HTTP {resp.status_code}: {resp.text[:200]}", resp.status_code)
        if resp.status_code >= 400:
            try:
                body = resp.json()
                code, text = body.get("code", resp.status_code), body.get("message", resp.text)
            except ValueError:
                code, text = resp.status_code, resp.text
            raise PermanentChannelError(f"provider refused ({code}): {str(text)[:200]}", code)
        try:
            body = resp.json()
            sid = str(body["sid"])
        except (ValueError, KeyError):
            raise TransientChannelError(f"provider answered without a message sid: {resp.text[:200]}") from None
        return SendResult(provider_id=sid, status=STATUS_MAP.get(str(body.get("status", "queued")), "sent"))
