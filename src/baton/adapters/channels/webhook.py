"""Outbound webhooks for businesses that send their own messages.

``POST`` of the message body (JSON) to the organisation's URL with headers
``X-Baton-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``,
``Idempotency-Key: <message id>`` and ``X-Baton-Message-Id``. The receiver checks the
signature with :func:`verify` (and rejects old timestamps against replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field

import httpx

from baton.adapters.channels.base import (
    OutgoingMessage,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
)


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``X-Baton-Signature`` header value for ``body`` at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(body: bytes, header: str, secret: str, now: float | None = None, tolerance_s: int = 300) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is at most ``tolerance_s`` seconds old."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(body, secret, ts), header)


@dataclass
class WebhookChannel:
    """Posts to ``message.recipient`` (the URL), signed with ``secret``."""

    secret: str
    timeout_s: float = 10.0
    client: httpx.Client = field(default_factory=httpx.Client)

    def send(self, message: OutgoingMessage) -> SendResult:
        """Deliver the webhook.

        Raises:
            TransientChannelError: network error, timeout, HTTP 408/429/5xx.
            PermanentChannelError: any other HTTP 4xx.
        """
        body = message.body.encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.message_id,
                   "X-Baton-Message-Id": message.message_id,
                   "X-Baton-Signature": sign(body, self.secret, int(time.time()))}
        try:
            resp = self.client.post(message.recipient, content=body, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise TransientChannelError(f"webhook unreachable: {exc}") from None
        if resp.status_code in (408, 429) or resp.status_code >= 500:
            raise TransientChannelError(f"webhook HTTP {resp.status_code}", resp.status_code)
        if resp.status_code >= 400:
            raise PermanentChannelError(f"webhook refused: HTTP {resp.status_code}", resp.status_code)
        return SendResult(provider_id=resp.headers.get("X-Request-Id", message.message_id), status="sent")
