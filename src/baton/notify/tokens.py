"""Signed, expiring tracking links: ``/t/<token>``.

A token is ``<payload>.<signature>``: the payload is base64url JSON ``{"o": order id,
"g": organisation, "e": expiry (Unix seconds)}``, the signature the first 128 bits of
HMAC-SHA256 over the payload with the organisation's ``signing_secret``, base64url. Tokens
are unguessable without the secret, tamper-evident and expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime


class TokenError(ValueError):
    """The token is malformed, tampered with (``reason="invalid"``) or expired (``reason="expired"``)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"tracking link {reason}")


@dataclass(frozen=True)
class TrackingClaim:
    order_id: str
    org_id: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, secret: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:16])


def make_token(order_id: str, org_id: str, expires_at: datetime, secret: str) -> str:
    """A token for ``order_id`` valid until ``expires_at`` (aware).

    Raises:
        ValueError: when ``secret`` is empty.
    """
    if not secret:
        raise ValueError("signing_secret must not be empty")
    body = json.dumps({"o": order_id, "g": org_id, "e": int(expires_at.timestamp())}, separators=(",", ":"))
    payload = _b64(body.encode())
    return f"{payload}.{_sign(payload, secret)}"


def read_claim(token: str) -> TrackingClaim:
    """The token's claim, *unverified* (to find the organisation whose secret verifies it).

    Raises:
        TokenError: ``invalid`` when the token is malformed.
    """
    try:
        payload, _ = token.split(".", 1)
        data = json.loads(_unb64(payload))
        return TrackingClaim(str(data["o"]), str(data["g"]), int(data["e"]))
    except (ValueError, KeyError, TypeError):
        raise TokenError("invalid") from None


def verify_token(token: str, secret: str, now: datetime) -> TrackingClaim:
    """The verified claim of ``token``.

    Raises:
        TokenError: ``invalid`` (malformed or bad signature) or ``expired`` (after ``expires_at``).
    """
    claim = read_claim(token)
    payload, _, signature = token.partition(".")
    if not secret or not hmac.compare_digest(signature, _sign(payload, secret)):
        raise TokenError("invalid")
    if now.timestamp() > claim.expires_at:
        raise TokenError("expired")
    return claim
